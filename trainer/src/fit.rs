//! The training loop: Adam on the mean bits/dim of each batch, checkpoints written
//! atomically, exact resume, metrics, per-epoch test score, sample grid and curves.
//!
//! Determinism: weights are initialised from `seed`; the order of epoch e is a
//! permutation drawn from `seed` and e alone. A checkpoint stores the weights, Adam's
//! moments, the step, the epoch and the position inside it, which together are the whole
//! random state: `--resume` continues with exactly the losses of an uninterrupted run.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsAccumulator, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ElementConversion;
use burn::tensor::Tensor;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pixelcnn_core::replace_file;
use pixelcnn_core::rng::Mode;
use pixelcnn_models::checkpoint::{self, Weights, CHECKPOINTS};
use pixelcnn_models::fused::{FusedAutodiff, FusedOps};
use pixelcnn_models::{CondInput, Condition, Conditioning, PixelModel};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::batch::{items_condition, make_batch, ContextNoise};
use crate::config::TrainConfig;
use crate::datasets::Dataset;
use crate::ema::Ema;
use crate::eval::{evaluate, EvalResult};
use crate::plot::plot_curves;
use crate::sample::sample;

pub const STATE_FILE: &str = "state.json";
pub const OPTIM_FILE: &str = "optim.bin";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const EPOCHS_FILE: &str = "epochs.jsonl";

