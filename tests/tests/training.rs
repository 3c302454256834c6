//! Trainer tests on tiny models: overfitting, exact resume, atomic checkpoints,
//! data/config errors.

use std::path::{Path, PathBuf};

use burn::backend::Autodiff;
use pixelcnn_models::backend::Cpu;
use pixelcnn_models::checkpoint;
use pixelcnn_trainer::{fit, FitOptions, TrainConfig};

type B = Autodiff<Cpu>;

/// Writes an MNIST-style IDX directory of `n` synthetic `size x size` images.
fn write_idx(dir: &Path, n: usize, size: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for prefix in ["train", "t10k"] {
        let mut imgs = vec![0, 0, 8, 3];
        for v in [n as u32, size as u32, size as u32] {
            imgs.extend(v.to_be_bytes());
        }
        let mut lbls = vec![0, 0, 8, 1];
        lbls.extend((n as u32).to_be_bytes());
        for k in 0..n {
            // a bright bar whose row depends on the image: easy structure to learn
            for i in 0..size {
                for j in 0..size {
                    imgs.push(if i == (k * 3) % size || j == k % size { 230 } else { 10 });
                }
            }
            lbls.push((k % 10) as u8);
        }
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), imgs).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), lbls).unwrap();
    }
}

fn config(data: &Path, extra: &str) -> TrainConfig {
    let text = format!(
        "model: {{arch: gated, channels: 1, height: 10, width: 10, layers: 2, hidden: 8, first_kernel: 5, head_hidden: 16}}
data: {{format: idx, path: {}}}
optimizer: {{lr: 0.01}}
batch_size: 4
sample_count: 0
seed: 3
{extra}",
        data.display()
    );
    TrainConfig::from_yaml(Path::new("test.yaml"), &text).unwrap()
}

fn opts(out: &Path, resume: bool) -> FitOptions {
    FitOptions {
        out: out.to_path_buf(),
        resume,
        progress: false,
        workers: None,
        stop: Default::default(),
    }
}

fn losses(run: &Path) -> Vec<String> {
    // compare the exact text of each loss as logged
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("{}:{}", v["step"], v["train_bits_per_dim"])
        })
        .collect()
}

#[test]
fn tiny_model_overfits_a_handful_of_images() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 4, 10);
    let cfg = config(&data, "epochs: 150\ncheckpoint_every: 1000\n");
    let s = fit::<B>(&cfg, &opts(&tmp.path().join("run"), false), &Default::default()).unwrap();
    let first = s.losses[0];
    let last = *s.losses.last().unwrap();
    assert!(first > 6.0, "starts near uniform (8 bits/dim), got {first}");
    assert!(last < 1.0, "4 images should be memorised: {first} -> {last}");
}

#[test]
fn resume_continues_bit_identically() {
    // one worker, and a batch split across two threads (the default on a 2-core machine);
    // with context noise, whose draws must follow the step and the images
    for (workers, extra) in [(1, ""), (2, ""), (2, "context_noise: 0.2\n")] {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        write_idx(&data, 12, 10);
        let cfg = config(&data, &format!("epochs: 3\ncheckpoint_every: 2\n{extra}"));
        let opts = |out: &Path, resume: bool| FitOptions {
            workers: Some(workers),
            ..opts(out, resume)
        };
        let full = tmp.path().join("full");
        fit::<B>(&cfg, &opts(&full, false), &Default::default()).unwrap();

        // interrupted run: stop mid-epoch at step 4 (epoch 1, batch 1 of 3), then resume;
        // the resumed run takes its worker count from the checkpoint
        let mut first = cfg.clone();
        first.max_steps = Some(4);
        let part = tmp.path().join("part");
        fit::<B>(&first, &opts(&part, false), &Default::default()).unwrap();
        let resume = FitOptions {
            workers: None,
            ..opts(&part, true)
        };
        let resumed = fit::<B>(&cfg, &resume, &Default::default()).unwrap();
        assert_eq!(resumed.steps, 9);
        let (a, b) = (losses(&full), losses(&part));
        assert_eq!(a.len(), 9);
        assert_eq!(
            a, b,
            "workers {workers}: resumed losses differ from the uninterrupted run"
        );
        // and the final weights are the same: identical logits, bit for bit
        let logits = |run: &Path| -> Vec<f32> {
            let dev = Default::default();
            let m = checkpoint::load_model::<Cpu>(&checkpoint::latest(run).unwrap(), &dev).unwrap();
            let x = burn::tensor::Tensor::<Cpu, 4>::from_data(
                burn::tensor::TensorData::new(vec![100f32; 100], [1, 1, 10, 10]),
                &dev,
            );
            m.forward(x, &pixelcnn_models::Condition::None)
                .into_data()
                .to_vec()
                .unwrap()
        };
        assert!(
            logits(&full) == logits(&part),
            "workers {workers}: final weights differ"
        );
    }
}

#[test]
fn a_stop_request_checkpoints_the_current_step_and_resume_is_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 12, 10);
    // checkpoints far apart: only the stop request writes one mid-run
    let cfg = config(&data, "epochs: 2\ncheckpoint_every: 1000\n");
    let full = tmp.path().join("full");
    fit::<B>(&cfg, &opts(&full, false), &Default::default()).unwrap();

    let part = tmp.path().join("part");
    let stop = FitOptions {
        stop: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
        ..opts(&part, false)
    };
    let s = fit::<B>(&cfg, &stop, &Default::default()).unwrap();
    assert_eq!(s.steps, 0, "a stop before the first step takes none");
    let mut first = cfg.clone();
    first.max_steps = Some(2);
    let part2 = tmp.path().join("part2");
    fit::<B>(&first, &opts(&part2, false), &Default::default()).unwrap();
    // stop requested while resuming at step 2 (mid-epoch): a checkpoint at step 2, no eval
    let s = fit::<B>(
        &cfg,
        &FitOptions {
            resume: true,
            ..stop_for(&part2)
        },
        &Default::default(),
    )
    .unwrap();
    assert_eq!(s.steps, 2);
    assert!(
        s.checkpoint.ends_with(checkpoint::step_name(2)),
        "{}",
        s.checkpoint.display()
    );
    fit::<B>(&cfg, &opts(&part2, true), &Default::default()).unwrap();
    assert_eq!(
        losses(&full),
        losses(&part2),
        "a stopped and resumed run differs from an uninterrupted one"
    );
}

