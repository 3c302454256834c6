//! The blind spot, drawn: which input pixels the prediction of one pixel depends on, for
//! the Gated PixelCNN and the original masked PixelCNN of the same depth, from exact f64
//! gradients of that pixel's logits with respect to the input image.
//!
//!   cargo run -p pixelcnn-tests --example receptive_field -- \
//!     --gated models/configs/mnist-gated.yaml --baseline models/configs/mnist-pixelcnn-baseline.yaml \
//!     --out docs/blind-spot.png
//!
//! Prints each model's parameter count and how many of the target's causal predecessors
//! inside its receptive-field window it misses; writes both maps side by side (white: the
//! logits depend on that pixel; red: the target; dark: no dependence).

use std::path::PathBuf;

use burn::backend::Autodiff;
use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use clap::Parser;
use pixelcnn_models::{Condition, ModelSpec, PixelModel};
use pixelcnn_trainer::TrainConfig;

type B = Autodiff<burn::backend::NdArray<f64>>;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    gated: PathBuf,
    #[arg(long)]
    baseline: PathBuf,
    /// Target pixel (row, column); default: the image centre.
    #[arg(long, num_args = 2)]
    target: Option<Vec<usize>>,
    #[arg(long, default_value_t = 8)]
    scale: u32,
    #[arg(long)]
    out: PathBuf,
}

/// `dep[i][j]`: whether the target's logits depend on input pixel (i, j).
fn dependence(spec: &ModelSpec, ti: usize, tj: usize) -> Vec<Vec<bool>> {
    let dev = Default::default();
    let model = PixelModel::<B>::new(spec, 1, &dev);
    let (c, h, w) = (spec.channels, spec.height, spec.width);
    let vals: Vec<f64> = (0..c * h * w).map(|k| ((k * 37 + 11) % 256) as f64).collect();
    let x = Tensor::<B, 4>::from_data(TensorData::new(vals, [1, c, h, w]), &dev).require_grad();
    let logits = model.forward(x.clone(), &Condition::None);
    let target = logits.slice([0..1, 0..1, ti..ti + 1, tj..tj + 1]).sum();
    let grads = target.backward();
    let g: Vec<f64> = x.grad(&grads).expect("input gradient").into_data().to_vec().unwrap();
    (0..h)
        .map(|i| {
            (0..w)
                .map(|j| (0..c).any(|ch| g[(ch * h + i) * w + j] != 0.0))
                .collect()
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let specs = [
        TrainConfig::load(&a.gated)?.model,
        TrainConfig::load(&a.baseline)?.model,
    ];
    let (h, w) = (specs[0].height, specs[0].width);
    anyhow::ensure!(
        specs[1].height == h && specs[1].width == w,
        "the two configs must share the image size"
    );
    let (ti, tj) = match &a.target {
        Some(t) => (t[0], t[1]),
        None => (h / 2, w / 2),
    };
    anyhow::ensure!(ti < h && tj < w, "--target {ti} {tj} is outside the {h}x{w} image");
    let maps: Vec<Vec<Vec<bool>>> = specs.iter().map(|s| dependence(s, ti, tj)).collect();
    // the gated model's dependence region is the union of everything causal it can reach;
    // a causal pixel inside it that the baseline misses is in the baseline's blind spot
    for (name, (spec, map)) in ["gated", "baseline"].iter().zip(specs.iter().zip(&maps)) {
        let params = PixelModel::<B>::new(spec, 1, &Default::default()).num_params();
        let seen = map.iter().flatten().filter(|&&d| d).count();
        let missed = (0..h)
            .flat_map(|i| (0..w).map(move |j| (i, j)))
            .filter(|&(i, j)| maps[0][i][j] && !map[i][j])
            .count();
        println!(
            "{}",
            serde_json::json!({"model": name, "arch": spec.arch, "layers": spec.layers, "hidden": spec.hidden,
                "params": params, "target": [ti, tj], "pixels_seen": seen, "missed_vs_gated": missed})
        );
        for (i, row) in map.iter().enumerate() {
            for (j, &d) in row.iter().enumerate() {
                let causal = i < ti || (i == ti && j < tj);
                anyhow::ensure!(
                    !d || causal,
                    "{name}: the target depends on a non-causal pixel ({i}, {j})"
                );
            }
        }
    }
    let gap = 2;
    let mut img = image::RgbImage::from_pixel((2 * w + gap) as u32, h as u32, image::Rgb([90, 90, 90]));
    for (k, map) in maps.iter().enumerate() {
        for (i, row) in map.iter().enumerate() {
            for (j, &seen) in row.iter().enumerate() {
                let px = if (i, j) == (ti, tj) {
                    [220, 40, 40]
                } else if seen {
                    [240, 240, 240]
                } else {
                    [25, 25, 25]
                };
                img.put_pixel((k * (w + gap) + j) as u32, i as u32, image::Rgb(px));
            }
        }
    }
    let (sw, sh) = (img.width() * a.scale, img.height() * a.scale);
    let img = image::imageops::resize(&img, sw, sh, image::imageops::FilterType::Nearest);
    img.save(&a.out)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.out.display()))?;
    println!(
        "{}",
        serde_json::json!({"out": a.out, "left": "gated", "right": "baseline"})
    );
    Ok(())
}
