//! Training PixelCNN models: YAML configs, dataset readers, the training loop with
//! atomic checkpoints and exact resume, evaluation in bits/dim, and sampling (burn cached steps; the naive full network as reference).
//! The `trainer` binary is a thin CLI over this library.

pub mod batch;
pub mod cli;
pub mod config;
pub mod datasets;
pub mod ema;
pub mod eval;
pub mod fit;
pub mod plot;
pub mod sample;

pub use config::TrainConfig;
pub use fit::{fit, FitOptions, FitSummary};