/// Where training stands; stored in every checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    /// Optimizer steps taken.
    pub step: u64,
    /// Current epoch (0-based) and batches of it already consumed.
    pub epoch: usize,
    pub batch_in_epoch: usize,
    pub seed: u64,
    pub best_test_bpd: Option<f64>,
    pub best_step: Option<u64>,
    /// Training seconds so far (all sessions).
    pub train_seconds: f64,
    /// Threads each batch is split across (see [`batch_gradients`]); part of the exact
    /// resume promise, since the split fixes the order in which gradients are summed.
    #[serde(default = "crate::config::one")]
    pub workers: usize,
    /// Batch size and training-set size the run started with: with the seed they fix
    /// which images every step sees, so `--resume` refuses a config that changes them.
    /// `None` in checkpoints written before they were recorded (then taken from the config).
    #[serde(default)]
    pub batch_size: Option<usize>,
    #[serde(default)]
    pub train_items: Option<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct FitOptions {
    pub out: PathBuf,
    pub resume: bool,
    /// Show a progress bar (off in tests).
    pub progress: bool,
    /// Threads per batch; `None`: the checkpoint's on `--resume`, else the cores available.
    pub workers: Option<usize>,
    /// Set (e.g. by SIGINT/SIGTERM) to stop after the current step with a checkpoint, so
    /// an interrupted run loses nothing and resumes exactly.
    pub stop: Arc<AtomicBool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FitSummary {
    pub steps: u64,
    pub epochs_completed: usize,
    pub losses: Vec<f64>,
    pub last_test: Option<EvalResult>,
    pub checkpoint: PathBuf,
    pub train_seconds: f64,
}

#[derive(Serialize, Deserialize)]
struct StepMetrics {
    step: u64,
    epoch: usize,
    train_bits_per_dim: f64,
    lr: f64,
    images_per_s: f64,
}

#[derive(Serialize, Deserialize)]
struct EpochMetrics {
    epoch: usize,
    step: u64,
    test_bits_per_dim: f64,
    test_images: usize,
    /// Which weights were scored: "moving average" or "trained" (absent in older runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weights: Option<String>,
    sample_grid: Option<String>,
}

/// Order of the training items in epoch `epoch`.
pub fn epoch_order(seed: u64, epoch: usize, n: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    order
}

/// The threads a batch is split across: one single-threaded rayon pool per part. A part's
/// parallel kernels run on its own pool's thread, so `n` parts keep `n` cores busy
/// without adding threads to them, and a part never waits on another part's thread (a
/// part holds burn's autodiff graph lock while its backward kernels run, and the graph
/// cleanup after a backward pass takes every graph's lock: parts run as tasks of one
/// shared pool deadlock). With one worker the batch runs on the caller's thread and the
/// global pool.
pub struct Workers(Vec<rayon::ThreadPool>);

impl Workers {
    pub fn new(count: usize) -> anyhow::Result<Self> {
        let pools = if count <= 1 {
            Vec::new()
        } else {
            (0..count)
                .map(|i| {
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(1)
                        .thread_name(move |_| format!("train-worker-{i}"))
                        .build()
                })
                .collect::<Result<_, _>>()
                .context("starting the training worker threads")?
        };
        Ok(Self(pools))
    }

    /// Parts a batch is split into.
    pub fn count(&self) -> usize {
        self.0.len().max(1)
    }
}

/// The batch's loss (mean bits/dim) and its gradients, the batch split into
/// `workers.count()` contiguous parts computed on as many threads. Each part runs its own
/// autodiff graph on a copy of the parameters (same ids, shared storage) and its loss is
/// its share of the batch mean, so the parts' gradients add up to the whole batch's. They
/// are summed in part order, whatever order the threads finish in: the result depends on
/// the worker count only. With `noise` the network reads corrupted context (an
/// auto-encoder's encoder the true images) and is scored on the true values.
pub fn batch_gradients<B: FusedAutodiff>(
    model: &PixelModel<B>,
    train: &Dataset,
    idx: &[usize],
    noise: Option<ContextNoise>,
    workers: &Workers,
    device: &B::Device,
) -> (f64, GradientsParams) {
    let spec = &model.spec;
    let scale = idx.len() as f64 * spec.dims() as f64 * std::f64::consts::LN_2;
    let part = idx.len().div_ceil(workers.count().clamp(1, idx.len().max(1)));
    let run = |chunk: &[usize], m: &PixelModel<B>| {
        let (images, targets, cond) = match noise {
            None => {
                let batch = make_batch::<B>(spec, train, chunk, device);
                (batch.images, batch.targets, batch.cond)
            }
            Some(noise) => {
                let (batch, context) = noise.batch::<B>(spec, train, chunk, device);
                let cond = m.encode(batch.images).map_or(batch.cond, Condition::Vector);
                (context, batch.targets, cond)
            }
        };
        let loss = m.nll(images, targets, &cond).sum().div_scalar(scale);
        let value: f64 = loss.clone().into_scalar().elem::<f64>();
        (value, GradientsParams::from_grads(loss.backward(), m))
    };
    let chunks: Vec<&[usize]> = idx.chunks(part).collect();
    if chunks.len() == 1 {
        return run(chunks[0], model);
    }
    let inner = model.valid();
    let results: Vec<(f64, GradientsParams)> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .zip(&workers.0)
            .map(|(chunk, pool)| {
                let m = PixelModel::<B>::from_inner(inner.clone()).map(&mut TrackGrads);
                s.spawn(move || pool.install(|| run(chunk, &m)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a training worker panicked"))
            .collect()
    });
    let mut acc = GradientsAccumulator::<PixelModel<B>>::new();
    let mut total = 0.0;
    for (value, grads) in results {
        total += value;
        acc.accumulate(model, grads);
    }
    (total, acc.grads())
}

/// Clips gradients by their global norm, as `torch.nn.utils.clip_grad_norm_`: the L2 norm
/// of all parameters' gradients together; when it exceeds `max_norm`, every gradient is
/// scaled by `max_norm / (norm + 1e-6)`, so the update keeps its direction. Returns the
/// norm before clipping.
pub fn clip_global_norm<B: AutodiffBackend>(model: &PixelModel<B>, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    struct SumSquares<'a> {
        grads: &'a GradientsParams,
        total: f64,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for SumSquares<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                self.total += g.square().sum().into_scalar().elem::<f64>();
            }
        }
    }
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: f64,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
                self.grads.register(param.id, g.mul_scalar(self.factor));
            }
        }
    }
    let mut sum = SumSquares { grads, total: 0.0 };
    model.visit(&mut sum);
    let norm = sum.total.sqrt();
    if norm > max_norm {
        let factor = max_norm / (norm + 1e-6);
        model.visit(&mut Scale { grads, factor });
    }
    norm
}