fn stop_for(out: &Path) -> FitOptions {
    FitOptions {
        stop: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
        ..opts(out, false)
    }
}

#[test]
fn a_batch_split_across_threads_trains_like_one_thread() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 12, 10);
    let cfg = config(&data, "epochs: 2\ncheckpoint_every: 100\n");
    let run = |workers: usize| {
        let o = FitOptions {
            workers: Some(workers),
            ..opts(&tmp.path().join(format!("w{workers}")), false)
        };
        fit::<B>(&cfg, &o, &Default::default()).unwrap().losses
    };
    let (one, split) = (run(1), run(3));
    assert_eq!(one.len(), 6);
    for (step, (a, b)) in one.iter().zip(&split).enumerate() {
        // the same gradients summed in another order: equal up to float rounding
        assert!(
            (a - b).abs() < 1e-4 * a.abs(),
            "step {step}: 1 worker {a}, 3 workers {b}"
        );
    }
    assert!(one[5] < one[0], "training makes progress: {one:?}");
}

#[test]
fn checkpoints_are_atomic_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 8, 10);
    let cfg = config(&data, "epochs: 5\nmax_steps: 4\ncheckpoint_every: 2\nkeep_last: 1\n");
    let run = tmp.path().join("run");
    fit::<B>(&cfg, &opts(&run, false), &Default::default()).unwrap();
    let names: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".tmp")),
        "temporary dirs left: {names:?}"
    );
    // a left-over temp dir (a crash mid-write) is ignored by readers
    std::fs::create_dir_all(run.join("checkpoints/.tmp-step-000000099")).unwrap();
    let latest = checkpoint::latest(&run).unwrap();
    assert!(latest.ends_with("step-000000004"), "{latest:?}");
    // corruption is detected and named
    let model = latest.join(checkpoint::MODEL_FILE);
    let mut bytes = std::fs::read(&model).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&model, bytes).unwrap();
    let err = checkpoint::load_model::<Cpu>(&latest, &Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains(checkpoint::MODEL_FILE) && err.contains("corrupt"), "{err}");
    // a fresh fit into a run with checkpoints refuses to overwrite it
    let err = fit::<B>(&cfg, &opts(&run, false), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--resume"), "{err}");
}

#[test]
fn an_empty_split_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 0, 10);
    for train in [true, false] {
        let msg = config(&data, "").load_split(train).unwrap_err().to_string();
        assert!(msg.contains("idx3-ubyte") && msg.contains("no images"), "{msg}");
    }
    // a training limit of 0 leaves nothing to train on
    write_idx(&data, 4, 10);
    let mut cfg = config(&data, "");
    cfg.data.train_limit = Some(0);
    let err = fit::<B>(&cfg, &opts(&tmp.path().join("r"), false), &Default::default()).unwrap_err();
    assert!(format!("{err:#}").contains("no images"), "{err:#}");
}

#[test]
fn resume_refuses_a_config_that_changes_the_data_order() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 12, 10);
    let cfg = config(&data, "max_steps: 2\n");
    let run = tmp.path().join("run");
    fit::<B>(&cfg, &opts(&run, false), &Default::default()).unwrap();
    let mut seed = cfg.clone();
    seed.seed = 4;
    let mut batch = cfg.clone();
    batch.batch_size = 3;
    let mut limit = cfg.clone();
    limit.data.train_limit = Some(8);
    for (changed, field) in [(seed, "seed"), (batch, "batch_size"), (limit, "training images")] {
        let err = fit::<B>(&changed, &opts(&run, true), &Default::default()).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains(field) && msg.contains("--resume"), "{msg}");
    }
    // the same config still resumes
    let mut more = cfg.clone();
    more.max_steps = Some(3);
    assert_eq!(
        fit::<B>(&more, &opts(&run, true), &Default::default()).unwrap().steps,
        3
    );
}

#[test]
fn resume_drops_epoch_lines_newer_than_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 8, 10);
    // 2 batches per epoch; checkpoints at every step
    let cfg = config(&data, "epochs: 2\ncheckpoint_every: 1\nkeep_last: 10\neval_limit: 4\n");
    let run = tmp.path().join("run");
    fit::<B>(&cfg, &opts(&run, false), &Default::default()).unwrap();
    let epochs = |run: &Path| -> Vec<u64> {
        std::fs::read_to_string(run.join("epochs.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(epochs(&run), vec![2, 4]);
    // lose every checkpoint after step 3 (as if killed there), then resume
    for (step, dir) in checkpoint::list(&run).unwrap() {
        if step > 3 {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
    fit::<B>(&cfg, &opts(&run, true), &Default::default()).unwrap();
    assert_eq!(epochs(&run), vec![2, 4], "each epoch logged once");
}

#[test]
fn bad_data_gives_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 4, 10);
    // wrong image size for the model
    let mut cfg = config(&data, "");
    cfg.model.height = 12;
    cfg.model.width = 12;
    let err = fit::<B>(&cfg, &opts(&tmp.path().join("r1"), false), &Default::default()).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("train-images-idx3-ubyte") && msg.contains("12x12"),
        "{msg}"
    );
    // label out of range for a class model
    let mut cfg = config(&data, "");
    cfg.model.conditioning = pixelcnn_models::Conditioning::Class { classes: 2 };
    let msg = format!(
        "{:#}",
        fit::<B>(&cfg, &opts(&tmp.path().join("r2"), false), &Default::default()).unwrap_err()
    );
    assert!(msg.contains("label 2") && msg.contains("0..=1"), "{msg}");
    // count mismatch between images and labels
    let lbl: PathBuf = data.join("train-labels-idx1-ubyte");
    let mut b = std::fs::read(&lbl).unwrap();
    b[7] = 3;
    b.pop();
    std::fs::write(&lbl, b).unwrap();
    let msg = format!(
        "{:#}",
        fit::<B>(
            &config(&data, ""),
            &opts(&tmp.path().join("r3"), false),
            &Default::default()
        )
        .unwrap_err()
    );
    assert!(
        msg.contains("train-labels-idx1-ubyte") && msg.contains("3 labels"),
        "{msg}"
    );
    // vector model without vectors, then with a wrong row count
    let mut cfg = config(&data, "");
    write_idx(&data, 4, 10);
    cfg.model.conditioning = pixelcnn_models::Conditioning::Vector { dim: 3 };
    let msg = format!(
        "{:#}",
        fit::<B>(&cfg, &opts(&tmp.path().join("r4"), false), &Default::default()).unwrap_err()
    );
    assert!(msg.contains("train_vectors"), "{msg}");
    let npy = tmp.path().join("v.npy");
    pixelcnn_core::npy::write_matrix(&npy, &[0.0; 9], 3, 3).unwrap();
    cfg.data.train_vectors = Some(npy.clone());
    let msg = format!(
        "{:#}",
        fit::<B>(&cfg, &opts(&tmp.path().join("r5"), false), &Default::default()).unwrap_err()
    );
    assert!(msg.contains("v.npy") && msg.contains("3 rows"), "{msg}");
}

#[test]
fn vector_conditioned_training_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 4, 12);
    let npy = tmp.path().join("v.npy");
    pixelcnn_core::npy::write_matrix(&npy, &(0..8).map(|v| v as f32 / 8.0).collect::<Vec<_>>(), 4, 2).unwrap();
    let mut cfg = config(&data, "epochs: 2\nmax_steps: 2\n");
    cfg.model.height = 12;
    cfg.model.width = 12;
    cfg.model.conditioning = pixelcnn_models::Conditioning::Spatial {
        dim: 2,
        map_channels: 3,
    };
    cfg.data.train_vectors = Some(npy.clone());
    cfg.data.test_vectors = Some(npy);
    cfg.sample_count = 2;
    let s = fit::<B>(&cfg, &opts(&tmp.path().join("run"), false), &Default::default()).unwrap();
    assert_eq!(s.steps, 2);
    assert!(tmp.path().join("run/samples-epoch-001.png").exists());
    assert!(tmp.path().join("run/training-curves.png").exists());
}

