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

/// The `main` of the `sample`, `compress` and `decompress` binaries: parses the command line
/// and runs it; an error is one `error: ...` line (causes after colons) and exit status 1.
pub fn main<C: clap::Parser>(run: fn(C) -> anyhow::Result<()>) {
    if let Err(e) = run(C::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
