//! MNIST / Fashion-MNIST IDX files (big-endian header, magic 0x00000801 labels,
//! 0x00000803 images), raw or gzipped.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{data_err, DataError, Dataset};

/// Reads a whole file, un-gzipping it if it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| data_err(path, e.to_string()))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| data_err(path, format!("bad gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses an IDX image file: returns (count, rows, cols, pixels).
pub fn parse_images(path: &Path, b: &[u8]) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    if b.len() < 16 {
        return Err(data_err(
            path,
            format!("truncated: {} bytes, an IDX image header needs 16", b.len()),
        ));
    }
    let magic = be_u32(b, 0);
    if magic != 0x0803 {
        return Err(data_err(
            path,
            format!("wrong magic {magic:#010x}: expected 0x00000803 (IDX uint8 images)"),
        ));
    }
    let (n, r, c) = (be_u32(b, 4) as usize, be_u32(b, 8) as usize, be_u32(b, 12) as usize);
    let want = 16 + n * r * c;
    if b.len() != want {
        return Err(data_err(
            path,
            format!(
                "truncated or padded: {n} images of {r}x{c} need {want} bytes, file has {}",
                b.len()
            ),
        ));
    }
    Ok((n, r, c, b[16..].to_vec()))
}

/// Parses an IDX label file.
pub fn parse_labels(path: &Path, b: &[u8]) -> Result<Vec<u32>, DataError> {
    if b.len() < 8 {
        return Err(data_err(
            path,
            format!("truncated: {} bytes, an IDX label header needs 8", b.len()),
        ));
    }
    let magic = be_u32(b, 0);
    if magic != 0x0801 {
        return Err(data_err(
            path,
            format!("wrong magic {magic:#010x}: expected 0x00000801 (IDX uint8 labels)"),
        ));
    }
    let n = be_u32(b, 4) as usize;
    if b.len() != 8 + n {
        return Err(data_err(
            path,
            format!(
                "truncated or padded: {n} labels need {} bytes, file has {}",
                8 + n,
                b.len()
            ),
        ));
    }
    Ok(b[8..].iter().map(|&v| v as u32).collect())
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
    let (n, r, c, images) = parse_images(&ipath, &read_maybe_gz(&ipath)?)?;
    let labels = parse_labels(&lpath, &read_maybe_gz(&lpath)?)?;
    if labels.len() != n {
        return Err(data_err(
            &lpath,
            format!("has {} labels but {} has {n} images", labels.len(), ipath.display()),
        ));
    }
    Ok(Dataset {
        channels: 1,
        height: r,
        width: c,
        images,
        labels,
        vectors: None,
        source: ipath,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(n: u32, r: u32, c: u32, extra: isize) -> Vec<u8> {
        let mut b = vec![0, 0, 8, 3];
        for v in [n, r, c] {
            b.extend(v.to_be_bytes());
        }
        let len = (n * r * c) as isize + extra;
        b.extend(std::iter::repeat_n(7u8, len.max(0) as usize));
        b
    }

    #[test]
    fn parses_a_valid_file() {
        let (n, r, c, px) = parse_images(Path::new("x"), &images(2, 3, 4, 0)).unwrap();
        assert_eq!((n, r, c, px.len()), (2, 3, 4, 24));
    }

    #[test]
    fn rejects_truncated_and_wrong_magic() {
        let e = parse_images(Path::new("imgs"), &images(2, 3, 4, -1)).unwrap_err();
        assert!(
            e.to_string().contains("imgs") && e.to_string().contains("truncated"),
            "{e}"
        );
        let mut b = images(1, 2, 2, 0);
        b[3] = 1;
        let e = parse_images(Path::new("imgs"), &b).unwrap_err();
        assert!(e.to_string().contains("wrong magic"), "{e}");
        let e = parse_labels(Path::new("lbl"), &[0, 0, 8, 1, 0, 0, 0, 5, 1, 2]).unwrap_err();
        assert!(e.to_string().contains("5 labels"), "{e}");
    }
}