#[test]
fn a_diverging_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 8, 10);
    // Adam moves every weight by ~lr per step: 1e30 overflows the logits within steps
    let mut cfg = config(&data, "epochs: 50\ncheckpoint_every: 1\n");
    cfg.optimizer.lr = 1e30;
    let run = tmp.path().join("run");
    let err = fit::<B>(&cfg, &opts(&run, false), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("training diverged") && err.contains("last good checkpoint is"),
        "{err}"
    );
    // the checkpoints on disk are complete and load
    let latest = checkpoint::latest(&run).unwrap();
    assert!(err.contains(&latest.display().to_string()), "{err}");
    checkpoint::load_model::<Cpu>(&latest, &Default::default()).unwrap();
}

#[test]
fn gradient_clipping_scales_every_gradient_by_one_global_factor() {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::Tensor;
    use pixelcnn_trainer::fit::{batch_gradients, clip_global_norm, Workers};

    /// Every parameter's gradient, flattened, in visit order.
    struct Collect<'a>(&'a burn::optim::GradientsParams, Vec<Vec<f32>>);
    impl ModuleVisitor<B> for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
            let g = self.0.get::<Cpu, D>(p.id).expect("every parameter has a gradient");
            self.1.push(g.into_data().convert::<f32>().to_vec().unwrap());
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 8, 10);
    let cfg = config(&data, "");
    let dev = Default::default();
    let model = pixelcnn_models::PixelModel::<B>::new(&cfg.model, 1, &dev);
    let train = cfg.load_split(true).unwrap();
    let one = Workers::new(1).unwrap();
    let grads = || batch_gradients(&model, &train, &[0, 1, 2, 3], None, &one, &dev).1;
    let mut raw = grads();
    let norm = clip_global_norm(&model, &mut raw, f64::MAX); // measures, clips nothing
    let mut before = Collect(&raw, vec![]);
    model.visit(&mut before);
    let direct: f64 = before
        .1
        .iter()
        .flatten()
        .map(|&v| (v as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!((norm - direct).abs() < 1e-4 * direct, "{norm} vs {direct}");

    let max = norm / 4.0;
    let mut clipped = grads();
    assert!((clip_global_norm(&model, &mut clipped, max) - norm).abs() < 1e-6 * norm);
    let mut after = Collect(&clipped, vec![]);
    model.visit(&mut after);
    let factor = max / (norm + 1e-6);
    for (a, b) in before.1.iter().zip(&after.1) {
        for (x, y) in a.iter().zip(b) {
            assert!(((*x as f64) * factor - *y as f64).abs() < 1e-6 + 1e-5 * y.abs() as f64);
        }
    }
    let new_norm: f64 = after
        .1
        .iter()
        .flatten()
        .map(|&v| (v as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!((new_norm - max).abs() < 1e-3 * max, "{new_norm} vs {max}");
    // a bound above the norm leaves the gradients alone
    let mut free = grads();
    clip_global_norm(&model, &mut free, norm * 2.0);
    let mut same = Collect(&free, vec![]);
    model.visit(&mut same);
    assert_eq!(same.1, before.1);
}

/// Several threads training at once, some splitting their batches over two workers, with
/// kernels large enough to run in parallel: every one finishes (no thread waits on a
/// pool whose threads wait on its autodiff graph lock), and each gets the losses a lone
/// run with as many workers gets.
#[test]
fn concurrent_trainings_with_split_batches_finish_and_agree() {
    use pixelcnn_trainer::datasets::Dataset;
    use pixelcnn_trainer::fit::{batch_gradients, Workers};
    use std::sync::{mpsc, Arc};
    use std::time::Duration;

    fn losses(cfg: &TrainConfig, train: &Dataset, workers: usize) -> Vec<f64> {
        let dev = Default::default();
        let model = pixelcnn_models::PixelModel::<B>::new(&cfg.model, 1, &dev);
        let workers = Workers::new(workers).unwrap();
        let idx: Vec<usize> = (0..16).collect();
        (0..8)
            .map(|_| batch_gradients(&model, train, &idx, None, &workers, &dev).0)
            .collect()
    }

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 16, 28);
    let text = format!(
        "model: {{arch: gated, channels: 1, height: 28, width: 28, layers: 2, hidden: 32, first_kernel: 5, head_hidden: 32}}
data: {{format: idx, path: {}}}
batch_size: 16
seed: 3",
        data.display()
    );
    let cfg = Arc::new(TrainConfig::from_yaml(Path::new("test.yaml"), &text).unwrap());
    let train = Arc::new(cfg.load_split(true).unwrap());
    // one worker runs on the caller's thread with the global pool, two on their own
    let counts = [1, 2, 1, 2, 1, 2];
    let alone = [losses(&cfg, &train, 1), losses(&cfg, &train, 2)];
    let (tx, rx) = mpsc::channel();
    for n in counts {
        let (tx, cfg, train) = (tx.clone(), cfg.clone(), train.clone());
        // detached: a stalled thread fails the test below instead of hanging it
        std::thread::spawn(move || tx.send((n, losses(&cfg, &train, n))).unwrap());
    }
    for _ in counts {
        let (n, got) = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("concurrent trainings stalled (deadlock)");
        assert_eq!(got, alone[n - 1], "{n} worker(s)");
    }
}

#[test]
fn init_from_starts_the_decoder_from_a_trained_model() {
    use burn::tensor::{Int, Tensor, TensorData};
    use pixelcnn_models::conditioning::CondProjection;
    use pixelcnn_models::{Condition, Conditioning, EncoderSpec, PixelModel};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 8, 12);
    let sized = |extra: &str| {
        let mut cfg = config(&data, extra);
        cfg.model.height = 12;
        cfg.model.width = 12;
        cfg
    };
    // the source: a class-conditional model trained a few steps
    let mut source = sized("max_steps: 3\n");
    source.model.conditioning = Conditioning::Class { classes: 10 };
    let src_run = tmp.path().join("src");
    fit::<B>(&source, &opts(&src_run, false), &Default::default()).unwrap();

    // an auto-encoder started from it, one step at a negligible learning rate
    let mut ae = sized("max_steps: 1\n");
    ae.model.arch = pixelcnn_models::Arch::Autoencoder;
    ae.model.encoder = Some(EncoderSpec {
        bottleneck: 4,
        hidden: 8,
        map_channels: Some(3),
    });
    ae.optimizer.lr = 1e-12;
    ae.init_from = Some(src_run.clone());
    let run = tmp.path().join("ae");
    fit::<B>(&ae, &opts(&run, false), &Default::default()).unwrap();

    let device = Default::default();
    let load = |dir: &Path| checkpoint::load_model::<Cpu>(&checkpoint::latest(dir).unwrap(), &device).unwrap();
    let (src, tuned) = (load(&src_run), load(&run));
    let fresh = PixelModel::<Cpu>::new(&ae.model, ae.seed, &device);
    let values = |m: &PixelModel<Cpu>, layer: usize| {
        let g = m.gated().unwrap();
        let l = &g.layers[layer];
        let mut v = Vec::new();
        for c in [&l.v_conv, &l.link, &l.h_conv, &l.h_out, &g.head.hidden, &g.head.out] {
            v.extend(c.weight.val().into_data().to_vec::<f32>().unwrap());
        }
        v
    };
    let diff = |a: Vec<f32>, b: Vec<f32>| a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    for layer in 0..2 {
        assert!(
            diff(values(&tuned, layer), values(&src, layer)) < 1e-6,
            "layer {layer} not copied"
        );
        assert!(
            diff(values(&tuned, layer), values(&fresh, layer)) > 1e-3,
            "layer {layer}"
        );
    }
    // the conditioning is the auto-encoder's own, freshly initialised
    assert!(tuned.encoder.is_some() && tuned.spatial_map.is_some());
    let cond = |m: &PixelModel<Cpu>| match &m.gated().unwrap().layers[1].h_cond {
        Some(CondProjection::Map(c)) => c.weight.val().into_data().to_vec::<f32>().unwrap(),
        other => panic!("expected a spatial projection, got {other:?}"),
    };
    assert!(diff(cond(&tuned), cond(&fresh)) < 1e-6);

    // an auto-encoder whose code has as many dimensions as the source has classes, seen as
    // a vector: its projections are the label projections (the code starts out meaning labels)
    let mut vector = ae.clone();
    vector.model.encoder = Some(EncoderSpec {
        bottleneck: 10,
        hidden: 8,
        map_channels: None,
    });
    let vrun = tmp.path().join("vector");
    fit::<B>(&vector, &opts(&vrun, false), &Default::default()).unwrap();
    let dense = |m: &PixelModel<Cpu>| match &m.gated().unwrap().layers[1].v_cond {
        Some(CondProjection::Dense(w)) => w.val().into_data().to_vec::<f32>().unwrap(),
        other => panic!("expected a dense projection, got {other:?}"),
    };
    let vfresh = PixelModel::<Cpu>::new(&vector.model, vector.seed, &device);
    let vtuned = load(&vrun);
    // label projections with their mean row taken out (moved into the layer's bias)
    let centred = |v: Vec<f32>| {
        let out = v.len() / 10;
        let mean: Vec<f32> = (0..out)
            .map(|j| (0..10).map(|k| v[k * out + j]).sum::<f32>() / 10.0)
            .collect();
        v.iter().enumerate().map(|(i, x)| x - mean[i % out]).collect::<Vec<_>>()
    };
    assert!(diff(dense(&vtuned), centred(dense(&src))) < 1e-6);
    assert!(diff(dense(&vtuned), dense(&vfresh)) > 1e-3);
    assert!(diff(values(&vtuned, 0), values(&src, 0)) < 1e-6);
    // its encoder starts at the zero code ...
    let vencoder = vtuned.encoder.as_ref().unwrap();
    let w = vencoder.linear_w.val().into_data().to_vec::<f32>().unwrap();
    let b = vencoder.linear_b.val().into_data().to_vec::<f32>().unwrap();
    assert!(w.iter().chain(&b).all(|v| v.abs() < 1e-6), "{b:?}");
    // ... which means the average label, while a one-hot code still draws its label: the
    // auto-encoder's decoder given h = e_k scores as the class model given label k, and
    // given h = 0 as given h = 0 + c (1, ..., 1)
    let images = Tensor::<Cpu, 4>::from_data(
        TensorData::new(
            (0..2 * 144).map(|v| ((v * 37) % 256) as f32).collect::<Vec<_>>(),
            [2, 1, 12, 12],
        ),
        &device,
    );
    let labels = Tensor::<Cpu, 1, Int>::from_data(TensorData::new(vec![3i64, 7], [2]), &device);
    let onehot = labels.clone().one_hot::<2>(10).float();
    let logits =
        |m: &PixelModel<Cpu>, c: Condition<Cpu>| m.forward(images.clone(), &c).into_data().to_vec::<f32>().unwrap();
    let class = logits(&src, Condition::Class(labels));
    let code = logits(&vtuned, Condition::Vector(onehot));
    assert!(diff(class, code) < 1e-4);
    let zero = logits(&vtuned, Condition::Vector(Tensor::zeros([2, 10], &device)));
    let shifted = logits(
        &vtuned,
        Condition::Vector(Tensor::ones([2, 10], &device).mul_scalar(0.7)),
    );
    assert!(diff(zero.clone(), shifted) < 1e-4);
    assert!(
        diff(
            zero,
            logits(&vfresh, Condition::Vector(Tensor::zeros([2, 10], &device)))
        ) > 1e-3
    );

    // an unconditional model from the class model starts as it given the average label: as
    // the auto-encoder's decoder given h = 0 (both got the labels' mean row in their biases)
    let mut plain = sized("max_steps: 1\n");
    plain.optimizer.lr = 1e-12;
    plain.init_from = Some(src_run.clone());
    let prun = tmp.path().join("plain");
    fit::<B>(&plain, &opts(&prun, false), &Default::default()).unwrap();
    let unconditional = logits(&load(&prun), Condition::None);
    let average = logits(&vtuned, Condition::Vector(Tensor::zeros([2, 10], &device)));
    assert!(diff(unconditional.clone(), average) < 1e-4);

    // and a class model from the unconditional one starts as it for every label, its label
    // projections at zero; a step at a real learning rate moves them
    let mut relabelled = source.clone();
    relabelled.optimizer.lr = 1e-12;
    relabelled.max_steps = Some(1);
    relabelled.init_from = Some(prun.clone());
    let crun = tmp.path().join("relabelled");
    fit::<B>(&relabelled, &opts(&crun, false), &Default::default()).unwrap();
    let class_model = load(&crun);
    for label in [0i64, 3, 9] {
        let labels = Tensor::<Cpu, 1, Int>::from_data(TensorData::new(vec![label; 2], [2]), &device);
        assert!(diff(logits(&class_model, Condition::Class(labels)), unconditional.clone()) < 1e-4);
    }
    let fresh_class = PixelModel::<Cpu>::new(&relabelled.model, relabelled.seed, &device);
    let labels = Tensor::<Cpu, 1, Int>::from_data(TensorData::new(vec![3i64, 7], [2]), &device);
    assert!(diff(logits(&fresh_class, Condition::Class(labels)), unconditional.clone()) > 1e-3);
    let mut learning = relabelled.clone();
    learning.optimizer.lr = 0.01;
    let lrun = tmp.path().join("learning");
    fit::<B>(&learning, &opts(&lrun, false), &Default::default()).unwrap();
    assert!(
        diff(dense(&load(&lrun)), dense(&class_model)) > 1e-4,
        "the label projections did not train"
    );

    // with the decoder frozen, a real step changes the encoder and nothing of the decoder
    let mut frozen = vector.clone();
    frozen.optimizer.lr = 0.01;
    frozen.freeze_decoder_steps = 1;
    // a checkpoint directory serves as well as a run directory
    frozen.init_from = Some(checkpoint::latest(&src_run).unwrap());
    let frun = tmp.path().join("frozen");
    fit::<B>(&frozen, &opts(&frun, false), &Default::default()).unwrap();
    let ftuned = load(&frun);
    for layer in 0..2 {
        assert_eq!(
            diff(values(&ftuned, layer), values(&src, layer)),
            0.0,
            "layer {layer} moved"
        );
    }
    assert!(diff(dense(&ftuned), centred(dense(&src))) < 1e-6);
    let enc = |m: &PixelModel<Cpu>| {
        m.encoder
            .as_ref()
            .unwrap()
            .linear_w
            .val()
            .into_data()
            .to_vec::<f32>()
            .unwrap()
    };
    assert!(diff(enc(&ftuned), enc(&vtuned)) > 1e-3, "the encoder did not train");

    // a decoder of another shape is refused, naming the setting
    let mut other = ae.clone();
    other.model.layers = 3;
    let msg = format!(
        "{:#}",
        fit::<B>(&other, &opts(&tmp.path().join("other"), false), &Default::default()).unwrap_err()
    );
    assert!(
        msg.contains("init_from") && msg.contains("layers 2") && msg.contains("layers 3"),
        "{msg}"
    );
    // and so is a directory without checkpoints
    let mut none = ae.clone();
    none.init_from = Some(data.clone());
    let msg = format!(
        "{:#}",
        fit::<B>(&none, &opts(&tmp.path().join("none"), false), &Default::default()).unwrap_err()
    );
    assert!(
        msg.contains("init_from") && msg.contains(&*data.to_string_lossy()),
        "{msg}"
    );
}

#[test]
fn init_from_a_vector_auto_encoder_gives_its_code_a_spatial_map() {
    use burn::tensor::{Tensor, TensorData};
    use pixelcnn_models::{Condition, EncoderSpec, PixelModel};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 8, 12);
    let ae = |map_channels: Option<usize>, extra: &str| {
        let mut cfg = config(&data, extra);
        cfg.model.height = 12;
        cfg.model.width = 12;
        cfg.model.arch = pixelcnn_models::Arch::Autoencoder;
        cfg.model.encoder = Some(EncoderSpec {
            bottleneck: 4,
            hidden: 8,
            map_channels,
        });
        cfg
    };
    let source = ae(None, "max_steps: 3\n");
    let src_run = tmp.path().join("src");
    fit::<B>(&source, &opts(&src_run, false), &Default::default()).unwrap();

    // the same auto-encoder seeing its code through a 9-channel map; one negligible step
    let mut spatial = ae(Some(9), "max_steps: 1\n");
    spatial.optimizer.lr = 1e-12;
    spatial.init_from = Some(src_run.clone());
    let run = tmp.path().join("spatial");
    fit::<B>(&spatial, &opts(&run, false), &Default::default()).unwrap();

    let device = Default::default();
    let load = |dir: &Path| checkpoint::load_model::<Cpu>(&checkpoint::latest(dir).unwrap(), &device).unwrap();
    let (src, tuned) = (load(&src_run), load(&run));
    assert_eq!(tuned.spec, spatial.model);
    let images = Tensor::<Cpu, 4>::from_data(
        TensorData::new(
            (0..2 * 144).map(|v| ((v * 53) % 256) as f32).collect::<Vec<_>>(),
            [2, 1, 12, 12],
        ),
        &device,
    );
    // scored through each one's own encoder: the source's encoder came along
    let logits = |m: &PixelModel<Cpu>| {
        m.forward(images.clone(), &Condition::None)
            .into_data()
            .to_vec::<f32>()
            .unwrap()
    };
    let (a, b) = (logits(&src), logits(&tuned));
    let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(diff < 1e-4, "the spatial model starts elsewhere: {diff}");
    let fresh = PixelModel::<Cpu>::new(&spatial.model, spatial.seed, &device);
    let c = logits(&fresh);
    assert!(c.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-2));

    // a map too small to start as the code is refused, naming the sizes
    let mut small = ae(Some(7), "max_steps: 1\n");
    small.init_from = Some(src_run);
    let msg = format!(
        "{:#}",
        fit::<B>(&small, &opts(&tmp.path().join("small"), false), &Default::default()).unwrap_err()
    );
    assert!(msg.contains("init_from") && msg.contains("at least 8"), "{msg}");
}

