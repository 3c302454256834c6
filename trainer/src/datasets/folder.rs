//! Image folders: `DIR/<class>/*.png|jpg`, one subfolder per class (sorted names give
//! label numbers). Each image is resized (keeping aspect, centre-cropped) to H x W and
//! converted to the model's channel count.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use super::{data_err, DataError, Dataset};

pub fn load(dir: &Path, channels: usize, height: usize, width: usize) -> Result<Dataset, DataError> {
    let classes = sorted_entries(dir, Path::is_dir)?;
    if classes.is_empty() {
        return Err(data_err(dir, "no class subfolders: expected DIR/<class>/<image files>"));
    }
    let mut ds = Dataset::empty(dir, channels, height, width);
    for (label, class_dir) in classes.iter().enumerate() {
        for f in sorted_entries(class_dir, Path::is_file)? {
            let img = image::open(&f).map_err(|e| data_err(&f, format!("not a readable image: {e}")))?;
            let img = img.resize_to_fill(width as u32, height as u32, FilterType::Triangle);
            if channels == 1 {
                ds.images.extend(img.to_luma8().into_raw());
            } else {
                let rgb = img.to_rgb8();
                for c in 0..3 {
                    ds.images.extend(rgb.pixels().map(|p| p.0[c]));
                }
            }
            ds.labels.push(label as u32);
        }
    }
    if ds.is_empty() {
        return Err(data_err(dir, "class subfolders hold no images"));
    }
    Ok(ds)
}

/// The paths in `dir` that pass `keep`, sorted (unreadable entries are skipped).
fn sorted_entries(dir: &Path, keep: fn(&Path) -> bool) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| data_err(dir, e.to_string()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| keep(p))
        .collect();
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_class_folders_resized_and_names_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        for (class, shade) in [("cat", 40u8), ("dog", 200u8)] {
            std::fs::create_dir_all(dir.path().join(class)).unwrap();
            let img = image::RgbImage::from_pixel(40, 30, image::Rgb([shade, shade / 2, 7]));
            img.save(dir.path().join(class).join("a.png")).unwrap();
        }
        let ds = load(dir.path(), 3, 8, 8).unwrap();
        assert_eq!(ds.labels, vec![0, 1]);
        assert_eq!(ds.images.len(), 2 * 3 * 8 * 8);
        assert_eq!(ds.image(1)[0], 200); // R plane first
        assert_eq!(ds.image(1)[64], 100); // then G
        let gray = load(dir.path(), 1, 4, 4).unwrap();
        assert_eq!(gray.images.len(), 2 * 16);
        std::fs::write(dir.path().join("dog").join("broken.png"), b"not a png").unwrap();
        let e = load(dir.path(), 3, 8, 8).unwrap_err().to_string();
        assert!(e.contains("broken.png") && e.contains("not a readable image"), "{e}");
    }
}