/// Drops the decoder's gradients, so a step trains only the encoder (and its spatial map).
pub fn drop_decoder_grads<B: AutodiffBackend>(model: &PixelModel<B>, grads: &mut GradientsParams) {
    struct DropGrads<'a>(&'a mut GradientsParams);
    impl<B: AutodiffBackend> ModuleVisitor<B> for DropGrads<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.remove::<B::InnerBackend, D>(param.id);
        }
    }
    model.decoder.visit(&mut DropGrads(grads));
}

/// Marks every float parameter as tracked: a worker's copy of the model gets a fresh
/// autodiff leaf per parameter (same id, same storage), independent of other workers' graphs.
struct TrackGrads;

impl<B: AutodiffBackend> ModuleMapper<B> for TrackGrads {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        Param::from_mapped_value(id, tensor.require_grad(), mapper)
    }
}

/// Trains per `cfg` into `opts.out` (a run directory).
pub fn fit<B: FusedAutodiff>(cfg: &TrainConfig, opts: &FitOptions, device: &B::Device) -> anyhow::Result<FitSummary> {
    let spec = &cfg.model;
    let train = cfg.load_split(true).context("loading the training split")?;
    let test = cfg.load_split(false).context("loading the test split")?;
    let out = &opts.out;
    fs::create_dir_all(out).with_context(|| format!("creating run directory {}", out.display()))?;
    let cfg_text = serde_yaml_ng::to_string(cfg)?;
    // `--resume --config RUN/config.yaml` reads this very file: a kill while writing it must
    // leave the old one
    replace_file(&out.join("config.yaml"), cfg_text.as_bytes())?;

    // gradient clipping is global (clip_global_norm), not burn's per-tensor clipping
    let mut optim = AdamConfig::new()
        .with_epsilon(cfg.optimizer.epsilon as f32)
        .init::<B, PixelModel<B>>();
    let mut resumed_from = None;
    let (mut model, mut state) = if opts.resume {
        let ckpt = checkpoint::latest(out)?;
        let stored = checkpoint::read_spec(&ckpt)?;
        anyhow::ensure!(
            &stored == spec,
            "{}: --resume with a config whose model differs from the checkpoint's\n checkpoint: {}\n config:     {}",
            ckpt.display(),
            stored.to_json(),
            spec.to_json()
        );
        let model = checkpoint::load_weights::<B>(&ckpt, Weights::Trained, device)?;
        let obytes = checkpoint::read_file(&ckpt, OPTIM_FILE)?;
        let orec = checkpoint::record_from_bytes::<B, _>(obytes, device)
            .map_err(|e| anyhow::anyhow!("{}: {e}", ckpt.join(OPTIM_FILE).display()))?;
        optim = optim.load_record(orec);
        let sbytes = checkpoint::read_file(&ckpt, STATE_FILE)?;
        let mut state: TrainState =
            serde_json::from_slice(&sbytes).with_context(|| format!("{}", ckpt.join(STATE_FILE).display()))?;
        check_resumable(&ckpt, &mut state, cfg, train.len())?;
        truncate_metrics(out, &state)?;
        if let Some(w) = opts.workers {
            state.workers = w;
        }
        resumed_from = Some(ckpt);
        (model, state)
    } else {
        if checkpoint::latest(out).is_ok() {
            bail!(
                "{} already holds checkpoints: pass --resume to continue, or choose another --out",
                out.display()
            );
        }
        let _ = fs::remove_file(out.join(METRICS_FILE));
        let _ = fs::remove_file(out.join(EPOCHS_FILE));
        let state = TrainState {
            seed: cfg.seed,
            workers: opts
                .workers
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            batch_size: Some(cfg.batch_size),
            train_items: Some(train.len()),
            ..Default::default()
        };
        let mut model = PixelModel::<B>::new(spec, cfg.seed, device);
        if let Some(from) = &cfg.init_from {
            let ckpt = if from.join(checkpoint::MANIFEST_FILE).is_file() {
                from.clone()
            } else {
                checkpoint::latest(from).context("init_from")?
            };
            let source = checkpoint::load_model::<B>(&ckpt, device).context("init_from")?;
            let source = source
                .grown_toward(spec, cfg.seed, device)
                .map_err(|e| anyhow::anyhow!("init_from {}: {e}", ckpt.display()))?;
            model = if source.spec == *spec {
                source
            } else {
                model
                    .init_decoder_from(&source)
                    .map_err(|e| anyhow::anyhow!("init_from {}: {e}", ckpt.display()))?
            };
        }
        (model, state)
    };

    // the weights' moving average: the checkpoint's, or started at the current weights
    let mut ema = match (cfg.ema_decay, &resumed_from) {
        (None, _) => None,
        (Some(decay), Some(ckpt)) if checkpoint::has_ema(ckpt) => Some(Ema::new(
            checkpoint::load_weights::<B::InnerBackend>(ckpt, Weights::Deployed, device)?,
            decay,
        )),
        (Some(decay), _) => Some(Ema::new(model.valid(), decay)),
    };

    let batches_per_epoch = train.len().div_ceil(cfg.batch_size);
    let max_steps = cfg.step_limit();
    let total_steps = (cfg.epochs as u64 * batches_per_epoch as u64).min(max_steps);
    let target = if opts.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let style =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps  {msg}").expect("template");
    let bar = ProgressBar::with_draw_target(Some(total_steps), target)
        .with_style(style.progress_chars("=> "))
        .with_position(state.step.min(total_steps));
    let mut metrics = append_to(&out.join(METRICS_FILE))?;
    let mut losses = Vec::new();
    let mut last_test = None;
    let mut last_ckpt = None;

    let workers = Workers::new(state.workers)?;
    let mut stopped = false;
    while state.epoch < cfg.epochs && state.step < max_steps {
        let order = epoch_order(cfg.seed, state.epoch, train.len());
        while state.batch_in_epoch < batches_per_epoch && state.step < max_steps {
            if opts.stop.load(Ordering::Relaxed) {
                stopped = true;
                break;
            }
            let t0 = Instant::now();
            let lo = state.batch_in_epoch * cfg.batch_size;
            let idx = &order[lo..(lo + cfg.batch_size).min(train.len())];
            let noise = (cfg.context_noise > 0.0).then_some(ContextNoise {
                p: cfg.context_noise,
                seed: cfg.seed,
                step: state.step,
            });
            let (value, mut grads) = batch_gradients(&model, &train, idx, noise, &workers, device);
            if state.step < cfg.freeze_decoder_steps {
                drop_decoder_grads(&model, &mut grads);
            }
            if let Some(max_norm) = cfg.optimizer.grad_clip {
                clip_global_norm(&model, &mut grads, max_norm as f64);
            }
            if !value.is_finite() {
                let last = checkpoint::latest(out)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| "none yet".into());
                bail!(
                    "training diverged: loss is {value} at step {} (epoch {}); the last good checkpoint is {last}",
                    state.step,
                    state.epoch
                );
            }
            let lr = cfg.optimizer.lr_at(state.step);
            model = optim.step(lr, model, grads);
            if let Some(ema) = ema.as_mut() {
                ema.update(&model.valid(), state.step);
            }
            state.step += 1;
            state.batch_in_epoch += 1;
            let secs = t0.elapsed().as_secs_f64();
            state.train_seconds += secs;
            losses.push(value);
            let m = StepMetrics {
                step: state.step,
                epoch: state.epoch,
                train_bits_per_dim: value,
                lr,
                images_per_s: idx.len() as f64 / secs,
            };
            writeln!(metrics, "{}", serde_json::to_string(&m)?)?;
            bar.set_position(state.step);
            bar.set_message(format!("train {value:.4} bits/dim  {:.1} img/s", m.images_per_s));
            if state.step % cfg.checkpoint_every == 0 {
                save(out, &mut metrics, &model, ema.as_ref(), &optim, &state, cfg.keep_last)?;
            }
        }
        if stopped {
            let dir = save(out, &mut metrics, &model, ema.as_ref(), &optim, &state, cfg.keep_last)?;
            bar.println(format!("stopped at step {}: checkpoint {}", state.step, dir.display()));
            last_ckpt = Some(dir);
            break;
        }
        let epoch_done = state.batch_in_epoch >= batches_per_epoch;
        // epoch end (or the end of training): score, sample, plot, checkpoint
        let valid = ema.as_ref().map_or_else(|| model.valid(), |e| e.model.clone());
        let result = evaluate(&valid, &test, cfg.eval_limit, cfg.batch_size.max(16), device);
        let grid = if cfg.sample_count > 0 {
            let path = out.join(format!("samples-epoch-{:03}.png", state.epoch + 1));
            write_samples(&valid, &test, cfg.sample_count, cfg.seed, &path, device)?;
            Some(path.display().to_string())
        } else {
            None
        };
        if state.best_test_bpd.is_none_or(|b| result.bits_per_dim < b) {
            state.best_test_bpd = Some(result.bits_per_dim);
            state.best_step = Some(state.step);
        }
        let e = EpochMetrics {
            epoch: state.epoch + 1,
            step: state.step,
            test_bits_per_dim: result.bits_per_dim,
            test_images: result.images,
            weights: Some(checkpoint::weights_name(ema.is_some()).to_string()),
            sample_grid: grid,
        };
        writeln!(append_to(&out.join(EPOCHS_FILE))?, "{}", serde_json::to_string(&e)?)?;
        bar.println(format!(
            "epoch {} step {}: test {:.4} bits/dim ({} images)",
            e.epoch, e.step, result.bits_per_dim, result.images
        ));
        last_test = Some(result);
        if epoch_done {
            state.epoch += 1;
            state.batch_in_epoch = 0;
        }
        last_ckpt = Some(save(
            out,
            &mut metrics,
            &model,
            ema.as_ref(),
            &optim,
            &state,
            cfg.keep_last,
        )?);
    }
    bar.finish_and_clear();
    Ok(FitSummary {
        steps: state.step,
        epochs_completed: state.epoch,
        losses,
        last_test,
        // none written by this session: the run was already complete
        checkpoint: last_ckpt.map_or_else(|| checkpoint::latest(out), Ok)?,
        train_seconds: state.train_seconds,
    })
}