#[test]
fn init_from_a_narrower_model_widens_it() {
    use burn::tensor::{Int, Tensor, TensorData};
    use pixelcnn_models::{Condition, Conditioning, PixelModel};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 8, 10);
    let mut source = config(&data, "max_steps: 3\n");
    source.model.conditioning = Conditioning::Class { classes: 10 };
    let src_run = tmp.path().join("src");
    fit::<B>(&source, &opts(&src_run, false), &Default::default()).unwrap();

    // 8 -> 12 hidden maps, a 16 -> 20 wide head; one step at a negligible learning rate
    let mut wide = source.clone();
    wide.model.hidden = 12;
    wide.model.head_hidden = 20;
    wide.max_steps = Some(1);
    wide.optimizer.lr = 1e-12;
    wide.init_from = Some(src_run.clone());
    let run = tmp.path().join("wide");
    fit::<B>(&wide, &opts(&run, false), &Default::default()).unwrap();

    let device = Default::default();
    let load = |dir: &Path| checkpoint::load_model::<Cpu>(&checkpoint::latest(dir).unwrap(), &device).unwrap();
    let (src, tuned) = (load(&src_run), load(&run));
    assert_eq!((tuned.spec.hidden, tuned.spec.head_hidden), (12, 20));
    let images = Tensor::<Cpu, 4>::from_data(
        TensorData::new(
            (0..2 * 100).map(|v| ((v * 53) % 256) as f32).collect::<Vec<_>>(),
            [2, 1, 10, 10],
        ),
        &device,
    );
    let labels = Tensor::<Cpu, 1, Int>::from_data(TensorData::new(vec![4i64, 9], [2]), &device);
    let logits = |m: &PixelModel<Cpu>| {
        m.forward(images.clone(), &Condition::Class(labels.clone()))
            .into_data()
            .to_vec::<f32>()
            .unwrap()
    };
    let (a, b) = (logits(&src), logits(&tuned));
    let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(diff < 1e-4, "the widened model starts elsewhere: {diff}");
    // the old maps' weights that read the new maps started at zero and got gradients: tiny
    // but no longer zero after the step (a map the head's ReLU shuts off everywhere on this
    // batch gets none)
    let w: Vec<f32> = tuned.gated().unwrap().layers[1]
        .h_out
        .weight
        .val()
        .into_data()
        .to_vec()
        .unwrap();
    let readers: Vec<f32> = (0..8)
        .flat_map(|o| (8..12).map(move |i| (o, i)))
        .map(|(o, i)| w[o * 12 + i])
        .collect();
    assert!(readers.iter().all(|v| v.abs() < 1e-9), "{readers:?}");
    assert!(readers.iter().filter(|v| **v != 0.0).count() >= 24, "{readers:?}");

    // a wider source is refused, naming both widths
    let mut narrow = source.clone();
    narrow.model.hidden = 6;
    narrow.init_from = Some(src_run.clone());
    let msg = format!(
        "{:#}",
        fit::<B>(&narrow, &opts(&tmp.path().join("narrow"), false), &Default::default()).unwrap_err()
    );
    assert!(
        msg.contains("init_from") && msg.contains("hidden 8") && msg.contains("hidden 6"),
        "{msg}"
    );
}

