//! What every part of pixelcnn-deploy shares and nothing more, so the deployment side
//! (`pixelcnn-runtime`, the `sample` binary) builds without the training framework:
//!
//! - [`spec`]: [`ModelSpec`], the one description of a model that flows trainer ->
//!   checkpoint -> ONNX metadata -> runtime;
//! - [`cond`]: [`CondInput`], what a batch is conditioned on, as host data;
//! - [`contract`]: the `pixelcnn.contract` metadata of exported graphs;
//! - [`rng`]: the seeded sub-pixel sampling rule every runtime (and language) follows;
//! - [`idx`], [`npy`] and [`grid`]: IDX image files, `.npy` arrays and PNG images on disk.

pub mod cond;
pub mod contract;
pub mod grid;
pub mod idx;
pub mod npy;
pub mod rng;
pub mod spec;

pub use cond::{CondError, CondInput};
pub use spec::{Arch, Conditioning, EncoderSpec, ModelSpec, LEVELS};
