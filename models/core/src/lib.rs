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

/// A file that cannot be read or written as expected: the file and what was wrong
/// (IDX, `.npy` and image files).
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct FileError {
    pub path: std::path::PathBuf,
    pub problem: String,
}

impl FileError {
    pub fn new(path: &std::path::Path, problem: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}
pub use spec::{Arch, Conditioning, EncoderSpec, ModelSpec, LEVELS};
