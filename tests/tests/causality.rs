//! Perturbation tests of the burn models: no output depends on its own sub-pixel or any
//! later one (raster order, then R, G, B within a pixel), for every variant; the Gated
//! PixelCNN sees every earlier pixel (no blind spot) and the baseline does not.

use burn::tensor::{Tensor, TensorData};
use pixelcnn_models::{Arch, CondInput, Condition, Conditioning, ModelSpec, PixelModel};
use pixelcnn_tests::{all_variants, tiny_spec};

/// f64 so that float noise (~1e-16) cannot hide or fake a dependence.
type B = burn::backend::NdArray<f64>;

/// Raster/RGB index of sub-pixel (c, i, j).
fn order(spec: &ModelSpec, c: usize, i: usize, j: usize) -> usize {
    (i * spec.width + j) * spec.channels + c
}

fn condition(spec: &ModelSpec, batch: usize, dev: &burn::tensor::Device<B>) -> Condition<B> {
    let cond = match spec.decoder_conditioning() {
        Conditioning::None => CondInput::None,
        Conditioning::Class { classes } => CondInput::Labels(vec![(classes - 1) as i64; batch]),
        Conditioning::Vector { dim } | Conditioning::Spatial { dim, .. } => {
            CondInput::Vectors((0..batch * dim).map(|k| 0.3 * (k % dim) as f32 - 0.5).collect(), dim)
        }
    };
    Condition::from_host(&cond, dev)
}

/// A base image and, for each sub-pixel t, a copy with t changed. Returns, for each t,
/// the max |logit change| at every output sub-pixel: `deps[t][s]`.
fn dependencies(spec: &ModelSpec, seed: u64) -> Vec<Vec<f64>> {
    let dev = Default::default();
    let model = PixelModel::<B>::new(spec, seed, &dev);
    let d = spec.dims();
    let base: Vec<f32> = (0..d).map(|k| ((k * 37 + 11) % 256) as f32).collect();
    let mut batch = base.clone();
    for t in 0..d {
        let mut img = base.clone();
        img[t] = (img[t] + 128.0) % 256.0;
        batch.extend(img);
    }
    let (c, h, w) = (spec.channels, spec.height, spec.width);
    let batch: Vec<f64> = batch.into_iter().map(f64::from).collect();
    let images = Tensor::<B, 4>::from_data(TensorData::new(batch, [d + 1, c, h, w]), &dev);
    let logits = model.forward(images, &condition(spec, d + 1, &dev));
    let values: Vec<f64> = logits.into_data().to_vec().unwrap();
    let per_image = d * 256;
    (0..d)
        .map(|t| {
            // image buffers are [C, H, W]; map tensor index t -> (c, i, j)
            (0..d)
                .map(|s| {
                    let a = &values[s * 256..(s + 1) * 256];
                    let b = &values[(t + 1) * per_image + s * 256..(t + 1) * per_image + (s + 1) * 256];
                    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
                })
                .collect()
        })
        .collect()
}

/// Converts a `[C, H, W]` flat index into raster/RGB order.
fn flat_order(spec: &ModelSpec, k: usize) -> usize {
    let (h, w) = (spec.height, spec.width);
    order(spec, k / (h * w), (k / w) % h, k % w)
}

/// Differences below this are f64 noise; real dependence is orders larger.
const NOISE: f64 = 1e-10;

#[test]
fn no_output_depends_on_its_own_or_a_later_subpixel() {
    for (name, spec) in all_variants() {
        let deps = dependencies(&spec, 7);
        let mut seen_dependence = 0;
        for (t, row) in deps.iter().enumerate() {
            for (s, &diff) in row.iter().enumerate() {
                if flat_order(&spec, s) <= flat_order(&spec, t) {
                    assert!(
                        diff < NOISE,
                        "{name}: output {s} changed by {diff} when input {t} (not earlier) changed"
                    );
                } else if diff > 1e-9 {
                    seen_dependence += 1;
                }
            }
        }
        // the test must be able to fail: the model does depend on earlier sub-pixels
        assert!(
            seen_dependence > spec.dims(),
            "{name}: outputs barely depend on the input ({seen_dependence})"
        );
    }
}

/// Spec whose receptive field covers every earlier pixel of the target.
fn deep(arch: Arch) -> ModelSpec {
    let mut s = tiny_spec(arch, 1, Conditioning::None);
    s.height = 6;
    s.width = 6;
    s.layers = 6;
    s.first_kernel = 3;
    s.kernel = 3;
    s
}

#[test]
fn gated_pixelcnn_has_no_blind_spot() {
    let spec = deep(Arch::Gated);
    let deps = dependencies(&spec, 3);
    let target = 4 * spec.width + 1; // pixel (4, 1)
    for (t, row) in deps.iter().enumerate().take(target) {
        assert!(
            row[target] > NOISE,
            "gated: output at (4,1) does not depend on earlier pixel ({}, {})",
            t / spec.width,
            t % spec.width
        );
    }
}

#[test]
fn baseline_pixelcnn_has_the_blind_spot() {
    let spec = deep(Arch::Pixelcnn);
    let deps = dependencies(&spec, 3);
    let target = 4 * spec.width + 1; // pixel (4, 1)
    let blind = 3 * spec.width + 3; // (3, 3): two columns right, one row up
    assert!(deps[blind][target] < NOISE, "baseline should not see (3,3) from (4,1)");
    // but it does see pixels just above
    assert!(deps[3 * spec.width + 1][target] > 1e-9);
    assert!(deps[3 * spec.width + 2][target] > 1e-9);
}

#[test]
fn rgb_colours_see_earlier_colours_of_the_same_pixel() {
    let spec = tiny_spec(Arch::Gated, 3, Conditioning::None);
    let deps = dependencies(&spec, 5);
    let (h, w) = (spec.height, spec.width);
    let px = 2 * w + 3;
    let idx = |c: usize| c * h * w + px;
    assert!(deps[idx(0)][idx(1)] > 1e-9, "G must see R");
    assert!(deps[idx(0)][idx(2)] > 1e-9, "B must see R");
    assert!(deps[idx(1)][idx(2)] > 1e-9, "B must see G");
}
