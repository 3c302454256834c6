//! Sizes of classic lossless codecs on an IDX image file, for `scripts/bench-compress.sh`:
//! PNG (compression level best) and lossless WebP, one file per image as a user would store
//! them, through the `image` crate. Prints one JSON line of total bytes.
//!
//!   cargo run -p pixelcnn-runtime --example baseline_codecs -- IDX_FILE [LIMIT]

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() >= 2, "usage: baseline_codecs IDX_FILE [LIMIT]");
    let idx = pixelcnn_core::idx::read_images(std::path::Path::new(&args[1]))?;
    let limit = args
        .get(2)
        .map(|s| s.parse::<usize>())
        .transpose()?
        .unwrap_or(idx.count);
    let n = limit.min(idx.count);
    let size = idx.rows * idx.cols;
    let (w, h) = (idx.cols as u32, idx.rows as u32);
    let (mut png, mut webp) = (0usize, 0usize);
    for k in 0..n {
        let px = &idx.pixels[k * size..(k + 1) * size];
        let mut buf = Vec::new();
        PngEncoder::new_with_quality(&mut buf, CompressionType::Best, FilterType::Adaptive).write_image(
            px,
            w,
            h,
            ExtendedColorType::L8,
        )?;
        png += buf.len();
        let mut buf = Vec::new();
        WebPEncoder::new_lossless(&mut buf).write_image(px, w, h, ExtendedColorType::L8)?;
        webp += buf.len();
    }
    println!(
        "{}",
        serde_json::json!({"images": n, "subpixels": n * size, "png_bytes": png, "webp_bytes": webp})
    );
    Ok(())
}
