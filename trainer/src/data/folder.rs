//! Image folders: `DIR/<class>/*.png|jpg`, one subfolder per class (sorted names give
//! label numbers). Each image is resized (keeping aspect, centre-cropped) to H x W and
//! converted to the model's channel count.

use std::path::Path;

use image::imageops::FilterType;

use super::{data_err, DataError, Dataset};

pub fn load(dir: &Path, channels: usize, height: usize, width: usize) -> Result<Dataset, DataError> {
    let mut classes: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| data_err(dir, e.to_string()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.path())
        .collect();
    classes.sort();
    if classes.is_empty() {
        return Err(data_err(dir, "no class subfolders: expected DIR/<class>/<image files>"));
    }
    let mut ds = Dataset {
        channels,
        height,
        width,
        images: Vec::new(),
        labels: Vec::new(),
        vectors: None,
        source: dir.to_path_buf(),
    };
    for (label, class_dir) in classes.iter().enumerate() {
        let mut files: Vec<_> = std::fs::read_dir(class_dir)
            .map_err(|e| data_err(class_dir, e.to_string()))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
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
