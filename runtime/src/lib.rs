//! Runs exported PixelCNN ONNX graphs (ONNX Runtime through `ort`, and `tract`) behind
//! one `Sampler` trait; host-side seeded sampling; PNG grids.

pub mod cli;
pub mod codec;
pub mod codec_cli;
pub mod engine;
pub mod export;
pub mod gpu;
pub mod sampler;

pub use engine::{EngineKind, Graph, Input, Value};
pub use export::Export;
