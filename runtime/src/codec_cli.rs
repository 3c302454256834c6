//! The `compress` and `decompress` command lines over [`crate::codec`]: flags resolved to
//! a complete job first, one JSON line of sizes and timings at the end.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;

use crate::codec;
use crate::engine::EngineKind;
use crate::export::Export;

/// Losslessly compress images with a PixelCNN export (its cached step graphs).
#[derive(Parser, Debug)]
#[command(name = "compress", version)]
pub struct CompressCli {
    /// Export directory (model.onnx + step_row.onnx + step_pixel.onnx).
    #[arg(long)]
    pub model: PathBuf,
    /// Images: IDX (raw or .gz), .npy uint8 [N, C, H, W], or one PNG.
    #[arg(long = "in")]
    pub input: PathBuf,
    /// The .pcnn file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// ort or tract (decompress with the same one).
    #[arg(long, default_value = "ort")]
    pub backend: EngineKind,
    /// Compress only the first N images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Images per step-graph call.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch: u32,
}

/// Decompress a .pcnn file written by `compress`.
#[derive(Parser, Debug)]
#[command(name = "decompress", version)]
pub struct DecompressCli {
    /// The export directory the file was compressed with.
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long = "in")]
    pub input: PathBuf,
    /// IDX, .npy or (one image) PNG, by extension.
    #[arg(long)]
    pub out: PathBuf,
    /// The engine the file was compressed with.
    #[arg(long, default_value = "ort")]
    pub backend: EngineKind,
}

pub fn compress_main(cli: CompressCli) -> anyhow::Result<()> {
    let export = Export::open(&cli.model)?;
    let mut images = codec::read_images(&cli.input, &export.spec)?;
    if let Some(n) = cli.limit {
        anyhow::ensure!(n > 0, "--limit must be positive");
        images.truncate(n * export.spec.dims());
    }
    let t = Instant::now();
    let c = codec::compress(&export, &cli.backend, &images, cli.batch as usize, &mut |_| {})
        .with_context(|| format!("compressing {}", cli.input.display()))?;
    let secs = t.elapsed().as_secs_f64();
    pixelcnn_core::replace_file(&cli.out, &c.file)?;
    let count = images.len() / export.spec.dims();
    println!(
        "{}",
        serde_json::json!({
            "images": count, "bytes": c.file.len(), "bits_per_subpixel": c.file.len() as f64 * 8.0 / images.len() as f64,
            "model_bits_per_subpixel": c.model_bits_per_subpixel, "seconds": secs, "images_per_s": count as f64 / secs,
            "backend": cli.backend.to_string(), "out": cli.out,
        })
    );
    Ok(())
}

pub fn decompress_main(cli: DecompressCli) -> anyhow::Result<()> {
    codec::ImageFormat::for_output(&cli.out)?;
    let export = Export::open(&cli.model)?;
    let file = std::fs::read(&cli.input).with_context(|| format!("reading {}", cli.input.display()))?;
    let t = Instant::now();
    let (header, images) = codec::decompress(&export, &cli.backend, &file, &mut |_| {})
        .with_context(|| format!("{}", cli.input.display()))?;
    let secs = t.elapsed().as_secs_f64();
    codec::write_images(&cli.out, &images, &export.spec)?;
    println!(
        "{}",
        serde_json::json!({
            "images": header.count, "seconds": secs, "images_per_s": header.count as f64 / secs,
            "backend": header.engine, "out": cli.out,
        })
    );
    Ok(())
}