/// Opens a metrics file for appending, creating it if needed.
fn append_to(path: &Path) -> anyhow::Result<File> {
    let file = OpenOptions::new().create(true).append(true).open(path);
    file.with_context(|| format!("opening {}", path.display()))
}

/// Flushes the step metrics, writes a checkpoint (keeping the newest `keep_last` and the
/// best), and re-draws the curves (a failure to draw them is a warning).
fn save<B: AutodiffBackend, O: Optimizer<PixelModel<B>, B>>(
    out: &Path,
    metrics: &mut File,
    model: &PixelModel<B>,
    ema: Option<&Ema<B::InnerBackend>>,
    optim: &O,
    state: &TrainState,
    keep_last: usize,
) -> anyhow::Result<PathBuf> {
    metrics.flush()?;
    let mut files = checkpoint::model_files(model);
    files.extend(ema.map(|e| checkpoint::ema_file(&e.model)));
    files.push((OPTIM_FILE, checkpoint::record_bytes::<B, _>(optim.to_record())));
    files.push((STATE_FILE, serde_json::to_vec_pretty(state)?));
    let dir = checkpoint::write_atomic(&out.join(CHECKPOINTS), &checkpoint::step_name(state.step), &files)?;
    // retention: the newest `keep_last` and the best
    let all = checkpoint::list(out)?;
    let cut = all.len().saturating_sub(keep_last.max(1));
    for (step, path) in &all[..cut] {
        if Some(*step) != state.best_step {
            fs::remove_dir_all(path).with_context(|| format!("removing old checkpoint {}", path.display()))?;
        }
    }
    // the curves are a picture of metrics.jsonl, which holds them: a machine without fonts
    // (or an unwritable picture) costs the picture, said once, not the training
    if let Err(e) = plot_run(out) {
        static WARNED: std::sync::Once = std::sync::Once::new();
        let png = out.join("training-curves.png");
        WARNED.call_once(|| eprintln!("warning: {}: curves not drawn ({e:#}); training goes on", png.display()));
    }
    Ok(dir)
}

