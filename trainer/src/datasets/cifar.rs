//! CIFAR-10 binary batches: records of 1 label byte + 3072 bytes (R, G, B planes of 32x32).

use std::path::Path;

use super::{data_err, DataError, Dataset};

pub const RECORD: usize = 1 + 3 * 32 * 32;

/// Parses one batch file's bytes.
pub fn parse_batch(path: &Path, b: &[u8], ds: &mut Dataset) -> Result<(), DataError> {
    if b.is_empty() || !b.len().is_multiple_of(RECORD) {
        return Err(data_err(
            path,
            format!(
                "size {} is not a multiple of the {RECORD}-byte CIFAR-10 record (truncated?)",
                b.len()
            ),
        ));
    }
    for (i, rec) in b.chunks(RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(data_err(
                path,
                format!("record {i}: label {} is out of range 0..=9", rec[0]),
            ));
        }
        ds.labels.push(rec[0] as u32);
        ds.images.extend_from_slice(&rec[1..]);
    }
    Ok(())
}

/// Loads the train (`data_batch_1..5.bin`) or test (`test_batch.bin`) split of a
/// `cifar-10-batches-bin` directory.
pub fn load_split(dir: &Path, train: bool) -> Result<Dataset, DataError> {
    let names: Vec<String> = if train {
        (1..=5).map(|i| format!("data_batch_{i}.bin")).collect()
    } else {
        vec!["test_batch.bin".into()]
    };
    let mut ds = Dataset::empty(dir, 3, 32, 32);
    for name in names {
        let path = dir.join(&name);
        let bytes =
            std::fs::read(&path).map_err(|e| data_err(&path, format!("{e} (expected the CIFAR-10 binary batches)")))?;
        parse_batch(&path, &bytes, &mut ds)?;
    }
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_labels_and_sizes() {
        let mut ds = Dataset::empty(Path::new("x"), 3, 32, 32);
        let mut rec = vec![3u8; RECORD];
        parse_batch(Path::new("b"), &rec, &mut ds).unwrap();
        assert_eq!(ds.labels, vec![3]);
        rec[0] = 12;
        assert!(parse_batch(Path::new("b"), &rec, &mut ds)
            .unwrap_err()
            .to_string()
            .contains("label 12"));
        assert!(parse_batch(Path::new("b"), &rec[1..], &mut ds)
            .unwrap_err()
            .to_string()
            .contains("multiple"));
    }
}