#[test]
fn adam_epsilon_reaches_the_optimizer() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 8, 10);
    let run = |eps: f64, name: &str| {
        let mut cfg = config(&data, "max_steps: 2\n");
        cfg.optimizer.epsilon = eps;
        fit::<B>(&cfg, &opts(&tmp.path().join(name), false), &Default::default()).unwrap();
        losses(&tmp.path().join(name))
    };
    let (default, small, large) = (run(1e-5, "default"), run(1e-8, "small"), run(0.5, "large"));
    // the first step's loss comes before any update; the second shows the update's size
    assert_eq!(default[0], large[0]);
    assert_ne!(default[1], large[1]);
    assert_ne!(default[1], small[1]);
}

/// Every float parameter of a checkpoint's chosen weights, flattened in module order.
fn params(ckpt: &Path, which: checkpoint::Weights) -> Vec<f64> {
    params_of(&checkpoint::load_weights::<Cpu>(ckpt, which, &Default::default()).unwrap())
}

fn params_of(model: &pixelcnn_models::PixelModel<Cpu>) -> Vec<f64> {
    let p = crate::checkpoint_layout::params(model);
    p.values.iter().flatten().map(|&v| v as f64).collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[test]
fn ema_is_the_moving_average_of_the_trained_weights_and_resumes_exactly() {
    use checkpoint::Weights::{Deployed, Trained};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 12, 10);
    // decay 0.2: the warm-up decays (1 + n) / (10 + n) = 0.1, 0.18 for the first two
    // updates, the configured 0.2 after
    let cfg = config(
        &data,
        "epochs: 2\ncheckpoint_every: 1\nkeep_last: 10\nmax_steps: 5\nema_decay: 0.2\n",
    );
    let full = tmp.path().join("full");
    let summary = fit::<B>(&cfg, &opts(&full, false), &Default::default()).unwrap();
    let ckpts = checkpoint::list(&full).unwrap();
    assert_eq!(ckpts.iter().map(|c| c.0).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);

    // avg_0 = the initial weights; avg_k = d_k avg_{k-1} + (1 - d_k) w_k
    let init = pixelcnn_models::PixelModel::<Cpu>::new(&cfg.model, cfg.seed, &Default::default());
    let mut avg = params_of(&init);
    for (n, (_, ckpt)) in ckpts.iter().enumerate() {
        let d = 0.2f64.min((1 + n) as f64 / (10 + n) as f64);
        let w = params(ckpt, Trained);
        avg = avg.iter().zip(&w).map(|(a, w)| d * a + (1.0 - d) * w).collect();
        let stored = params(ckpt, Deployed);
        assert!(
            max_diff(&stored, &avg) < 1e-6,
            "step {}: {}",
            n + 1,
            max_diff(&stored, &avg)
        );
        assert!(
            max_diff(&stored, &w) > 1e-4,
            "step {}: the average equals the weights",
            n + 1
        );
    }
    // epoch-end scores are the average's: the last epoch line is trainer eval of load_model
    let last = ckpts.last().unwrap().1.clone();
    let deployed = checkpoint::load_model::<Cpu>(&last, &Default::default()).unwrap();
    let test = cfg.load_split(false).unwrap();
    let r = pixelcnn_trainer::eval::evaluate(&deployed, &test, cfg.eval_limit, 16, &Default::default());
    let logged = summary.last_test.unwrap().bits_per_dim;
    assert!((r.bits_per_dim - logged).abs() < 1e-9, "{} vs {logged}", r.bits_per_dim);

    // interrupted at step 2 and resumed: the same average, bit for bit
    let mut first = cfg.clone();
    first.max_steps = Some(2);
    let part = tmp.path().join("part");
    fit::<B>(&first, &opts(&part, false), &Default::default()).unwrap();
    fit::<B>(&cfg, &opts(&part, true), &Default::default()).unwrap();
    let end = |run: &Path| checkpoint::latest(run).unwrap();
    assert_eq!(params(&end(&part), Deployed), params(&end(&full), Deployed));
    assert_eq!(params(&end(&part), Trained), params(&end(&full), Trained));

    // a run trained without an average and resumed with one starts it at the resumed
    // weights, with the decay of its step (n = 3: the configured 0.2)
    let mut plain = cfg.clone();
    plain.ema_decay = None;
    plain.max_steps = Some(3);
    let late = tmp.path().join("late");
    fit::<B>(&plain, &opts(&late, false), &Default::default()).unwrap();
    assert!(!checkpoint::has_ema(&end(&late)));
    let w3 = params(&end(&late), Trained);
    let mut four = cfg.clone();
    four.max_steps = Some(4);
    fit::<B>(&four, &opts(&late, true), &Default::default()).unwrap();
    let w4 = params(&end(&late), Trained);
    let want: Vec<f64> = w3.iter().zip(&w4).map(|(a, b)| 0.2 * a + 0.8 * b).collect();
    assert!(max_diff(&params(&end(&late), Deployed), &want) < 1e-6);

    // each epoch line says which weights it scored
    let scored = |run: &Path| -> Vec<String> {
        std::fs::read_to_string(run.join("epochs.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["weights"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    let full_lines = scored(&full);
    assert!(
        !full_lines.is_empty() && full_lines.iter().all(|w| w == "moving average"),
        "{full_lines:?}"
    );
    assert_eq!(scored(&late), ["trained", "moving average"]);
}

/// A minimal config with `line` added is rejected with an error naming the file and `problem`.
fn assert_key_error(line: &str, problem: &str) {
    let text = format!(
        "model: {{arch: gated, channels: 1, height: 10, width: 10, layers: 2, hidden: 8}}
data: {{format: idx, path: d}}
batch_size: 4
{line}
"
    );
    let e = TrainConfig::from_yaml(Path::new("c.yaml"), &text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("c.yaml") && e.contains(problem), "{e}");
}

#[test]
fn ema_decay_outside_zero_one_is_an_error_naming_the_key() {
    for bad in ["1.0", "0", "-0.5", "1.5"] {
        assert_key_error(&format!("ema_decay: {bad}"), "ema_decay: must be in (0, 1)");
    }
}

#[test]
fn cooldown_set_on_a_running_run_anneals_it_to_zero_and_ends_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 12, 10);
    let run = tmp.path().join("run");
    let first = config(&data, "epochs: 20\nmax_steps: 3\ncheckpoint_every: 1\n");
    fit::<B>(&first, &opts(&run, false), &Default::default()).unwrap();
    // the run's config edited: no step limit, a four-step cool-down from step 3
    let cooled = config(&data, "epochs: 20\ncheckpoint_every: 1\n");
    let cooled = TrainConfig {
        optimizer: pixelcnn_trainer::config::OptimizerConfig {
            cooldown: Some(pixelcnn_trainer::config::Cooldown { start: 3, steps: 4 }),
            ..cooled.optimizer
        },
        ..cooled
    };
    fit::<B>(&cooled, &opts(&run, true), &Default::default()).unwrap();
    let lrs: Vec<(u64, f64)> = std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["step"].as_u64().unwrap(), v["lr"].as_f64().unwrap())
        })
        .collect();
    let want = [
        (1, 0.01),
        (2, 0.01),
        (3, 0.01),
        (4, 0.01),
        (5, 0.0075),
        (6, 0.005),
        (7, 0.0025),
    ];
    assert_eq!(lrs.len(), want.len(), "{lrs:?}");
    for ((step, lr), (s, l)) in lrs.iter().zip(want) {
        assert_eq!(*step, s);
        assert!((lr - l).abs() < 1e-12, "step {step}: lr {lr}, expected {l}");
    }
    assert_eq!(
        checkpoint::latest(&run).unwrap(),
        checkpoint::list(&run).unwrap().last().unwrap().1
    );
    assert_eq!(checkpoint::list(&run).unwrap().last().unwrap().0, 7);
    // the last step still moved the weights
    use checkpoint::Weights::Trained;
    let ckpts = checkpoint::list(&run).unwrap();
    let n = ckpts.len();
    assert!(max_diff(&params(&ckpts[n - 1].1, Trained), &params(&ckpts[n - 2].1, Trained)) > 0.0);
}

