//! The YAML training config. Unknown keys and bad values are errors naming the key.

use std::path::{Path, PathBuf};

use pixelcnn_models::ModelSpec;
use serde::{Deserialize, Serialize};

use crate::datasets::{self, cifar, folder, idx, Dataset};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub model: ModelSpec,
    pub data: DataConfig,
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    pub batch_size: usize,
    /// Passes over the training set (training also stops at `max_steps`).
    #[serde(default = "one")]
    pub epochs: usize,
    pub max_steps: Option<u64>,
    /// Steps between checkpoints (one is also written at every epoch end and at the end).
    #[serde(default = "default_ckpt_every")]
    pub checkpoint_every: u64,
    /// Checkpoints kept besides the best one.
    #[serde(default = "default_keep")]
    pub keep_last: usize,
    /// Test images scored at each epoch end (all when absent).
    pub eval_limit: Option<usize>,
    /// Images in the per-epoch sample grid (0 = none).
    #[serde(default = "default_samples")]
    pub sample_count: usize,
    #[serde(default)]
    pub seed: u64,
    /// Start the decoder from a trained model's (a checkpoint directory, or a run directory
    /// for its latest checkpoint) instead of from random weights: fine-tuning for another
    /// conditioning, or for a wider model: a source with fewer `hidden` or `head_hidden` maps
    /// is widened first, computing the same function (`PixelModel::widened`), and a vector
    /// code given the spatial map the config asks for (`PixelModel::spatialized`); a source
    /// whose spec then equals this one is taken whole, encoder included. Only a fresh
    /// run reads it; `--resume` continues from the run's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<PathBuf>,
    /// The first N steps update only the auto-encoder's encoder (and its spatial map), the
    /// decoder held as it is: with a decoder from `init_from`, the encoder learns to speak
    /// to it before the decoder adapts to (and learns to ignore) an untrained code.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub freeze_decoder_steps: u64,
    /// Keep an exponential moving average of the weights with this decay per step
    /// (Polyak averaging; PixelCNN++ uses 0.9995): checkpoints then also hold the average,
    /// and epoch-end scores, samples, `trainer eval`/`sample` and exports use it. Set on a
    /// running run's config, the average starts at the resumed weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema_decay: Option<f64>,
    /// Each sub-pixel of a training image that the network reads as context is replaced,
    /// with this probability, by a level drawn uniformly from 0..=255; the targets stay the
    /// true values, and an auto-encoder's encoder reads the true image. A decoder trained so
    /// cannot trust its context blindly and leans on its condition instead, so a slip while
    /// sampling is less likely to carry the image away from its code or label (the pixel
    /// analogue of word dropout, Bowman et al. 2016). The draws depend on the seed, the step
    /// and the image only: exact resume and the worker count are unaffected. 0 (the
    /// default) reads the true images.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub context_noise: f64,
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub(crate) fn one() -> usize {
    1
}
fn default_ckpt_every() -> u64 {
    500
}
fn default_keep() -> usize {
    3
}
fn default_samples() -> usize {
    16
}

/// A missing key takes its value from `OptimizerConfig::default()`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerConfig {
    /// Adam learning rate.
    pub lr: f64,
    /// Multiplicative learning-rate decay per step (1.0 = constant; PixelCNN++ uses 0.999995).
    pub lr_decay: f64,
    /// Adam's epsilon, added to the root of the second moment. burn's default 1e-5 (the
    /// default here, so runs started before this key resume unchanged); PyTorch's is 1e-8.
    /// The loss is a mean over every sub-pixel, so gradients are small: parameters whose
    /// gradients are far below epsilon (an auto-encoder's encoder behind a trained decoder)
    /// barely move with 1e-5.
    pub epsilon: f64,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
    /// Clip the global gradient norm to this value.
    pub grad_clip: Option<f32>,
    /// A final linear decay of the learning rate to zero (the last phase of a
    /// warm-up / stable / decay schedule): set on a running run's config to anneal it where
    /// it stands. The run ends when the cool-down does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Cooldown>,
}

/// From optimizer step `start` on, the learning rate is scaled by
/// `(start + steps - step) / steps`: 1 at `start`, `1 / steps` at the last step,
/// `start + steps - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cooldown {
    pub start: u64,
    pub steps: u64,
}

impl Cooldown {
    /// The number of optimizer steps a run with this cool-down takes in all.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.steps)
    }

    fn factor(&self, step: u64) -> f64 {
        if step < self.start {
            1.0
        } else {
            self.end().saturating_sub(step) as f64 / self.steps as f64
        }
    }
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            lr_decay: 1.0,
            epsilon: 1e-5,
            warmup_steps: 0,
            grad_clip: None,
            cooldown: None,
        }
    }
}