/// Refuses to resume with a config that would change which images each step sees (the
/// bit-identical resume promise): another seed, batch size or training-set size.
fn check_resumable(ckpt: &Path, state: &mut TrainState, cfg: &TrainConfig, train_items: usize) -> anyhow::Result<()> {
    let refuse = |field: &str, run: String, now: String| {
        anyhow::anyhow!(
            "{}: --resume with {field} {now}, but the run was started with {field} {run}: the remaining steps \
             would see other images than the run promises; keep {field}: {run} (or start a new run)",
            ckpt.display()
        )
    };
    if state.seed != cfg.seed {
        return Err(refuse("seed", state.seed.to_string(), cfg.seed.to_string()));
    }
    let data = "training images (data, train_limit)";
    for (field, run, now) in [
        ("batch_size", &mut state.batch_size, cfg.batch_size),
        (data, &mut state.train_items, train_items),
    ] {
        match *run {
            Some(r) if r != now => return Err(refuse(field, r.to_string(), now.to_string())),
            _ => *run = Some(now),
        }
    }
    Ok(())
}

/// Drops step and epoch metric lines newer than a resumed checkpoint, so the resumed run
/// does not log them twice. An epoch line at the checkpoint's own step is kept only if
/// the checkpoint counts that epoch as done (it was saved after the line was written).
fn truncate_metrics(out: &Path, state: &TrainState) -> anyhow::Result<()> {
    #[derive(Deserialize)]
    struct Line {
        step: u64,
        epoch: usize,
    }
    let keep_step = |l: &Line| l.step <= state.step;
    let keep_epoch = |l: &Line| l.step < state.step || (l.step == state.step && l.epoch <= state.epoch);
    for (file, keep) in [
        (METRICS_FILE, &keep_step as &dyn Fn(&Line) -> bool),
        (EPOCHS_FILE, &keep_epoch),
    ] {
        let path = out.join(file);
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let body: String = text
            .lines()
            .filter(|l| serde_json::from_str::<Line>(l).is_ok_and(|m| keep(&m)))
            .map(|l| format!("{l}\n"))
            .collect();
        replace_file(&path, body.as_bytes())?;
    }
    Ok(())
}

