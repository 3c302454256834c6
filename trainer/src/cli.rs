//! The `trainer` command line: `fit`, `eval`, `sample`, dispatched to a burn backend.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use clap::{Args, Parser, Subcommand};
use pixelcnn_core::rng::Mode;
use pixelcnn_models::backend::{BackendKind, Cpu, NdArray};
use pixelcnn_models::fused::FusedOps;
use pixelcnn_models::{checkpoint, CondInput, Condition, Conditioning, PixelModel};

use crate::batch::items_condition;
use crate::config::TrainConfig;
use crate::eval::evaluate;
use crate::fit::{fit, FitOptions};
use crate::sample::sample;

#[derive(Parser, Debug)]
#[command(name = "trainer", version, about = "Train, score and sample PixelCNN models")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model from a YAML config into a run directory.
    Fit(FitArgs),
    /// Score a run's latest checkpoint (its weights' moving average when the run keeps
    /// one, `ema_decay`; `--weights trained` for the optimizer's own); prints one JSON line.
    Eval(EvalArgs),
    /// Sample a PNG grid from a run's latest checkpoint (the moving average when the run
    /// keeps one; `--weights trained` for the optimizer's own).
    Sample(SampleArgs),
}

#[derive(Args, Debug)]
pub struct FitArgs {
    #[arg(long)]
    pub config: PathBuf,
    /// Run directory (default: runs/<config name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// cpu (burn-flex, default), ndarray, or cuda (build with --features cuda).
    #[arg(long, default_value = "cpu")]
    pub backend: BackendKind,
    /// Continue from the run directory's latest checkpoint.
    #[arg(long)]
    pub resume: bool,
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Threads each batch is split across (default: the checkpoint's on --resume, else
    /// one per core). Results depend on it in the last float bits: keep it to resume exactly.
    #[arg(long)]
    pub workers: Option<usize>,
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[arg(long)]
    pub run: PathBuf,
    /// test or train
    #[arg(long, default_value = "test")]
    pub split: String,
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, default_value = "cpu")]
    pub backend: BackendKind,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Which of the checkpoint's weights to score.
    #[arg(long, value_enum, default_value_t = checkpoint::Weights::Deployed)]
    pub weights: checkpoint::Weights,
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    #[arg(long)]
    pub run: PathBuf,
    #[arg(long, default_value_t = 16)]
    pub n: usize,
    #[arg(long)]
    pub out: PathBuf,
    /// Class to sample (class-conditional models).
    #[arg(long)]
    pub label: Option<usize>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub temperature: f64,
    #[arg(long, default_value = "cpu")]
    pub backend: BackendKind,
    /// Sample with the full burn network once per sub-pixel (slow reference) instead of
    /// the cached steps.
    #[arg(long)]
    pub naive_burn: bool,
    /// Which of the checkpoint's weights to sample from.
    #[arg(long, value_enum, default_value_t = checkpoint::Weights::Deployed)]
    pub weights: checkpoint::Weights,
}

/// Evaluates `$body` with the type `$B` naming the burn backend `$kind` names.
macro_rules! on_backend {
    ($kind:expr, $B:ident => $body:expr) => {
        match $kind {
            BackendKind::Cpu => {
                type $B = Cpu;
                $body
            }
            BackendKind::NdArray => {
                type $B = NdArray;
                $body
            }
            // burn-cuda panics (in its device thread) when no driver or GPU is present; turn
            // that into an error that says what is missing
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => {
                type $B = pixelcnn_models::backend::Cuda;
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body)).unwrap_or_else(|_| {
                    Err(anyhow::anyhow!(
                        "--backend cuda: the CUDA backend failed to start (message above); it needs an NVIDIA GPU and driver (libcuda.so)"
                    ))
                })
            }
            #[cfg(not(feature = "cuda"))]
            BackendKind::Cuda => Err(anyhow::anyhow!(
                "--backend cuda: this binary was built without CUDA; rebuild with `cargo build --features cuda`"
            )),
        }
    };
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Fit(a) => run_fit(a),
        Command::Eval(a) => on_backend!(a.backend, B => run_eval::<B>(a)),
        Command::Sample(a) => on_backend!(a.backend, B => run_sample::<B>(a)),
    }
}