impl OptimizerConfig {
    /// Learning rate used for optimizer step `step` (0-based).
    pub fn lr_at(&self, step: u64) -> f64 {
        let warm = if self.warmup_steps > 0 && step < self.warmup_steps {
            (step + 1) as f64 / self.warmup_steps as f64
        } else {
            1.0
        };
        let cool = self.cooldown.map_or(1.0, |c| c.factor(step));
        self.lr * warm * self.lr_decay.powf(step as f64) * cool
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataFormat {
    /// MNIST-style IDX files (`train-images-idx3-ubyte[.gz]`, ..., `t10k-...`).
    Idx,
    /// CIFAR-10 binary batches.
    Cifar10,
    /// `path/train/<class>/*` and `path/test/<class>/*`.
    Folder,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub format: DataFormat,
    pub path: PathBuf,
    /// `.npy` conditioning vectors for vector/spatial conditioning, one row per image.
    pub train_vectors: Option<PathBuf>,
    pub test_vectors: Option<PathBuf>,
    /// Use only the first N training images.
    pub train_limit: Option<usize>,
}

/// A config problem, naming the file and key.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct ConfigError {
    pub path: PathBuf,
    pub problem: String,
}

impl TrainConfig {
    pub fn from_yaml(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let err = |problem: String| ConfigError {
            path: path.to_path_buf(),
            problem,
        };
        let cfg: TrainConfig = serde_yaml_ng::from_str(text).map_err(|e| err(e.to_string()))?;
        cfg.model.validate().map_err(|e| err(format!("model: {e}")))?;
        let check = |ok: bool, problem: String| if ok { Ok(()) } else { Err(err(problem)) };
        check(cfg.batch_size > 0, "batch_size: must be positive".into())?;
        check(cfg.epochs > 0, "epochs: must be positive".into())?;
        check(cfg.checkpoint_every > 0, "checkpoint_every: must be positive".into())?;
        let (lr, decay) = (cfg.optimizer.lr, cfg.optimizer.lr_decay);
        check(
            lr > 0.0 && lr.is_finite(),
            format!("optimizer.lr: must be a positive number, got {lr}"),
        )?;
        check(
            decay > 0.0 && decay <= 1.0,
            format!("optimizer.lr_decay: must be in (0, 1], got {decay}"),
        )?;
        check(
            cfg.freeze_decoder_steps == 0 || cfg.model.encoder.is_some(),
            "freeze_decoder_steps: only an auto-encoder (arch: autoencoder) trains anything besides its decoder".into(),
        )?;
        if let Some(d) = cfg.ema_decay {
            check(d > 0.0 && d < 1.0, format!("ema_decay: must be in (0, 1), got {d}"))?;
        }
        let p = cfg.context_noise;
        check(
            (0.0..1.0).contains(&p),
            format!("context_noise: must be a probability in [0, 1), got {p}"),
        )?;
        let eps = cfg.optimizer.epsilon;
        check(
            eps > 0.0 && eps < 1.0,
            format!("optimizer.epsilon: must be in (0, 1), got {eps}"),
        )?;
        if let Some(c) = cfg.optimizer.cooldown {
            check(c.steps > 0, "optimizer.cooldown.steps: must be positive".into())?;
        }
        if let Some(c) = cfg.optimizer.grad_clip {
            // `c > 0.0` is false for NaN too
            check(c > 0.0, format!("optimizer.grad_clip: must be positive, got {c}"))?;
        }
        Ok(cfg)
    }

    /// Optimizer steps after which training stops: `max_steps`, or the end of the
    /// learning rate's cool-down if that comes first.
    pub fn step_limit(&self) -> u64 {
        let cool = self.optimizer.cooldown.map_or(u64::MAX, |c| c.end());
        self.max_steps.unwrap_or(u64::MAX).min(cool)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        Self::from_yaml(path, &text)
    }

