//! Smoke tests of the `trainer` binary on the real MNIST (fetched by
//! scripts/fetch-data.sh, which the README test command runs first).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Where cargo put the binaries: next to this test's `deps/` directory (honours
/// CARGO_TARGET_DIR).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn trainer() -> Command {
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "pixelcnn-trainer", "--bin", "trainer"])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(status.success());
    let mut c = Command::new(bin_dir().join("trainer"));
    c.current_dir(root());
    c
}

fn require_mnist() {
    assert!(
        root().join("data/mnist/t10k-images-idx3-ubyte").exists(),
        "MNIST missing: run scripts/fetch-data.sh (the README test command does)"
    );
}

#[test]
fn fit_eval_sample_on_mnist() {
    require_mnist();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let out = trainer()
        .args([
            "fit",
            "--config",
            "models/configs/tiny-class.yaml",
            "--max-steps",
            "4",
            "--out",
        ])
        .arg(&run)
        .output()
        .unwrap();
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

    let out = trainer()
        .args(["fit", "--config", "models/configs/tiny-gated.yaml", "--backend", "tpu"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected cpu, ndarray or cuda"));
}

#[test]
fn sample_cli_reports_a_missing_onnx_runtime_library() {
    let tmp = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "pixelcnn-runtime", "--bin", "sample"])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(status.success());
    let spec = pixelcnn_tests::tiny_spec(pixelcnn_models::Arch::Gated, 1, pixelcnn_models::Conditioning::None);
    let model = pixelcnn_models::PixelModel::<pixelcnn_models::backend::Cpu>::new(&spec, 1, &Default::default());
    pixelcnn_exporter::export(&model, tmp.path(), 17).unwrap();
    let out = Command::new(bin_dir().join("sample"))
        .args(["--backend", "ort", "--n", "1", "--out"])
        .arg(tmp.path().join("x.png"))
        .arg("--model")
        .arg(tmp.path())
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ONNX Runtime library not found") && err.contains("/nonexistent/libonnxruntime.so"),
        "{err}"
    );
}
