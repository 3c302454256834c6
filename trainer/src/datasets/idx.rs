//! MNIST / Fashion-MNIST IDX files (big-endian header, magic 0x00000801 labels,
//! 0x00000803 images), raw or gzipped.

use std::path::{Path, PathBuf};

use pixelcnn_core::idx::{self, IdxError};

use super::{data_err, DataError, Dataset};

impl From<IdxError> for DataError {
    fn from(e: IdxError) -> Self {
        data_err(&e.path, e.problem)
    }
}

/// Finds `name` or `name.gz` in `dir`.
pub fn find(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    for cand in [dir.join(name), dir.join(format!("{name}.gz"))] {
        if cand.exists() {
            return Ok(cand);
        }
    }
    Err(data_err(
        dir,
        format!(
            "no `{name}` or `{name}.gz` here (run scripts/fetch-data.sh, or point data.path at the official IDX files)"
        ),
    ))
}

/// Loads one split (`train` or `t10k` file prefix) of an MNIST-style directory.
pub fn load_split(dir: &Path, prefix: &str) -> Result<Dataset, DataError> {
    let ipath = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let lpath = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = idx::read_images(&ipath)?;
    let labels = idx::parse_labels(&lpath, &idx::read_maybe_gz(&lpath)?)?;
    if labels.len() != images.count {
        return Err(data_err(
            &lpath,
            format!(
                "has {} labels but {} has {} images",
                labels.len(),
                ipath.display(),
                images.count
            ),
        ));
    }
    let ds = Dataset::empty(&ipath, 1, images.rows, images.cols);
    Ok(Dataset {
        images: images.pixels,
        labels,
        ..ds
    })
}