    /// Loads and checks the train or test split.
    pub fn load_split(&self, train: bool) -> Result<Dataset, datasets::DataError> {
        let d = &self.data;
        let s = &self.model;
        let mut ds = match d.format {
            DataFormat::Idx => idx::load_split(&d.path, if train { "train" } else { "t10k" })?,
            DataFormat::Cifar10 => cifar::load_split(&d.path, train)?,
            DataFormat::Folder => folder::load(
                &d.path.join(if train { "train" } else { "test" }),
                s.channels,
                s.height,
                s.width,
            )?,
        };
        if let Some(v) = if train { &d.train_vectors } else { &d.test_vectors } {
            ds.attach_vectors(v)?;
        }
        if train {
            if let Some(n) = d.train_limit {
                ds.truncate(n);
            }
        }
        if ds.is_empty() {
            let which = if train { "training" } else { "test" };
            return Err(datasets::data_err(
                &ds.source,
                format!("the {which} split holds no images: expected at least one"),
            ));
        }
        ds.check_against(s)?;
        Ok(ds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "
model: {arch: gated, channels: 1, height: 28, width: 28, layers: 2, hidden: 8}
data: {format: idx, path: data/mnist}
batch_size: 4
";

    #[test]
    fn parses_defaults() {
        let c = TrainConfig::from_yaml(Path::new("c.yaml"), GOOD).unwrap();
        assert_eq!(c.epochs, 1);
        assert_eq!(c.optimizer.lr, 1e-3);
        assert_eq!(c.model.kernel, 3);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = TrainConfig::from_yaml(Path::new("c.yaml"), &format!("{GOOD}learning_rate: 3\n")).unwrap_err();
        assert!(
            e.to_string().contains("c.yaml") && e.to_string().contains("learning_rate"),
            "{e}"
        );
        let e = TrainConfig::from_yaml(Path::new("c.yaml"), &GOOD.replace("hidden: 8", "hidden: 8, dropout: 1"))
            .unwrap_err();
        assert!(e.to_string().contains("dropout"), "{e}");
        let e =
            TrainConfig::from_yaml(Path::new("c.yaml"), &GOOD.replace("batch_size: 4", "batch_size: 0")).unwrap_err();
        assert!(e.to_string().contains("batch_size"), "{e}");
        let e = TrainConfig::from_yaml(Path::new("c.yaml"), &GOOD.replace("layers: 2", "layers: 2, kernel: 4"))
            .unwrap_err();
        assert!(e.to_string().contains("kernel"), "{e}");
        let e = TrainConfig::from_yaml(Path::new("c.yaml"), &format!("{GOOD}optimizer: {{lr: -1}}\n")).unwrap_err();
        assert!(e.to_string().contains("optimizer.lr"), "{e}");
        let e = TrainConfig::from_yaml(
            Path::new("c.yaml"),
            &format!(
                "{GOOD}optimizer: {{epsilon: 0}}
"
            ),
        )
        .unwrap_err();
        assert!(e.to_string().contains("optimizer.epsilon"), "{e}");
        let e = TrainConfig::from_yaml(Path::new("c.yaml"), &format!("{GOOD}freeze_decoder_steps: 5\n")).unwrap_err();
        assert!(e.to_string().contains("freeze_decoder_steps"), "{e}");
        let e = TrainConfig::from_yaml(Path::new("c.yaml"), &GOOD.replace("format: idx", "format: tiff")).unwrap_err();
        assert!(e.to_string().contains("tiff"), "{e}");
    }

    #[test]
    fn lr_schedule() {
        let o = OptimizerConfig {
            lr: 1.0,
            lr_decay: 0.5,
            epsilon: 1e-8,
            warmup_steps: 2,
            grad_clip: None,
            cooldown: None,
        };
        assert_eq!(o.lr_at(0), 0.5);
        assert_eq!(o.lr_at(2), 0.25);
        let o = OptimizerConfig {
            lr_decay: 1.0,
            warmup_steps: 0,
            cooldown: Some(Cooldown { start: 10, steps: 4 }),
            ..o
        };
        let lrs: Vec<f64> = (8..16).map(|s| o.lr_at(s)).collect();
        assert_eq!(lrs, [1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]);
    }

    #[test]
    fn cooldown_ends_the_run() {
        let cfg = |extra: &str| TrainConfig::from_yaml(Path::new("c.yaml"), &format!("{GOOD}{extra}"));
        assert_eq!(cfg("").unwrap().step_limit(), u64::MAX);
        assert_eq!(cfg("max_steps: 7\n").unwrap().step_limit(), 7);
        let c = "optimizer: {cooldown: {start: 3, steps: 2}}\n";
        assert_eq!(cfg(c).unwrap().step_limit(), 5);
        assert_eq!(cfg(&format!("{c}max_steps: 4\n")).unwrap().step_limit(), 4);
        let e = cfg("optimizer: {cooldown: {start: 3, steps: 0}}\n").unwrap_err();
        assert!(e.to_string().contains("optimizer.cooldown.steps"), "{e}");
        let e = cfg("optimizer: {cooldown: {start: 3}}\n").unwrap_err();
        assert!(e.to_string().contains("steps"), "{e}");
    }
}