fn run_fit(a: FitArgs) -> anyhow::Result<()> {
    let mut cfg = TrainConfig::load(&a.config)?;
    anyhow::ensure!(a.workers != Some(0), "--workers must be positive");
    anyhow::ensure!(a.epochs != Some(0), "--epochs must be positive");
    anyhow::ensure!(a.batch_size != Some(0), "--batch-size must be positive");
    anyhow::ensure!(a.lr.is_none_or(|v| v > 0.0), "--lr must be positive");
    cfg.max_steps = a.max_steps.or(cfg.max_steps);
    cfg.epochs = a.epochs.unwrap_or(cfg.epochs);
    cfg.batch_size = a.batch_size.unwrap_or(cfg.batch_size);
    cfg.optimizer.lr = a.lr.unwrap_or(cfg.optimizer.lr);
    cfg.seed = a.seed.unwrap_or(cfg.seed);
    let stem = a.config.file_stem().map_or("run".into(), |s| s.to_string_lossy());
    let opts = FitOptions {
        out: a.out.unwrap_or_else(|| Path::new("runs").join(&*stem)),
        resume: a.resume,
        progress: true,
        workers: a.workers,
        stop: stop_on_signals()?,
    };
    let summary = on_backend!(a.backend, B => fit::<Autodiff<B>>(&cfg, &opts, &Default::default()))?;
    let line = serde_json::json!({
        "run": opts.out,
        "steps": summary.steps,
        "epochs_completed": summary.epochs_completed,
        "train_seconds": summary.train_seconds,
        "test_bits_per_dim": summary.last_test.as_ref().map(|t| t.bits_per_dim),
        "checkpoint": summary.checkpoint,
    });
    println!("{line}");
    if let Some(c) = cfg.optimizer.cooldown {
        if summary.losses.is_empty() && summary.steps >= c.end() {
            eprintln!(
                "note: {}: its learning rate's cool-down ended at step {}, so there was nothing left to train; \
                 remove optimizer.cooldown from its config.yaml to train on",
                opts.out.display(),
                c.end()
            );
        }
    }
    Ok(())
}

/// A flag set by SIGINT (Ctrl-C) or SIGTERM: training then stops after the current step
/// and writes a checkpoint.
fn stop_on_signals() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    #[cfg(unix)]
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, flag.clone()).context("installing the signal handler")?;
    }
    Ok(flag)
}

/// The run's config (for its data section) and latest model (the chosen weights).
pub fn load_run<B: Backend>(
    run: &Path,
    weights: checkpoint::Weights,
    device: &B::Device,
) -> anyhow::Result<(TrainConfig, PixelModel<B>)> {
    let cfg = TrainConfig::load(&run.join("config.yaml"))
        .with_context(|| format!("{} is not a run directory", run.display()))?;
    let ckpt = checkpoint::latest(run)?;
    let model = checkpoint::load_weights::<B>(&ckpt, weights, device)?;
    Ok((cfg, model))
}

fn run_eval<B: FusedOps>(a: EvalArgs) -> anyhow::Result<()> {
    let device = Default::default();
    anyhow::ensure!(a.batch_size > 0, "--batch-size must be positive");
    anyhow::ensure!(a.limit != Some(0), "--limit must be positive");
    let (cfg, model) = load_run::<B>(&a.run, a.weights, &device)?;
    let train = match a.split.as_str() {
        "test" => false,
        "train" => true,
        other => anyhow::bail!("--split {other}: expected test or train"),
    };
    let ds = cfg.load_split(train)?;
    let r = evaluate(&model, &ds, a.limit, a.batch_size, &device);
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

fn run_sample<B: FusedOps>(a: SampleArgs) -> anyhow::Result<()> {
    let device = Default::default();
    let (cfg, model) = load_run::<B>(&a.run, a.weights, &device)?;
    let spec = model.spec.clone();
    let cond = match (spec.decoder_conditioning(), a.label) {
        (want @ Conditioning::Class { .. }, Some(l)) => {
            let labels = CondInput::Labels(vec![l as i64; a.n]);
            labels.check(&want, a.n).context("--label")?;
            Condition::from_host(&labels, &device)
        }
        (Conditioning::Class { .. }, None) => {
            anyhow::bail!("this model is class-conditional: pass --label K")
        }
        (_, Some(_)) => anyhow::bail!("--label: this model is not class-conditional"),
        (Conditioning::None, None) => Condition::None,
        // vector conditioning: the test set's first vectors (or encodings)
        (_, None) => items_condition(&model, &cfg.load_split(false)?, a.n, &device),
    };
    let t = std::time::Instant::now();
    let mode = if a.naive_burn { Mode::Naive } else { Mode::Cached };
    let images = sample(&model, a.n, &cond, a.seed, a.temperature, mode, &device)?;
    let cols = (a.n as f64).sqrt().ceil() as usize;
    pixelcnn_core::grid::write_grid(&a.out, &images, [a.n, spec.channels, spec.height, spec.width], cols, 1)?;
    println!(
        "{}",
        serde_json::json!({"out": a.out, "images": a.n, "seconds": t.elapsed().as_secs_f64(), "mode": if a.naive_burn { "naive-burn" } else { "cached-burn" }})
    );
    Ok(())
}
