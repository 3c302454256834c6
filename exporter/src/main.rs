//! `exporter --to onnx --run RUN_DIR --out OUT_DIR [--opset N]`
use std::path::PathBuf;

use clap::Parser;
use pixelcnn_models::backend::Cpu;
use pixelcnn_models::checkpoint;

#[derive(Parser, Debug)]
#[command(name = "exporter", version, about = "Export a trained PixelCNN run as ONNX graphs")]
struct Cli {
    /// Target format (only `onnx`).
    #[arg(long)]
    to: String,
    /// Run directory written by `trainer fit` (its latest checkpoint is exported).
    #[arg(long)]
    run: PathBuf,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = pixelcnn_exporter::DEFAULT_OPSET)]
    opset: i64,
    /// Also write OUT/reference/: N inputs and the burn model's outputs as .npy files
    /// (used by scripts/check_onnx.py).
    #[arg(long, default_value_t = 0)]
    reference: usize,
}

fn main() {
    let cli = Cli::parse();
    let result = (|| -> anyhow::Result<()> {
        anyhow::ensure!(cli.to == "onnx", "--to {}: the only supported target is `onnx`", cli.to);
        let ckpt = checkpoint::latest(&cli.run)?;
        let model = checkpoint::load_model::<Cpu>(&ckpt, &Default::default())?;
        let report = pixelcnn_exporter::export(&model, &cli.out, cli.opset)?;
        if cli.reference > 0 {
            pixelcnn_exporter::reference::write_reference(&model, &cli.out, cli.reference, &Default::default())?;
        }
        println!(
            "{}",
            serde_json::json!({"checkpoint": ckpt, "out": cli.out, "opset": report.opset, "files": report.files, "ops": report.ops})
        );
        Ok(())
    })();
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
