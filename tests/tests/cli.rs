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

/// Builds a binary of the workspace (a no-op when it is up to date).
fn build(package: &str, bin: &str) -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", package, "--bin", bin])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(status.success());
    bin_dir().join(bin)
}

fn trainer() -> Command {
    let mut c = Command::new(build("pixelcnn-trainer", "trainer"));
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
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected cpu, candle, ndarray or cuda"));

    let out = trainer()
        .args(["fit", "--config", "models/configs/tiny-gated.yaml", "--workers", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--workers must be positive"));

    let out = sample_cli()
        .args([
            "--model",
            "models/pretrained/mnist-gated",
            "--scale",
            "0",
            "--out",
            "x.png",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--scale"));
}

#[test]
fn sample_cli_reports_a_missing_onnx_runtime_library() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = pixelcnn_tests::tiny_spec(pixelcnn_models::Arch::Gated, 1, pixelcnn_models::Conditioning::None);
    let model = pixelcnn_models::PixelModel::<pixelcnn_models::backend::Cpu>::new(&spec, 1, &Default::default());
    pixelcnn_exporter::export(&model, tmp.path(), 17).unwrap();
    let out = sample_cli()
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

fn sample_cli() -> Command {
    Command::new(build("pixelcnn-runtime", "sample"))
}

#[test]
fn sample_cli_completion_interpolation_and_reconstruction() {
    use pixelcnn_models::{backend::Cpu, Arch, Conditioning, PixelModel};
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("in.png");
    image::GrayImage::from_fn(8, 8, |x, y| image::Luma([((x * 30 + y * 3) % 256) as u8]))
        .save(&png)
        .unwrap();
    let run = |dir: &Path, args: &[&str], out: &Path| {
        let o = sample_cli()
            .arg("--model")
            .arg(dir)
            .args(args)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    // completion keeps the top rows of the given image
    let gated = tmp.path().join("gated");
    let spec = pixelcnn_tests::tiny_spec(Arch::Gated, 1, Conditioning::None);
    pixelcnn_exporter::export(&PixelModel::<Cpu>::new(&spec, 1, &Default::default()), &gated, 17).unwrap();
    let out = tmp.path().join("c.npy");
    run(
        &gated,
        &["--n", "2", "--complete", png.to_str().unwrap(), "--rows", "3"],
        &out,
    );
    let given = image::open(&png).unwrap().to_luma8().into_raw();
    let got = std::fs::read(&out).unwrap();
    let body = &got[got.len() - 2 * 64..];
    for b in 0..2 {
        assert_eq!(
            &body[b * 64..b * 64 + 24],
            &given[..24],
            "completed image {b} lost its given rows"
        );
    }
    // interpolation: one seed per grid row, so columns of a row share a stream
    let vec = tmp.path().join("vec");
    let spec = pixelcnn_tests::tiny_spec(Arch::Gated, 1, Conditioning::Vector { dim: 5 });
    pixelcnn_exporter::export(&PixelModel::<Cpu>::new(&spec, 1, &Default::default()), &vec, 17).unwrap();
    let (a, b) = (tmp.path().join("a.npy"), tmp.path().join("b.npy"));
    pixelcnn_core::npy::write_matrix(&a, &[0.0; 5], 1, 5).unwrap();
    pixelcnn_core::npy::write_matrix(&b, &[1.0; 5], 1, 5).unwrap();
    let out = tmp.path().join("i.png");
    run(
        &vec,
        &[
            "--n",
            "8",
            "--steps",
            "4",
            "--interpolate",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        &out,
    );
    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (4 * 9 + 1, 2 * 9 + 1), "2 rows x 4 steps");
    // auto-encoder: encode an image, sample conditioned on it
    let ae = tmp.path().join("ae");
    let spec = pixelcnn_tests::tiny_spec(Arch::Autoencoder, 1, Conditioning::None);
    pixelcnn_exporter::export(&PixelModel::<Cpu>::new(&spec, 1, &Default::default()), &ae, 17).unwrap();
    assert!(ae.join("encoder.onnx").exists());
    run(
        &ae,
        &["--n", "3", "--reconstruct", png.to_str().unwrap()],
        &tmp.path().join("r.png"),
    );
}
