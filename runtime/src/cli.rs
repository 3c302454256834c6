//! The `sample` command line: draws a PNG grid from an exported model on any engine,
//! in cached or naive mode, with class/vector conditioning, completion, interpolation
//! and auto-encoder reconstructions; prints one JSON line with timings.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{ArrayD, IxDyn};
use pixelcnn_core::Conditioning;

use crate::engine::{EngineKind, Graph, Input};
use crate::export::Export;
use crate::sampler::{self, CondInput, Mode, SampleRequest};
use pixelcnn_core::grid::{read_image, write_grid};
use pixelcnn_core::rng::image_seed;

#[derive(Parser, Debug)]
#[command(name = "sample", version, about = "Sample images from an exported PixelCNN")]
pub struct Cli {
    /// Output directory of `exporter --to onnx`.
    #[arg(long)]
    pub model: PathBuf,
    /// ort, tract, ort-cuda or ort-tensorrt.
    #[arg(long, default_value = "tract")]
    pub backend: EngineKind,
    /// cached (step graphs) or naive (model.onnx once per sub-pixel).
    #[arg(long, default_value = "cached")]
    pub mode: Mode,
    #[arg(long, default_value_t = 16)]
    pub n: usize,
    /// Images per engine call (default: all n at once).
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Class to sample (class-conditional models).
    #[arg(long)]
    pub label: Option<i64>,
    /// Conditioning vectors (.npy, [n, D] or [1, D]) for vector/spatial models.
    #[arg(long)]
    pub cond: Option<PathBuf>,
    /// Completion: keep the top `--rows` rows of this image and sample the rest.
    #[arg(long)]
    pub complete: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub rows: usize,
    /// Interpolate between two conditioning vectors (.npy, [D] or [1, D]); one fixed
    /// seed per grid row (paper Figure 5).
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    pub interpolate: Option<Vec<PathBuf>>,
    #[arg(long, default_value_t = 8)]
    pub steps: usize,
    /// Auto-encoder: encode this image with encoder.onnx, sample conditioned on it.
    #[arg(long)]
    pub reconstruct: Option<PathBuf>,
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub temperature: f64,
    /// PNG grid, or `.npy` for the raw uint8 images [n, C, H, W].
    #[arg(long)]
    pub out: PathBuf,
    /// Enlarge the PNG grid K times (nearest neighbour), e.g. 4 for readable 28x28 digits.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scale: u32,
    /// With a GPU backend: run on CPU if the provider cannot be registered.
    #[arg(long)]
    pub fallback: bool,
    /// TensorRT: build fp16 engines.
    #[arg(long)]
    pub trt_fp16: bool,
    /// TensorRT: engine cache directory.
    #[arg(long)]
    pub trt_cache: Option<PathBuf>,
}

