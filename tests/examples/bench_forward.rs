//! Full-forward benchmark: images/s of one whole-image forward pass on burn (the
//! training backend), ONNX Runtime and tract, same model, same batch, side by side in
//! one run. Run through `scripts/bench-forward.sh`.
//!
//!   cargo run --example bench_forward -p pixelcnn-tests -- --run RUN_DIR --onnx OUT_DIR --batch 16

use std::time::Instant;

use burn::tensor::{Tensor, TensorData};
use clap::Parser;
use ndarray::{ArrayD, IxDyn};
use pixelcnn_models::backend::Cpu;
use pixelcnn_models::{checkpoint, Condition};
use pixelcnn_runtime::{EngineKind, Export, Graph, Input};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    run: std::path::PathBuf,
    #[arg(long)]
    onnx: std::path::PathBuf,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    #[arg(long, default_value_t = 5)]
    reps: usize,
}

fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    t.elapsed().as_secs_f64() / reps as f64
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let dev = Default::default();
    let model = checkpoint::load_model::<Cpu>(&checkpoint::latest(&a.run)?, &dev)?;
    let s = model.spec.clone();
    anyhow::ensure!(
        s.conditioning == pixelcnn_models::Conditioning::None && s.encoder.is_none(),
        "use an unconditional model"
    );
    let b = a.batch;
    let shape = [b, s.channels, s.height, s.width];
    let bytes: Vec<u8> = (0..b * s.dims()).map(|k| (k * 31 % 256) as u8).collect();
    let floats: Vec<f32> = bytes.iter().map(|&v| v as f32).collect();
    let mut rows = Vec::new();
    let burn_s = time(a.reps, || {
        let x = Tensor::<Cpu, 4>::from_data(TensorData::new(floats.clone(), shape), &dev);
        let _ = model.forward(x, &Condition::None).into_data();
    });
    rows.push(("burn-flex", burn_s));
    let export = Export::open(&a.onnx)?;
    let img = ArrayD::from_shape_vec(IxDyn(&shape), bytes.clone())?;
    for engine in [EngineKind::Ort, EngineKind::Tract] {
        let (contract, path) = export.graph("model")?;
        let mut g = Graph::load(&engine, &path, contract, b)?;
        let secs = time(a.reps, || {
            g.run(&[("image", Input::U8(img.view()))]).expect("forward");
        });
        rows.push((
            if engine == EngineKind::Ort {
                "onnxruntime"
            } else {
                "tract"
            },
            secs,
        ));
    }
    println!(
        "model: {:?} {}x{}x{}, {} layers, {} hidden; batch {b}, mean of {} forwards after one warm-up",
        s.arch, s.channels, s.height, s.width, s.layers, s.hidden, a.reps
    );
    println!(
        "{:<12} {:>12} {:>14} {:>12}",
        "runtime", "images/s", "s/forward", "vs burn"
    );
    for (name, secs) in &rows {
        println!(
            "{:<12} {:>12.2} {:>14.4} {:>11.2}x",
            name,
            b as f64 / secs,
            secs,
            burn_s / secs
        );
    }
    for (name, secs) in &rows {
        println!(
            "{}",
            serde_json::json!({"bench": "forward", "runtime": name, "batch": b, "images_per_s": b as f64 / secs, "seconds_per_forward": secs, "speed_vs_burn": burn_s / secs})
        );
    }
    Ok(())
}
