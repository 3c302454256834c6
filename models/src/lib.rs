//! Gated, conditional and baseline PixelCNN models (van den Oord et al. 2016,
//! "Conditional Image Generation with PixelCNN Decoders") as backend-generic burn
//! modules, plus [`ModelSpec`], the one description of a model shared by the trainer,
//! the exporter and the runtime.
//!
//! One file per concept: [`spec`], [`masks`], [`conv`], [`conditioning`], [`gated`],
//! [`baseline`], [`autoencoder`], [`head`], and [`model`] which ties them together.

pub mod autoencoder;
pub mod backend;
pub mod baseline;
pub mod checkpoint;
pub mod conditioning;
pub mod conv;
pub mod fused;
pub mod gated;
pub mod head;
pub mod legacy;
pub mod lower;
pub mod masks;
pub mod model;
pub mod rows;
pub mod sample;
pub mod spatialize;
mod surgery;
pub mod widen;

pub use conditioning::Condition;
pub use model::{bits_per_dim, nll_nats, Decoder, PixelModel};
pub use pixelcnn_core::CondInput;
pub use pixelcnn_core::{contract, spec};
pub use spec::{Arch, Conditioning, EncoderSpec, ModelSpec, LEVELS};
