//! `exporter --to onnx --run RUN_DIR --out OUT_DIR [--weights deployed|trained] [--opset N]
//! [--max-file-bytes N]`
use std::path::PathBuf;

use clap::Parser;
use pixelcnn_models::backend::Cpu;
use pixelcnn_models::checkpoint::{self, Weights};
use pixelcnn_models::{ModelSpec, PixelModel};

#[derive(Parser, Debug)]
#[command(name = "exporter", version, about = "Export a trained PixelCNN run as ONNX graphs")]
struct Cli {
    /// Target format (only `onnx`).
    #[arg(long)]
    to: String,
    /// Run directory written by `trainer fit` (its latest checkpoint is exported).
    #[arg(long, conflicts_with = "spec", required_unless_present = "spec")]
    run: Option<PathBuf>,
    /// Export an untrained model from a ModelSpec (.json, or a training config .yaml's
    /// `model` section) with random weights: for speed benchmarks, where weights do not
    /// matter.
    #[arg(long)]
    spec: Option<PathBuf>,
    /// Which of the checkpoint's weights to export (with --run).
    #[arg(long, value_enum, default_value_t = Weights::Deployed, conflicts_with = "spec")]
    weights: Weights,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = pixelcnn_exporter::DEFAULT_OPSET)]
    opset: i64,
    /// The largest file to write, in bytes (default 4 MiB): a graph that would be larger
    /// keeps its weights beside it in ONNX external data files (`model.onnx.data-000`, ...)
    /// of at most this size, listed in the contract's `external_data`.
    #[arg(long, default_value_t = pixelcnn_exporter::DEFAULT_MAX_FILE_BYTES)]
    max_file_bytes: usize,
    /// Also write OUT/reference/: N inputs and the burn model's outputs as .npy files
    /// (used by scripts/check_onnx.py).
    #[arg(long, default_value_t = 0)]
    reference: usize,
}

/// A ModelSpec from a `.json` spec, or from the `model` section of a training config.
fn read_spec(path: &std::path::Path) -> anyhow::Result<ModelSpec> {
    #[derive(serde::Deserialize)]
    struct WithModel {
        model: ModelSpec,
    }
    let text = std::fs::read_to_string(path)?;
    if path.extension().is_some_and(|e| e == "json") {
        return ModelSpec::from_json(&text).map_err(anyhow::Error::msg);
    }
    let w: WithModel = serde_yaml_ng::from_str(&text)?;
    w.model.validate()?;
    Ok(w.model)
}

fn main() {
    let cli = Cli::parse();
    let result = (|| -> anyhow::Result<()> {
        anyhow::ensure!(cli.to == "onnx", "--to {}: the only supported target is `onnx`", cli.to);
        let (model, ckpt, weights) = match (&cli.run, &cli.spec) {
            (Some(run), _) => {
                let ckpt = checkpoint::latest(run)?;
                let weights = checkpoint::weights_name(cli.weights.averaged(&ckpt));
                (
                    checkpoint::load_weights::<Cpu>(&ckpt, cli.weights, &Default::default())?,
                    ckpt,
                    weights,
                )
            }
            (None, spec) => {
                let path = spec
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("pass --run RUN_DIR or --spec FILE"))?;
                let spec = read_spec(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                (
                    PixelModel::<Cpu>::new(&spec, 0, &Default::default()),
                    path.clone(),
                    "untrained",
                )
            }
        };
        let options = pixelcnn_exporter::ExportOptions {
            opset: cli.opset,
            max_file_bytes: cli.max_file_bytes,
        };
        let report = pixelcnn_exporter::export_with(&model, &cli.out, &options)?;
        if cli.reference > 0 {
            pixelcnn_exporter::reference::write_reference(&model, &cli.out, cli.reference, &Default::default())?;
        }
        println!(
            "{}",
            serde_json::json!({"checkpoint": ckpt, "weights": weights, "out": cli.out, "opset": report.opset, "files": report.files, "ops": report.ops})
        );
        Ok(())
    })();
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
