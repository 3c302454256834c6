//! `.npy` matrices of conditioning vectors: 2-D, float32 or float64, one row per image.
//! Errors name the file.

use std::path::Path;

use npyz::WriterBuilder;

/// A problem with a file of this format.
pub type NpyError = crate::FileError;

fn data_err(path: &Path, problem: impl Into<String>) -> NpyError {
    crate::FileError::new(path, problem)
}

/// Returns (row-major values, rows, columns).
pub fn read_matrix(path: &Path) -> Result<(Vec<f32>, usize, usize), NpyError> {
    let bytes = std::fs::read(path).map_err(|e| data_err(path, e.to_string()))?;
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| data_err(path, format!("not a .npy file: {e}")))?;
    let shape = npy.shape().to_vec();
    if shape.len() != 2 {
        return Err(data_err(
            path,
            format!("expected a 2-D array (rows x dim), got shape {shape:?}"),
        ));
    }
    if npy.order() != npyz::Order::C {
        return Err(data_err(path, "expected C (row-major) order"));
    }
    let (rows, cols) = (shape[0] as usize, shape[1] as usize);
    let dtype = npy.dtype();
    let values: Vec<f32> = match dtype.descr().trim_matches('\'') {
        "<f4" => npy.into_vec::<f32>().map_err(|e| data_err(path, e.to_string()))?,
        "<f8" => npy
            .into_vec::<f64>()
            .map_err(|e| data_err(path, e.to_string()))?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        other => return Err(data_err(path, format!("dtype {other}: expected float32 or float64"))),
    };
    if values.len() != rows * cols {
        return Err(data_err(path, "truncated data"));
    }
    Ok((values, rows, cols))
}

/// Writes any plain array (`[shape]`, row-major) as `.npy`.
pub fn write_array<T: npyz::AutoSerialize + Copy>(path: &Path, shape: &[usize], values: &[T]) -> Result<(), NpyError> {
    let e = |e: std::io::Error| data_err(path, e.to_string());
    let file = std::fs::File::create(path).map_err(e)?;
    let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&dims)
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .map_err(e)?;
    w.extend(values.iter().copied()).map_err(e)?;
    w.finish().map_err(e)
}

/// Writes a float32 matrix as `.npy`.
pub fn write_matrix(path: &Path, values: &[f32], rows: usize, cols: usize) -> Result<(), NpyError> {
    write_array(path, &[rows, cols], values)
}

/// Writes uint8 images `[n, C, H, W]` as `.npy`.
pub fn write_images(path: &Path, values: &[u8], shape: [usize; 4]) -> Result<(), NpyError> {
    write_array(path, &shape, values)
}

/// Reads uint8 images for a model of `[C, H, W]`: `[N, C, H, W]`, or one image as
/// `[C, H, W]` (or `[H, W]` when C = 1). The claimed shape is checked against the file's
/// size before any data is read.
pub fn read_images(path: &Path, chw: [usize; 3]) -> Result<Vec<u8>, NpyError> {
    let bytes = std::fs::read(path).map_err(|e| data_err(path, e.to_string()))?;
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| data_err(path, format!("not a .npy file: {e}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let [c, h, w] = chw;
    let n = match shape.as_slice() {
        [n, sc, sh, sw] if [*sc, *sh, *sw] == chw => *n,
        [sc, sh, sw] if [*sc, *sh, *sw] == chw => 1,
        [sh, sw] if c == 1 && [*sh, *sw] == [h, w] => 1,
        _ => {
            return Err(data_err(
                path,
                format!("shape {shape:?}: expected [N, {c}, {h}, {w}] uint8 images"),
            ))
        }
    };
    if npy.dtype().descr().trim_matches('\'') != "|u1" {
        return Err(data_err(path, format!("dtype {}: expected uint8", npy.dtype().descr())));
    }
    if npy.order() != npyz::Order::C {
        return Err(data_err(path, "expected C (row-major) order"));
    }
    let want = n.checked_mul(c * h * w).filter(|&v| v <= bytes.len());
    if want.is_none() {
        return Err(data_err(
            path,
            format!("{n} images of {c}x{h}x{w} do not fit in {} bytes", bytes.len()),
        ));
    }
    let values = npy.into_vec::<u8>().map_err(|e| data_err(path, e.to_string()))?;
    if Some(values.len()) != want {
        return Err(data_err(path, "truncated data"));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.npy");
        write_matrix(&p, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3).unwrap();
        assert_eq!(read_matrix(&p).unwrap(), (vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3));
        let bad = dir.path().join("bad.npy");
        std::fs::write(&bad, b"hello").unwrap();
        assert!(read_matrix(&bad).unwrap_err().to_string().contains("bad.npy"));
    }
}
