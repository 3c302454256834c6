//! What every part of pixelcnn-deploy shares and nothing more, so the deployment side
//! (`pixelcnn-runtime`, the `sample` binary) builds without the training framework:
//!
//! - [`spec`]: [`ModelSpec`], the one description of a model that flows trainer ->
//!   checkpoint -> ONNX metadata -> runtime;
//! - [`cond`]: [`CondInput`], what a batch is conditioned on, as host data;
//! - [`contract`]: the `pixelcnn.contract` metadata of exported graphs;
//! - [`rng`]: the seeded sub-pixel sampling rule every runtime (and language) follows;
//! - [`idx`], [`npy`] and [`grid`]: IDX image files, `.npy` arrays and PNG images on disk;
//!   [`replace_file`]: a file written whole or not at all.

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

/// Writes `path` whole or not at all: a temporary file beside it (same directory, so the
/// rename stays on one file system), fsynced, then renamed over it. A crash or kill leaves
/// either the old contents or the new, never a truncated file.
pub fn replace_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), FileError> {
    use std::io::Write;
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        FileError::new(path, format!("cannot write: {e}"))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn replace_file_swaps_contents_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, "old").unwrap();
        super::replace_file(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let e = super::replace_file(&dir.path().join("missing/x"), b"y").unwrap_err();
        assert!(e.to_string().contains("missing/x"), "{e}");
    }
}