#[test]
fn context_noise_outside_zero_one_is_an_error_naming_the_key() {
    for bad in ["1.0", "-0.1", "2"] {
        assert_key_error(
            &format!("context_noise: {bad}"),
            "context_noise: must be a probability in [0, 1)",
        );
    }
}

#[test]
fn context_noise_replaces_about_p_of_the_sub_pixels_with_draws_keyed_by_seed_step_and_item() {
    use pixelcnn_trainer::batch::ContextNoise;

    // the same draws over all-0 and all-255 images: a sub-pixel was replaced exactly where
    // the two agree, and then by the drawn level
    let corrupt = |noise: ContextNoise, fill: u8, items: &[usize]| -> Vec<u8> {
        let mut values = vec![fill; items.len() * 784];
        noise.corrupt(&mut values, items);
        values
    };
    let noise = ContextNoise {
        p: 0.3,
        seed: 5,
        step: 11,
    };
    let items = [4, 9, 2];
    let (zeros, full) = (corrupt(noise, 0, &items), corrupt(noise, 255, &items));
    let drawn: Vec<u8> = zeros
        .iter()
        .zip(&full)
        .filter(|(a, b)| a == b)
        .map(|(a, _)| *a)
        .collect();
    assert!(zeros.iter().zip(&full).all(|(&a, &b)| a == b || (a, b) == (0, 255)));
    let share = drawn.len() as f64 / zeros.len() as f64;
    // 2352 draws: five standard deviations are 0.047
    assert!((share - 0.3).abs() < 0.047, "{share}");
    let distinct: std::collections::BTreeSet<u8> = drawn.iter().copied().collect();
    assert!(distinct.len() > 200, "{} distinct levels", distinct.len());
    assert!(distinct.iter().any(|&v| v < 40) && distinct.iter().any(|&v| v > 215));
    // an image's draws depend on its dataset index, not on its batch or place in it
    for (k, &item) in items.iter().enumerate() {
        assert_eq!(corrupt(noise, 0, &[item]), zeros[k * 784..(k + 1) * 784]);
    }
    // and change with the step and the seed; p = 0 changes nothing
    for other in [ContextNoise { step: 12, ..noise }, ContextNoise { seed: 6, ..noise }] {
        assert_ne!(corrupt(other, 0, &items), zeros);
    }
    assert_eq!(corrupt(ContextNoise { p: 0.0, ..noise }, 7, &items), vec![7; 3 * 784]);
}

