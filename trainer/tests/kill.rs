//! `trainer fit` killed with SIGKILL at arbitrary points (between steps, inside a checkpoint
//! write, during evaluation) and restarted with `--resume` ends with exactly the weights and
//! losses of an uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn has_checkpoint(run: &Path) -> bool {
    std::fs::read_dir(run.join("checkpoints"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with("step-"))
        })
        .unwrap_or(false)
}

fn fit(cfg: &Path, run: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    c.args(["fit", "--workers", "1", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(run);
    if has_checkpoint(run) {
        c.arg("--resume");
    }
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c
}

fn final_state(run: &Path) -> (Vec<f32>, String) {
    let mut steps: Vec<_> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("step-"))
        .collect();
    steps.sort();
    let last = steps.last().unwrap();
    // the losses as logged (timings differ between runs)
    let losses = std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("{}:{}", v["step"], v["train_bits_per_dim"])
        })
        .collect::<Vec<_>>()
        .join(" ");
    // the weights, through the logits of a fixed input (the record's bytes also hold
    // per-process parameter ids)
    let dev = Default::default();
    let m = pixelcnn_models::checkpoint::load_model::<pixelcnn_models::backend::NdArray>(last, &dev).unwrap();
    let x = burn::tensor::Tensor::from_data(burn::tensor::TensorData::new(vec![90f32; 784], [1, 1, 28, 28]), &dev);
    let logits: Vec<f32> = m
        .forward(x, &pixelcnn_models::Condition::None)
        .into_data()
        .to_vec()
        .unwrap();
    (logits, losses)
}

#[test]
fn sigkill_at_random_points_then_resume_ends_with_the_uninterrupted_weights() {
    assert!(
        root().join("data/mnist/train-images-idx3-ubyte").exists(),
        "MNIST missing: run scripts/fetch-data.sh"
    );
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg.yaml");
    std::fs::write(
        &cfg,
        format!(
            "model: {{arch: gated, channels: 1, height: 28, width: 28, layers: 2, hidden: 8, first_kernel: 5, head_hidden: 8}}
data: {{format: idx, path: {}, train_limit: 48}}
optimizer: {{lr: 0.003, grad_clip: 1.0}}
batch_size: 8
epochs: 3
checkpoint_every: 1
keep_last: 2
eval_limit: 8
sample_count: 2
seed: 5
",
            root().join("data/mnist").display()
        ),
    )
    .unwrap();
    let full = tmp.path().join("full");
    let started = Instant::now();
    assert!(fit(&cfg, &full).status().unwrap().success());
    // kill points are fractions of the uninterrupted run's wall time, so the test interrupts
    // training on a fast machine as on a slow one
    let span = started.elapsed();

    let run = tmp.path().join("killed");
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut kills = 0;
    let mut finished = false;
    for _ in 0..60 {
        let mut child = fit(&cfg, &run).spawn().unwrap();
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (state >> 33) as f64 / (1u64 << 31) as f64;
        let wait = span.mul_f64(0.03 + 0.25 * u);
        std::thread::sleep(wait);
        match child.try_wait().unwrap() {
            Some(status) => {
                assert!(status.success(), "an interrupted run failed to resume");
                finished = true;
                break;
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
        }
    }
    if !finished {
        assert!(fit(&cfg, &run).status().unwrap().success());
    }
    eprintln!("{kills} kills, run of {span:?} uninterrupted");
    assert!(kills >= 3, "only {kills} kills: the test did not interrupt training");
    let (a, b) = (final_state(&full), final_state(&run));
    assert_eq!(a.1, b.1, "losses differ after {kills} kills");
    assert!(a.0 == b.0, "final weights differ after {kills} kills");
    assert!(a.0.iter().any(|&v| v != a.0[0]), "degenerate logits");
}
