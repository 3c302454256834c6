//! Smoke tests of the `trainer` binary on the real MNIST (fetched by
//! scripts/fetch-data.sh, which the README test command runs first).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn trainer() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    c.current_dir(root());
    c
}

fn require_mnist() {
    assert!(
        root().join("data/mnist/t10k-images-idx3-ubyte").exists(),
        "MNIST missing: run scripts/fetch-data.sh (the README test command does)"
    );
}

/// `trainer fit --config CONFIG --max-steps 4 --out RUN`.
fn fit_four_steps(config: &str, run: &Path) -> std::process::Output {
    let args = ["fit", "--config", config, "--max-steps", "4", "--out"];
    trainer().args(args).arg(run).output().unwrap()
}

#[test]
fn fit_eval_sample_on_mnist() {
    require_mnist();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let out = fit_four_steps("models/configs/tiny-class.yaml", &run);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
    assert_eq!(line["steps"], 4);
    let bpd = line["test_bits_per_dim"].as_f64().unwrap();
    assert!(bpd > 1.0 && bpd < 8.5, "{bpd}");
    for f in ["metrics.jsonl", "epochs.jsonl", "training-curves.png", "config.yaml"] {
        assert!(run.join(f).exists(), "{f} missing");
    }

    let out = trainer()
        .args(["eval", "--limit", "8", "--run"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
    assert_eq!(r["images"], 8);
    assert!(r["bits_per_dim"].as_f64().unwrap() > 1.0);
    assert!(r["nll_nats"].as_f64().unwrap() > 0.0);

    let grid = tmp.path().join("grid.png");
    let small = trainer()
        .args(["sample", "--n", "2", "--label", "3", "--out"])
        .arg(&grid)
        .arg("--run")
        .arg(&run)
        .output()
        .unwrap();
    assert!(small.status.success(), "{}", String::from_utf8_lossy(&small.stderr));
    let img = image::open(&grid).unwrap();
    assert_eq!((img.width(), img.height()), (2 * 29 + 1, 29 + 1));
}

#[test]
fn bad_invocations_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bad.yaml");
    std::fs::write(&cfg, "model: {arch: gated, channels: 1, height: 28, width: 28, layers: 2, hidden: 8}\ndata: {format: idx, path: data/mnist}\nbatch_size: 4\nbatchsize: 3\n").unwrap();
    let out = trainer().args(["fit", "--config"]).arg(&cfg).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml") && err.contains("batchsize"), "{err}");

    let out = trainer().args(["eval", "--run"]).arg(tmp.path()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("config.yaml"));

    // eval flags are checked before any work
    for (flag, value) in [("--batch-size", "0"), ("--limit", "0")] {
        let out = trainer()
            .args(["eval", "--run", "models/pretrained/mnist-gated/run", flag, value])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag) && err.contains("positive"), "{err}");
    }

    let out = trainer()
        .args(["fit", "--config", "models/configs/tiny-gated.yaml", "--backend", "tpu"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected cpu, ndarray or cuda"));

    let out = trainer()
        .args(["fit", "--config", "models/configs/tiny-gated.yaml", "--workers", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--workers must be positive"));
}

#[test]
fn eval_scores_the_average_or_the_trained_weights() {
    require_mnist();
    // the shipped mnist-gated run keeps a moving average beside the optimizer's weights
    let score = |extra: &[&str]| -> f64 {
        let out = trainer()
            .args(["eval", "--run", "models/pretrained/mnist-gated/run", "--limit", "8"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let r: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
        r["bits_per_dim"].as_f64().unwrap()
    };
    let default = score(&[]);
    assert_eq!(score(&["--weights", "deployed"]), default);
    let trained = score(&["--weights", "trained"]);
    assert!((trained - default).abs() > 1e-6, "{trained} vs {default}");
    let out = trainer()
        .args([
            "eval",
            "--run",
            "models/pretrained/mnist-gated/run",
            "--weights",
            "best",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--weights") && err.contains("trained"), "{err}");
}

#[test]
fn sample_draws_from_the_average_or_the_trained_weights() {
    // the shipped mnist-gated run keeps a moving average beside the optimizer's weights;
    // the same seed draws other pixels from other weights
    let tmp = tempfile::tempdir().unwrap();
    let grid = |name: &str, extra: &[&str]| -> Vec<u8> {
        let out = tmp.path().join(name);
        let o = trainer()
            .args([
                "sample",
                "--run",
                "models/pretrained/mnist-gated/run",
                "--n",
                "1",
                "--seed",
                "3",
            ])
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(out).unwrap()
    };
    let default = grid("default.png", &[]);
    assert_eq!(grid("deployed.png", &["--weights", "deployed"]), default);
    assert_ne!(grid("trained.png", &["--weights", "trained"]), default);
}

#[test]
fn a_run_whose_cooldown_ended_says_so_on_resume() {
    require_mnist();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cool.yaml");
    let text = std::fs::read_to_string(root().join("models/configs/tiny-gated.yaml"))
        .unwrap()
        .replace("  lr: 0.003\n", "  lr: 0.003\n  cooldown: {start: 1, steps: 2}\n");
    std::fs::write(&cfg, text).unwrap();
    let run = tmp.path().join("run");
    let fit = |resume: bool| {
        let mut c = trainer();
        c.args(["fit", "--config"]).arg(&cfg).arg("--out").arg(&run);
        if resume {
            c.arg("--resume");
        }
        c.output().unwrap()
    };
    let out = fit(false);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
    assert_eq!(line["steps"], 3, "max_steps 6, the cool-down ends after step 3");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("cool-down ended"));
    let out = fit(true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cool-down ended at step 3") && err.contains("optimizer.cooldown"),
        "{err}"
    );
}

/// The curves are a picture of metrics.jsonl: where they cannot be drawn (a machine without
/// fonts; here a directory in the picture's place) training warns once and goes on.
#[test]
fn training_goes_on_when_the_curves_cannot_be_drawn() {
    require_mnist();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    std::fs::create_dir_all(run.join("training-curves.png")).unwrap();
    let out = fit_four_steps("models/configs/tiny-gated.yaml", &run);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("curves not drawn").count(), 1, "{stderr}");
    assert!(run.join("checkpoints/step-000000004/state.json").exists(), "{stderr}");
}
