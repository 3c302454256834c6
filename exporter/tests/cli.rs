//! The exporter binary's command line: which weights of a checkpoint it writes, and its
//! errors for choices that do not fit together.
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn exporter() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_exporter"));
    c.current_dir(root());
    c
}

/// Exports the shipped mnist-gated run (it keeps a moving average beside the optimizer's
/// weights) with `extra` flags; returns the report's `weights` and the scoring graph.
fn export(out: &std::path::Path, extra: &[&str]) -> (String, Vec<u8>) {
    let o = exporter()
        .args(["--to", "onnx", "--run", "models/pretrained/mnist-gated/run", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(o.stdout.trim_ascii()).unwrap();
    let graph = std::fs::read(out.join("model.onnx")).unwrap();
    (r["weights"].as_str().unwrap().to_string(), graph)
}

#[test]
fn exports_the_moving_average_or_the_trained_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let (name, default) = export(&tmp.path().join("default"), &[]);
    assert_eq!(name, "moving average");
    let (name, deployed) = export(&tmp.path().join("deployed"), &["--weights", "deployed"]);
    assert_eq!(name, "moving average");
    assert_eq!(deployed, default);
    let (name, trained) = export(&tmp.path().join("trained"), &["--weights", "trained"]);
    assert_eq!(name, "trained");
    assert_ne!(
        trained, default,
        "the optimizer's weights differ from their moving average"
    );
    assert_eq!(trained.len(), default.len(), "same graph, other initializer values");
}

#[test]
fn weights_choices_that_do_not_fit_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = exporter()
            .args(["--to", "onnx", "--out"])
            .arg(tmp.path().join("x"))
            .args(args)
            .output()
            .unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let err = run(&["--run", "models/pretrained/mnist-gated/run", "--weights", "best"]);
    assert!(err.contains("--weights") && err.contains("trained"), "{err}");
    // an untrained spec has no checkpoint to choose weights from
    let err = run(&["--spec", "models/configs/tiny-gated.yaml", "--weights", "trained"]);
    assert!(err.contains("--weights") && err.contains("--spec"), "{err}");
}