fn read_vectors(path: &std::path::Path, dim: usize) -> anyhow::Result<(Vec<f32>, usize)> {
    let (v, rows, d) = pixelcnn_core::npy::read_matrix(path)?;
    anyhow::ensure!(
        d == dim,
        "{}: vectors have {d} columns, the model expects {dim}",
        path.display()
    );
    Ok((v, rows))
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let export = Export::open(&cli.model)?;
    let spec = export.spec.clone();
    anyhow::ensure!(cli.n > 0, "--n must be positive");
    let mut engine = cli.backend.clone().with_fallback(cli.fallback);
    if let EngineKind::OrtTensorRt { fp16, cache_dir, .. } = &mut engine {
        *fp16 = cli.trt_fp16;
        *cache_dir = cli.trt_cache.clone();
    }
    anyhow::ensure!(cli.batch != Some(0), "--batch must be positive");
    let (engine, note) = crate::gpu::resolve(&engine)?;
    if let Some(note) = note {
        eprintln!("warning: {note}");
    }
    let (n, c, h, w) = (cli.n, spec.channels, spec.height, spec.width);
    let dim = match spec.decoder_conditioning() {
        Conditioning::Vector { dim } | Conditioning::Spatial { dim, .. } => dim,
        _ => 0,
    };
    let mut seeds: Vec<u64> = (0..n).map(|b| image_seed(cli.seed, b)).collect();
    let mut cols = (n as f64).sqrt().ceil() as usize;
    // conditioning for all n images
    let cond = match spec.decoder_conditioning() {
        Conditioning::None => {
            anyhow::ensure!(
                cli.label.is_none() && cli.cond.is_none(),
                "this model is unconditional: drop --label/--cond"
            );
            CondInput::None
        }
        Conditioning::Class { classes } => {
            let l = cli.label.ok_or_else(|| {
                anyhow::anyhow!(
                    "this model is class-conditional: pass --label K, K in 0..={}",
                    classes - 1
                )
            })?;
            let labels = CondInput::Labels(vec![l; n]);
            labels.check(&spec.decoder_conditioning(), n).context("--label")?;
            labels
        }
        _ => {
            if let Some(paths) = &cli.interpolate {
                let (a, ra) = read_vectors(&paths[0], dim)?;
                let (b, rb) = read_vectors(&paths[1], dim)?;
                anyhow::ensure!(ra >= 1 && rb >= 1, "--interpolate: empty vector file");
                anyhow::ensure!(cli.steps >= 2, "--steps must be at least 2");
                let steps = cli.steps;
                anyhow::ensure!(
                    n.is_multiple_of(steps),
                    "--interpolate: --n ({n}) must be a multiple of --steps ({steps})"
                );
                cols = steps;
                // image k of grid row r: a + (b - a) * k / (steps - 1), with grid row r's seed
                let mut v = Vec::with_capacity(n * dim);
                for (i, seed) in seeds.iter_mut().enumerate() {
                    let t = (i % steps) as f32 / (steps - 1) as f32;
                    v.extend((0..dim).map(|d| a[d] + (b[d] - a[d]) * t));
                    *seed = image_seed(cli.seed, i / steps);
                }
                CondInput::Vectors(v, dim)
            } else if let Some(img) = &cli.reconstruct {
                let x = read_image(img, c, h, w)?;
                let (contract, path) = export
                    .graph("encoder")
                    .map_err(|e| anyhow::anyhow!("--reconstruct needs an auto-encoder: {e}"))?;
                let mut enc = Graph::load(&engine, &path, contract, 1)?;
                let arr = ArrayD::from_shape_vec(IxDyn(&[1, c, h, w]), x)?;
                let code = enc.run(&[("image", Input::U8(arr.view()))])?.remove(0);
                CondInput::Vectors(code.iter().copied().collect::<Vec<f32>>().repeat(n), dim)
            } else if let Some(path) = &cli.cond {
                let (v, rows) = read_vectors(path, dim)?;
                anyhow::ensure!(
                    rows == 1 || rows >= n,
                    "{}: {rows} rows for {n} images (give 1 or at least n)",
                    path.display()
                );
                let v = if rows == 1 { v.repeat(n) } else { v[..n * dim].to_vec() };
                CondInput::Vectors(v, dim)
            } else {
                anyhow::bail!("this model is conditioned on {dim}-dim vectors: pass --cond FILE.npy, --interpolate A.npy B.npy or --reconstruct IMG")
            }
        }
    };
    anyhow::ensure!(
        cli.complete.is_none() || cli.rows <= h,
        "--rows {} exceeds the image height {h}",
        cli.rows
    );
    let prefix = cli.complete.as_ref().map(|img| read_image(img, c, h, w)).transpose()?;
    let batch = cli.batch.unwrap_or(n).clamp(1, n);
    let t_load = Instant::now();
    let mut s = sampler::open(&export, &engine, cli.mode, batch)?;
    let load_s = t_load.elapsed().as_secs_f64();
    let bar = ProgressBar::new((h * w * n.div_ceil(batch)) as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} pixels {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    let mut images = Vec::with_capacity(n * spec.dims());
    let t = Instant::now();
    for (chunk, start) in (0..n).step_by(batch).enumerate() {
        let m = batch.min(n - start);
        // the sampler's batch is fixed: pad the last chunk by repeating its last image
        let idx: Vec<usize> = (0..batch).map(|k| start + k.min(m - 1)).collect();
        let req = SampleRequest {
            cond: cond.select(&idx),
            seeds: idx.iter().map(|&k| seeds[k]).collect(),
            prefix: prefix.as_ref().map(|x| (x.repeat(batch), cli.rows)),
            temperature: cli.temperature,
        };
        let base = (chunk * h * w) as u64;
        let out = s.sample(&req, &mut |done, _| bar.set_position(base + done as u64))?;
        images.extend_from_slice(&out[..m * spec.dims()]);
    }
    let secs = t.elapsed().as_secs_f64();
    bar.finish_and_clear();
    if cli.out.extension().is_some_and(|e| e == "npy") {
        pixelcnn_core::npy::write_images(&cli.out, &images, [n, c, h, w])?;
    } else {
        write_grid(&cli.out, &images, [n, c, h, w], cols, cli.scale as usize)?;
    }
    println!(
        "{}",
        serde_json::json!({
            "out": cli.out, "images": n, "backend": engine.to_string(), "mode": format!("{:?}", cli.mode).to_lowercase(),
            "batch": batch, "seed": cli.seed, "load_seconds": load_s, "sample_seconds": secs, "images_per_s": n as f64 / secs,
        })
    );
    Ok(())
}
