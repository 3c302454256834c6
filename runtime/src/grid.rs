//! PNG grids of images `[N, C, H, W]` (uint8), one image per cell, 1-pixel gaps.

use std::path::Path;

/// Writes `images` as a grid with `cols` columns (rows as needed).
pub fn write_grid(
    path: &Path,
    images: &[u8],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    cols: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        n > 0 && images.len() == n * c * h * w,
        "grid: {} bytes for {n} images of {c}x{h}x{w}",
        images.len()
    );
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
            std::fs::create_dir_all(dir)?;
        }
    }
    canvas
        .save(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Reads an image file as `[C, H, W]` uint8 with the given channel count and size.
pub fn read_image(path: &Path, c: usize, h: usize, w: usize) -> anyhow::Result<Vec<u8>> {
    let img = image::open(path).map_err(|e| anyhow::anyhow!("{}: not a readable image: {e}", path.display()))?;
    anyhow::ensure!(
        img.width() as usize == w && img.height() as usize == h,
        "{}: image is {}x{}, the model expects {w}x{h} (WxH)",
        path.display(),
        img.width(),
        img.height()
    );
    Ok(if c == 1 {
        img.to_luma8().into_raw()
    } else {
        let rgb = img.to_rgb8();
        (0..3)
            .flat_map(|ch| rgb.pixels().map(move |p| p.0[ch]).collect::<Vec<_>>())
            .collect()
    })
}