fn write_samples<B: FusedOps>(
    model: &PixelModel<B>,
    test: &Dataset,
    n: usize,
    seed: u64,
    path: &Path,
    device: &B::Device,
) -> anyhow::Result<()> {
    let spec = &model.spec;
    // class models: cycle through the classes; vector models: the test set's vectors;
    // the auto-encoder: reconstructions of test images through their encodings.
    let cond = match spec.conditioning {
        Conditioning::Class { classes } if model.encoder.is_none() => {
            let labels = (0..n).map(|k| (k % classes) as i64).collect();
            Condition::from_host(&CondInput::Labels(labels), device)
        }
        _ => items_condition(model, test, n, device),
    };
    let images = sample(model, n, &cond, seed, 1.0, Mode::Cached, device)?;
    let cols = (n as f64).sqrt().ceil() as usize;
    pixelcnn_core::grid::write_grid(path, &images, [n, spec.channels, spec.height, spec.width], cols, 1)?;
    Ok(())
}

/// Re-draws `training-curves.png` from the run's metric files.
pub fn plot_run(out: &Path) -> anyhow::Result<()> {
    let read = |f: &str| fs::read_to_string(out.join(f)).unwrap_or_default();
    let train: Vec<(u64, f64)> = read(METRICS_FILE)
        .lines()
        .filter_map(|l| serde_json::from_str::<StepMetrics>(l).ok())
        .map(|m| (m.step, m.train_bits_per_dim))
        .collect();
    let test: Vec<(u64, f64)> = read(EPOCHS_FILE)
        .lines()
        .filter_map(|l| serde_json::from_str::<EpochMetrics>(l).ok())
        .map(|m| (m.step, m.test_bits_per_dim))
        .collect();
    plot_curves(&out.join("training-curves.png"), &train, &test)
}
