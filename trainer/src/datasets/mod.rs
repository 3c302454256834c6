//! Datasets in memory: uint8 images `[N, C, H, W]`, labels, and optional conditioning
//! vectors. One reader per file format, each rejecting bad files with an error that
//! names the file and the problem.

pub mod cifar;
pub mod folder;
pub mod idx;

use std::path::{Path, PathBuf};

use pixelcnn_models::{Conditioning, ModelSpec};

/// A bad data file, named, with what was wrong.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct DataError {
    pub path: PathBuf,
    pub problem: String,
}

pub(crate) fn data_err(path: &Path, problem: impl Into<String>) -> DataError {
    DataError {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// Images with their labels and (for vector/spatial conditioning) vectors.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// `[N, C, H, W]` row-major.
    pub images: Vec<u8>,
    pub labels: Vec<u32>,
    /// `[N, dim]` row-major.
    pub vectors: Option<(Vec<f32>, usize)>,
    /// Where the images came from (for error messages).
    pub source: PathBuf,
}

impl Dataset {
    /// No items yet, of images `channels x height x width` read from `source`.
    pub fn empty(source: &Path, channels: usize, height: usize, width: usize) -> Self {
        Self {
            channels,
            height,
            width,
            images: Vec::new(),
            labels: Vec::new(),
            vectors: None,
            source: source.to_path_buf(),
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn image_size(&self) -> usize {
        self.channels * self.height * self.width
    }

    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_size();
        &self.images[i * n..(i + 1) * n]
    }

    /// Keeps the first `n` items.
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            let size = self.image_size();
            self.images.truncate(n * size);
            self.labels.truncate(n);
            if let Some((v, d)) = &mut self.vectors {
                v.truncate(n * *d);
            }
        }
    }

    /// Attaches conditioning vectors from a `.npy` file (one row per image).
    pub fn attach_vectors(&mut self, path: &Path) -> Result<(), DataError> {
        let (values, rows, dim) = pixelcnn_core::npy::read_matrix(path).map_err(|e| data_err(&e.path, e.problem))?;
        if rows != self.len() {
            return Err(data_err(
                path,
                format!(
                    "has {rows} rows but {} has {} images: expected one row per image",
                    self.source.display(),
                    self.len()
                ),
            ));
        }
        self.vectors = Some((values, dim));
        Ok(())
    }

    /// Checks that this dataset fits a model: image shape, label range, vectors.
    pub fn check_against(&self, spec: &ModelSpec) -> Result<(), DataError> {
        let (c, h, w) = (self.channels, self.height, self.width);
        let problem = match spec.decoder_conditioning() {
            _ if (c, h, w) != (spec.channels, spec.height, spec.width) => format!(
                "images are {c}x{h}x{w} (CxHxW) but the model expects {}x{}x{}",
                spec.channels, spec.height, spec.width
            ),
            Conditioning::Class { classes } => {
                let bad = self.labels.iter().enumerate().find(|(_, &l)| l as usize >= classes);
                let Some((i, l)) = bad else { return Ok(()) };
                format!("label {l} of item {i} is out of range 0..={}", classes - 1)
            }
            Conditioning::Vector { dim } | Conditioning::Spatial { dim, .. } if spec.encoder.is_none() => {
                match &self.vectors {
                    None => format!(
                        "the model is conditioned on {dim}-dim vectors: set data.train_vectors/test_vectors \
                         (.npy, one row per image)"
                    ),
                    Some((_, d)) if *d != dim => {
                        format!("conditioning vectors have {d} columns, the model expects {dim}")
                    }
                    Some(_) => return Ok(()),
                }
            }
            _ => return Ok(()),
        };
        Err(data_err(&self.source, problem))
    }
}
