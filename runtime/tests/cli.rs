//! Smoke tests of the `sample`, `compress` and `decompress` binaries on exported models:
//! the shipped mnist-gated, and tiny exports in `tests/fixtures/` (kept equal to what the
//! exporter writes today by `tests/tests/fixtures.rs` in the pixelcnn-tests package). The
//! `trainer` binary's are in trainer/tests/cli.rs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A tiny exported model: `gated` (unconditional), `vector` (vector conditioning, dim 5)
/// or `ae` (auto-encoder).
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn sample_cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sample"))
}

#[test]
fn sample_cli_rejects_a_bad_scale() {
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

/// A temperature that is not > 0 is refused with what is expected, negative ones included
/// (not taken for a flag).
#[test]
fn sample_cli_rejects_a_temperature_not_above_zero() {
    let tmp = tempfile::tempdir().unwrap();
    for t in ["0", "-1", "-0.5", "nan"] {
        let out = sample_cli()
            .current_dir(root())
            .args([
                "--model",
                "models/pretrained/mnist-gated",
                "--backend",
                "tract",
                "--n",
                "1",
            ])
            .args(["--temperature", t, "--out"])
            .arg(tmp.path().join("x.npy"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "--temperature {t} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("temperature must be a finite number > 0"), "{t}: {err}");
    }
}

#[test]
fn sample_cli_reports_a_missing_onnx_runtime_library() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sample_cli()
        .args(["--backend", "ort", "--n", "1", "--out"])
        .arg(tmp.path().join("x.png"))
        .arg("--model")
        .arg(fixture("gated"))
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

#[test]
fn sample_cli_completion_interpolation_and_reconstruction() {
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
    let gated = fixture("gated");
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
    let vec = fixture("vector");
    let (a, b) = (tmp.path().join("a.npy"), tmp.path().join("b.npy"));
    pixelcnn_core::npy::write_matrix(&a, &[0.0; 5], 1, 5).unwrap();
    pixelcnn_core::npy::write_matrix(&b, &[1.0; 5], 1, 5).unwrap();
    // 2 grid rows of 4 steps from `from` to `to`
    let interpolate = |from: &Path, to: &Path, out: &Path| {
        let (from, to) = (from.to_str().unwrap(), to.to_str().unwrap());
        run(&vec, &["--n", "8", "--steps", "4", "--interpolate", from, to], out);
    };
    let out = tmp.path().join("i.png");
    interpolate(&a, &b, &out);
    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (4 * 9 + 1, 2 * 9 + 1), "2 rows x 4 steps");
    // from a vector to itself, a row's columns have the same conditioning and seed: the
    // same image four times; the second row has its own seed
    let same = tmp.path().join("same.png");
    interpolate(&a, &a, &same);
    let grid = image::open(&same).unwrap().to_luma8();
    let tile = |r: u32, k: u32| -> Vec<u8> {
        (0..8)
            .flat_map(|i| (0..8).map(move |j| (i, j)))
            .map(|(i, j)| grid.get_pixel(1 + k * 9 + j, 1 + r * 9 + i)[0])
            .collect()
    };
    for r in 0..2 {
        for k in 1..4 {
            assert_eq!(tile(r, k), tile(r, 0), "row {r}: column {k} has another seed");
        }
    }
    assert_ne!(tile(0, 0), tile(1, 0), "both rows drew from one seed");
    // auto-encoder: encode an image, sample conditioned on it
    let ae = fixture("ae");
    assert!(ae.join("encoder.onnx").exists());
    run(
        &ae,
        &["--n", "3", "--reconstruct", png.to_str().unwrap()],
        &tmp.path().join("r.png"),
    );
    // --reconstruct runs the encoder on the chosen backend: tract works without ONNX Runtime
    let o = sample_cli()
        .arg("--model")
        .arg(&ae)
        .args([
            "--backend",
            "tract",
            "--n",
            "2",
            "--reconstruct",
            png.to_str().unwrap(),
            "--out",
        ])
        .arg(tmp.path().join("rt.png"))
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn gpu_backends_without_their_libraries_are_clear_errors_or_fall_back() {
    let tmp = tempfile::tempdir().unwrap();
    // one image of the shipped model on `backend` (+ `extra` flags) into `out`
    let run = |backend: &str, extra: &[&str], out: &Path| {
        sample_cli()
            .args([
                "--model",
                "models/pretrained/mnist-gated",
                "--n",
                "1",
                "--backend",
                backend,
            ])
            .args(extra)
            .arg("--out")
            .arg(out)
            .env_remove("ORT_DYLIB_PATH")
            .current_dir(root())
            .output()
            .unwrap()
    };
    for backend in ["ort-cuda", "ort-tensorrt"] {
        let out = run(backend, &[], &tmp.path().join("x.png"));
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            continue; // a machine with the GPU build and a GPU: nothing to check here
        }
        assert!(!err.contains("panicked"), "{backend}: {err}");
        assert!(
            err.contains("scripts/setup-ort.sh --gpu") || err.contains("could not be registered"),
            "{backend}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{backend}: one line, got {err}");
        // with --fallback the same request runs on CPU and says so
        let png = tmp.path().join(format!("{backend}.png"));
        let out = run(backend, &["--fallback"], &png);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{backend} --fallback: {err}");
        assert!(err.contains("running on CPU instead"), "{err}");
        assert!(png.exists());
    }
}

#[test]
fn compress_and_decompress_round_trip_a_png_and_refuse_bad_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (compress, decompress) = (env!("CARGO_BIN_EXE_compress"), env!("CARGO_BIN_EXE_decompress"));
    let model = root().join("models/pretrained/mnist-gated");
    // one 28x28 test digit as a PNG
    let idx = pixelcnn_core::idx::read_images(&root().join("data/mnist/t10k-images-idx3-ubyte")).unwrap();
    let png = tmp.path().join("digit.png");
    pixelcnn_core::grid::write_image(&png, &idx.pixels[..784], 1, 28, 28).unwrap();
    let pcnn = tmp.path().join("digit.pcnn");
    let out = Command::new(compress)
        .args(["--backend", "tract", "--model"])
        .arg(&model)
        .arg("--in")
        .arg(&png)
        .arg("--out")
        .arg(&pcnn)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let back = tmp.path().join("back.png");
    // decompress `input` to `back` with the extra flags
    let run = |input: &Path, extra: &[&str]| {
        Command::new(decompress)
            .args(extra)
            .arg("--model")
            .arg(&model)
            .arg("--in")
            .arg(input)
            .arg("--out")
            .arg(&back)
            .output()
            .unwrap()
    };
    let ok = run(&pcnn, &["--backend", "tract"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let img = image::open(&back).unwrap().to_luma8().into_raw();
    assert_eq!(img, idx.pixels[..784].to_vec());
    // the wrong engine, and a file that is not a .pcnn: one clear line each, no panic
    let wrong = run(&pcnn, &[]);
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        !wrong.status.success() && err.contains("--backend tract") && !err.contains("panicked"),
        "{err}"
    );
    let junk = run(&png, &[]);
    let err = String::from_utf8_lossy(&junk.stderr);
    assert!(
        !junk.status.success() && err.contains("digit.png") && err.contains("PCNNCODE"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // an output it cannot write losslessly is refused before decoding, naming the choices
    let out = Command::new(decompress)
        .arg("--model")
        .arg(&model)
        .arg("--in")
        .arg(&pcnn)
        .arg("--out")
        .arg(tmp.path().join("back.jpg"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("back.jpg") && err.contains(".npy") && !err.contains("panicked"),
        "{err}"
    );
    assert!(!tmp.path().join("back.jpg").exists());
}
