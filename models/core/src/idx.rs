//! MNIST / Fashion-MNIST IDX files (big-endian header; magic 0x00000803 for uint8
//! images, 0x00000801 for uint8 labels), raw or gzipped. Headers are checked against the
//! file's length before anything is allocated, so a corrupted count cannot exhaust memory.

use std::io::Read;
use std::path::Path;

/// A problem with a file of this format.
pub type IdxError = crate::FileError;

fn err(path: &Path, problem: impl Into<String>) -> IdxError {
    crate::FileError::new(path, problem)
}

/// Images `[count, rows, cols]` of an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// gzip streams are read at most this far (the official MNIST files are 47 MiB).
const MAX_UNZIPPED: u64 = 1 << 32;

/// Reads a whole file, un-gzipping it if it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, IdxError> {
    let raw = std::fs::read(path).map_err(|e| err(path, e.to_string()))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_UNZIPPED)
            .read_to_end(&mut out)
            .map_err(|e| err(path, format!("bad gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// Parses an IDX uint8 image file's bytes (`path` names it in errors).
pub fn parse_images(path: &Path, b: &[u8]) -> Result<IdxImages, IdxError> {
    if b.len() < 16 {
        return Err(err(
            path,
            format!("truncated: {} bytes, an IDX image header needs 16", b.len()),
        ));
    }
    let magic = be_u32(b, 0);
    if magic != 0x0803 {
        return Err(err(
            path,
            format!("wrong magic {magic:#010x}: expected 0x00000803 (IDX uint8 images)"),
        ));
    }
    let (count, rows, cols) = (be_u32(b, 4), be_u32(b, 8), be_u32(b, 12));
    let want = count
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .and_then(|v| v.checked_add(16));
    if want != Some(b.len()) {
        return Err(err(
            path,
            format!(
                "truncated or padded: {count} images of {rows}x{cols} need {} bytes, file has {}",
                want.map_or("more than 2^64".to_string(), |w| w.to_string()),
                b.len()
            ),
        ));
    }
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: b[16..].to_vec(),
    })
}

/// Parses an IDX uint8 label file's bytes.
pub fn parse_labels(path: &Path, b: &[u8]) -> Result<Vec<u32>, IdxError> {
    if b.len() < 8 {
        return Err(err(
            path,
            format!("truncated: {} bytes, an IDX label header needs 8", b.len()),
        ));
    }
    let magic = be_u32(b, 0);
    if magic != 0x0801 {
        return Err(err(
            path,
            format!("wrong magic {magic:#010x}: expected 0x00000801 (IDX uint8 labels)"),
        ));
    }
    let n = be_u32(b, 4);
    if b.len() - 8 != n {
        return Err(err(
            path,
            format!(
                "truncated or padded: {n} labels need {} bytes, file has {}",
                n + 8,
                b.len()
            ),
        ));
    }
    Ok(b[8..].iter().map(|&v| v as u32).collect())
}

/// Reads an IDX image file (raw or gzipped).
pub fn read_images(path: &Path) -> Result<IdxImages, IdxError> {
    parse_images(path, &read_maybe_gz(path)?)
}

/// Writes `count` images of `rows x cols` as an IDX uint8 image file.
pub fn write_images(path: &Path, pixels: &[u8], count: usize, rows: usize, cols: usize) -> Result<(), IdxError> {
    if pixels.len() != count * rows * cols {
        return Err(err(
            path,
            format!("{} bytes for {count} images of {rows}x{cols}", pixels.len()),
        ));
    }
    let mut b = Vec::with_capacity(16 + pixels.len());
    b.extend([0, 0, 8, 3]);
    for v in [count, rows, cols] {
        let v = u32::try_from(v).map_err(|_| err(path, format!("{v} does not fit an IDX header")))?;
        b.extend(v.to_be_bytes());
    }
    b.extend_from_slice(pixels);
    std::fs::write(path, b).map_err(|e| err(path, e.to_string()))
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
    fn parses_a_valid_file_and_writes_it_back() {
        let imgs = parse_images(Path::new("x"), &images(2, 3, 4, 0)).unwrap();
        assert_eq!((imgs.count, imgs.rows, imgs.cols, imgs.pixels.len()), (2, 3, 4, 24));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("i.idx");
        write_images(&p, &imgs.pixels, 2, 3, 4).unwrap();
        assert_eq!(read_images(&p).unwrap(), imgs);
    }

    #[test]
    fn rejects_truncated_oversized_and_wrong_magic() {
        let e = parse_images(Path::new("imgs"), &images(2, 3, 4, -1)).unwrap_err();
        assert!(
            e.to_string().contains("imgs") && e.to_string().contains("truncated"),
            "{e}"
        );
        let mut b = images(1, 2, 2, 0);
        b[3] = 1;
        assert!(parse_images(Path::new("imgs"), &b)
            .unwrap_err()
            .to_string()
            .contains("wrong magic"));
        // a header claiming 2^32-1 images of 2^32-1 x 2^32-1: an error, not an overflow
        let mut b = images(0, 0, 0, 0);
        b[4..16].fill(0xff);
        assert!(parse_images(Path::new("imgs"), &b)
            .unwrap_err()
            .to_string()
            .contains("2^64"));
        let e = parse_labels(Path::new("lbl"), &[0, 0, 8, 1, 0, 0, 0, 5, 1, 2]).unwrap_err();
        assert!(e.to_string().contains("5 labels"), "{e}");
    }
}
