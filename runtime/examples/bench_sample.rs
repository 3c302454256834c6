//! Sampling benchmark: naive (model.onnx once per sub-pixel) vs cached (step graphs)
//! on ONNX Runtime and tract, side by side in one run. Run through
//! `scripts/bench-sample.sh`. Naive sampling repeats the same full forward C*H*W
//! times, so it is timed over `--naive-steps` forwards and scaled to a whole image.
//!
//!   cargo run --example bench_sample -p pixelcnn-runtime -- --model OUT_DIR [--batches 1,16]

use std::time::Instant;

use clap::Parser;
use ndarray::{ArrayD, IxDyn};
use pixelcnn_core::rng::image_seed;
use pixelcnn_runtime::sampler::{CondInput, Mode, SampleRequest};
use pixelcnn_runtime::{EngineKind, Export, Graph, Input};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    model: std::path::PathBuf,
    #[arg(long, default_value = "1,16,64,256", value_delimiter = ',')]
    batches: Vec<usize>,
    #[arg(long, default_value = "ort,tract", value_delimiter = ',')]
    backends: Vec<EngineKind>,
    #[arg(long, default_value_t = 8)]
    naive_steps: usize,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let export = Export::open(&a.model)?;
    let s = export.spec.clone();
    anyhow::ensure!(
        export.spec.conditioning == pixelcnn_core::Conditioning::None,
        "the benchmark uses unconditional models"
    );
    let steps = s.dims();
    println!(
        "model: {:?} {}x{}x{}, {} layers, {} hidden; naive timed over {} forwards and scaled to {steps}",
        s.arch, s.channels, s.height, s.width, s.layers, s.hidden, a.naive_steps
    );
    println!(
        "{:<8} {:>5} {:>14} {:>14} {:>9} {:>11} {:>10} {:>10} {:>10}",
        "backend", "batch", "naive img/s", "cached img/s", "ratio", "arith. %", "pixel %", "row %", "host %"
    );
    for engine in &a.backends {
        for &b in &a.batches {
            // naive: the same full forward, timed over a few calls
            let (contract, path) = export.graph("model")?;
            let mut g = Graph::load(engine, &path, contract, b)?;
            let img = ArrayD::<u8>::zeros(IxDyn(&[b, s.channels, s.height, s.width]));
            g.run(&[("image", Input::U8(img.view()))])?; // warm-up
            let t = Instant::now();
            for _ in 0..a.naive_steps {
                g.run(&[("image", Input::U8(img.view()))])?;
            }
            let per_forward = t.elapsed().as_secs_f64() / a.naive_steps as f64;
            let naive_ips = b as f64 / (per_forward * steps as f64);

            // cached: a whole sampling run, with the host's share measured inside it
            let mut sampler = pixelcnn_runtime::sampler::open(&export, engine, Mode::Cached, b)?; // IoBinding on GPUs
            let req = SampleRequest {
                cond: CondInput::None,
                seeds: (0..b).map(|k| image_seed(1, k)).collect(),
                prefix: None,
                temperature: 1.0,
            };
            sampler.sample(&req, &mut |_, _| {})?; // warm-up
            let t = Instant::now();
            sampler.sample(&req, &mut |_, _| {})?;
            let total = t.elapsed().as_secs_f64();
            let cached_ips = b as f64 / total;
            // host share: the sampling rule alone on the same number of draws
            let logits = vec![0.5f32; 256];
            let mut rng = pixelcnn_core::rng::SplitMix64::new(1);
            let th = Instant::now();
            for _ in 0..b * steps {
                std::hint::black_box(pixelcnn_core::rng::sample_logits(&logits, 1.0, &mut rng).unwrap());
            }
            let host = th.elapsed().as_secs_f64();
            // row share: H-1 step_row calls on zeros
            let (rc, rp) = export.graph("step_row")?;
            let mut rg = Graph::load(engine, &rp, rc.clone(), b)?;
            let row = ArrayD::<u8>::zeros(IxDyn(&[b, s.channels, s.width]));
            let states: Vec<(String, ArrayD<f32>)> = rc
                .inputs
                .iter()
                .filter(|t| t.name.starts_with("past_v."))
                .map(|t| (t.name.clone(), ArrayD::zeros(IxDyn(&t.concrete_shape(b)))))
                .collect();
            let tr = Instant::now();
            for _ in 0..s.height - 1 {
                let mut inputs = vec![("row", Input::U8(row.view()))];
                inputs.extend(states.iter().map(|(n, a)| (n.as_str(), Input::F32(a.view()))));
                rg.run(&inputs)?;
            }
            let rows = tr.elapsed().as_secs_f64();
            let pixel = (total - rows - host).max(0.0);
            // the cached loop does one full forward's arithmetic per image (for one colour
            // exactly; C colours run the pixel steps C times): its share of the arithmetic
            // rate the full forward reaches at this batch
            let arithmetic_share = cached_ips * per_forward / b as f64;
            println!(
                "{:<8} {:>5} {:>14.4} {:>14.2} {:>8.0}x {:>10.1}% {:>9.1}% {:>9.1}% {:>9.1}%",
                engine.to_string(),
                b,
                naive_ips,
                cached_ips,
                cached_ips / naive_ips,
                100.0 * arithmetic_share,
                100.0 * pixel / total,
                100.0 * rows / total,
                100.0 * host / total
            );
            println!(
                "{}",
                serde_json::json!({"bench": "sample", "backend": engine.to_string(), "batch": b, "naive_images_per_s": naive_ips,
                    "naive_forward_s": per_forward, "naive_steps_timed": a.naive_steps, "cached_images_per_s": cached_ips,
                    "cached_over_naive": cached_ips / naive_ips, "arithmetic_share": arithmetic_share, "cached_seconds": total, "step_row_seconds": rows, "host_sampling_seconds": host})
            );
        }
    }
    Ok(())
}
