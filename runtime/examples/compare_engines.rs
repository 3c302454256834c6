//! Runs `model.onnx` of an export on two engines with the same deterministic inputs and
//! prints the max abs difference of logits and bits/dim as one JSON line (used by
//! scripts/gpu-check.sh for ONNX Runtime CUDA vs CPU).
//!
//!   cargo run --example compare_engines -p pixelcnn-runtime -- --model OUT_DIR --a ort --b ort-cuda

use clap::Parser;
use ndarray::{ArrayD, IxDyn};
use pixelcnn_core::Conditioning;
use pixelcnn_runtime::{EngineKind, Export, Graph, Input};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    model: std::path::PathBuf,
    #[arg(long, default_value = "ort")]
    a: EngineKind,
    #[arg(long, default_value = "tract")]
    b: EngineKind,
    #[arg(long, default_value_t = 8)]
    batch: usize,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let export = Export::open(&a.model)?;
    let s = &export.spec;
    let n = a.batch;
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let img = ArrayD::from_shape_vec(
        IxDyn(&[n, s.channels, s.height, s.width]),
        (0..n * s.dims()).map(|_| (next() % 256) as u8).collect(),
    )?;
    let (label, cond) = match s.decoder_conditioning() {
        Conditioning::Class { classes } => (
            Some(ArrayD::from_shape_vec(
                IxDyn(&[n]),
                (0..n).map(|_| (next() % classes as u64) as i64).collect(),
            )?),
            None,
        ),
        Conditioning::Vector { dim } | Conditioning::Spatial { dim, .. } if s.encoder.is_none() => (
            None,
            Some(ArrayD::from_shape_vec(
                IxDyn(&[n, dim]),
                (0..n * dim).map(|_| (next() % 2000) as f32 / 1000.0 - 1.0).collect(),
            )?),
        ),
        _ => (None, None),
    };
    let mut outs = Vec::new();
    for engine in [&a.a, &a.b] {
        let (contract, path) = export.graph("model")?;
        let mut g = Graph::load(engine, &path, contract, n)?;
        let mut inputs = vec![("image", Input::U8(img.view()))];
        if let Some(l) = &label {
            inputs.push(("label", Input::I64(l.view())));
        }
        if let Some(c) = &cond {
            inputs.push(("cond", Input::F32(c.view())));
        }
        let o = g.run(&inputs)?;
        outs.push((
            o[g.output_index("logits")?].clone(),
            o[g.output_index("bits_per_dim")?].clone(),
        ));
    }
    let diff =
        |x: &ArrayD<f32>, y: &ArrayD<f32>| x.iter().zip(y.iter()).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
    println!(
        "{}",
        serde_json::json!({"check": "compare_engines", "a": a.a.to_string(), "b": a.b.to_string(), "batch": n,
            "max_abs_logit_diff": diff(&outs[0].0, &outs[1].0), "max_abs_bpd_diff": diff(&outs[0].1, &outs[1].1)})
    );
    Ok(())
}
