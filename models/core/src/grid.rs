//! PNG grids of images `[N, C, H, W]` (uint8), one image per cell, 1-pixel gaps.

use std::path::Path;

/// A problem with a file of this format.
pub type ImageError = crate::FileError;

fn err(path: &Path, problem: impl Into<String>) -> ImageError {
    crate::FileError::new(path, problem)
}

/// Writes `images` `[n, c, h, w]` as a grid with `cols` columns (rows as needed), enlarged
/// `scale` times by nearest-neighbour (every pixel becomes a `scale x scale` block, so a
/// 28x28 digit stays sharp).
pub fn write_grid(
    path: &Path,
    images: &[u8],
    [n, c, h, w]: [usize; 4],
    cols: usize,
    scale: usize,
) -> Result<(), ImageError> {
    if !(1..=64).contains(&scale) {
        return Err(err(path, format!("grid scale must be 1..=64, got {scale}")));
    }
    if n == 0 || images.len() != n * c * h * w {
        let problem = format!("{} bytes for a grid of {n} images of {c}x{h}x{w}", images.len());
        return Err(err(path, problem));
    }
    let cols = cols.clamp(1, n);
    let rows = n.div_ceil(cols);
    let (gw, gh) = (cols * (w + 1) + 1, rows * (h + 1) + 1);
    let mut canvas = image::RgbImage::from_pixel(gw as u32, gh as u32, image::Rgb([40, 40, 40]));
    for k in 0..n {
        let img = &images[k * c * h * w..(k + 1) * c * h * w];
        let (ox, oy) = (1 + (k % cols) * (w + 1), 1 + (k / cols) * (h + 1));
        for i in 0..h {
            for j in 0..w {
                let px = |ch: usize| img[ch * h * w + i * w + j];
                let rgb = if c == 1 { [px(0); 3] } else { [px(0), px(1), px(2)] };
                canvas.put_pixel((ox + j) as u32, (oy + i) as u32, image::Rgb(rgb));
            }
        }
    }
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| err(dir, format!("cannot create the folder: {e}")))?;
        }
    }
    let canvas = if scale == 1 {
        canvas
    } else {
        let (sw, sh) = (canvas.width() * scale as u32, canvas.height() * scale as u32);
        image::imageops::resize(&canvas, sw, sh, image::imageops::FilterType::Nearest)
    };
    canvas.save(path).map_err(|e| err(path, e.to_string()))
}

/// Reads an image file as `[C, H, W]` uint8 with the given channel count and size.
pub fn read_image(path: &Path, c: usize, h: usize, w: usize) -> Result<Vec<u8>, ImageError> {
    let img = image::open(path).map_err(|e| err(path, format!("not a readable image: {e}")))?;
    if img.width() as usize != w || img.height() as usize != h {
        let problem = format!(
            "image is {}x{}, the model expects {w}x{h} (WxH)",
            img.width(),
            img.height()
        );
        return Err(err(path, problem));
    }
    Ok(if c == 1 {
        img.to_luma8().into_raw()
    } else {
        let rgb = img.to_rgb8();
        (0..3)
            .flat_map(|ch| rgb.pixels().map(move |p| p.0[ch]).collect::<Vec<_>>())
            .collect()
    })
}

/// Writes one image `[C, H, W]` (C = 1 or 3) as a PNG of exactly its pixels.
pub fn write_image(path: &Path, image: &[u8], c: usize, h: usize, w: usize) -> Result<(), ImageError> {
    if image.len() != c * h * w || !(c == 1 || c == 3) {
        return Err(err(
            path,
            format!("{} bytes are not one {c}x{h}x{w} image", image.len()),
        ));
    }
    let (wu, hu) = (w as u32, h as u32);
    let result = if c == 1 {
        image::GrayImage::from_raw(wu, hu, image.to_vec()).map(|i| i.save(path))
    } else {
        let hw = h * w;
        let px: Vec<u8> = (0..hw)
            .flat_map(|k| [image[k], image[hw + k], image[2 * hw + k]])
            .collect();
        image::RgbImage::from_raw(wu, hu, px).map(|i| i.save(path))
    };
    result
        .expect("buffer size checked above")
        .map_err(|e| err(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_grid_repeats_each_pixel_as_a_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        // one 2x2 gray image: 0, 100 / 200, 255
        write_grid(&path, &[0, 100, 200, 255], [1, 1, 2, 2], 1, 3).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (4 * 3, 4 * 3));
        for (x, y, v) in [(3, 3, 0), (5, 5, 0), (6, 3, 100), (8, 5, 100), (3, 6, 200), (8, 8, 255)] {
            assert_eq!(img.get_pixel(x, y).0, [v; 3], "pixel ({x}, {y})");
        }
        assert_eq!(img.get_pixel(0, 0).0, [40; 3]); // the gap
        assert!(write_grid(&path, &[0; 4], [1, 1, 2, 2], 1, 0).is_err());
    }
}
