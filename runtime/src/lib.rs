//! Runs exported PixelCNN ONNX graphs (ONNX Runtime through `ort`, and `tract`) behind
//! one `Sampler` trait; host-side seeded sampling; PNG grids.

pub mod grid;
pub mod rng;