/// With context noise the decoder reads corrupted images and is scored on the true ones,
/// and the auto-encoder's code is the true image's; the loss does not depend on how the
/// batch is split across workers.
#[test]
fn context_noise_scores_the_true_values_given_the_code_of_the_true_image() {
    use burn::module::{Module, ModuleMapper, Param};
    use burn::tensor::{ElementConversion, Tensor};
    use pixelcnn_models::Condition;
    use pixelcnn_trainer::batch::{make_batch, ContextNoise};
    use pixelcnn_trainer::fit::{batch_gradients, Workers};

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_idx(&data, 8, 12);
    let text = format!(
        "model: {{arch: autoencoder, channels: 1, height: 12, width: 12, layers: 2, hidden: 8, first_kernel: 5, head_hidden: 16,
         encoder: {{bottleneck: 4, hidden: 8, map_channels: 8}}}}
data: {{format: idx, path: {}}}
batch_size: 4
context_noise: 0.25
seed: 3",
        data.display()
    );
    let cfg = TrainConfig::from_yaml(Path::new("test.yaml"), &text).unwrap();
    let dev = Default::default();
    // a network that reads its input: at initialisation it barely does (near-uniform
    // logits), so its weights are scaled up, the encoder's and the spatial map's most, until
    // different codes and contexts give losses apart by far more than the 1e-6 this test
    // allows for rounding
    struct Scale(f64);
    impl ModuleMapper<B> for Scale {
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let (id, t, mapper) = p.consume();
            Param::from_mapped_value(id, t.mul_scalar(self.0), mapper)
        }
    }
    let mut model = pixelcnn_models::PixelModel::<B>::new(&cfg.model, 1, &dev).map(&mut Scale(3.0));
    model.encoder = model.encoder.map(|e| e.map(&mut Scale(2.0)));
    model.spatial_map = model.spatial_map.map(|m| m.map(&mut Scale(2.0)));
    let train = cfg.load_split(true).unwrap();
    let idx = [5, 1, 6, 2];
    let noise = ContextNoise {
        p: 0.25,
        seed: 3,
        step: 7,
    };
    let loss = |workers: usize, noise: Option<ContextNoise>| {
        batch_gradients(&model, &train, &idx, noise, &Workers::new(workers).unwrap(), &dev).0
    };
    let (one, two) = (loss(1, Some(noise)), loss(2, Some(noise)));
    assert!((one - two).abs() < 1e-6 * one, "{one} vs {two}");

    let (batch, corrupted) = noise.batch::<B>(&cfg.model, &train, &idx, &dev);
    let clean: Vec<f32> = make_batch::<B>(&cfg.model, &train, &idx, &dev)
        .images
        .into_data()
        .to_vec()
        .unwrap();
    assert_eq!(batch.images.clone().into_data().to_vec::<f32>().unwrap(), clean);
    // the same draws as on the host bytes
    let mut bytes: Vec<u8> = idx.iter().flat_map(|&i| train.image(i).iter().copied()).collect();
    noise.corrupt(&mut bytes, &idx);
    let floats: Vec<f32> = corrupted.clone().into_data().to_vec().unwrap();
    assert_eq!(floats, bytes.iter().map(|&v| f32::from(v)).collect::<Vec<_>>());
    let scale = (idx.len() * 144) as f64 * std::f64::consts::LN_2;
    let bpd = |images: Tensor<B, 4>, code_of: Tensor<B, 4>| -> f64 {
        let cond = Condition::Vector(model.encode(code_of).unwrap());
        let nats = model.nll(images, batch.targets.clone(), &cond).sum();
        nats.into_scalar().elem::<f64>() / scale
    };
    let expected = bpd(corrupted.clone(), batch.images.clone());
    assert!((one - expected).abs() < 1e-6 * one, "{one} vs {expected}");
    // not the code of the corrupted image, and not the clean context
    let wrong_code = bpd(corrupted.clone(), corrupted.clone());
    assert!((one - wrong_code).abs() > 1e-4 * one, "{one} vs {wrong_code}");
    let clean = loss(1, None);
    assert!((one - clean).abs() > 1e-4 * one, "{one} vs {clean}");
}

/// Every config the project ships parses and passes the config checks.
#[test]
fn every_shipped_config_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/configs");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            TrainConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 10, "{n} configs in {}", dir.display());
}
