//! Plain full-network sampling in burn: one forward per sub-pixel (C*H*W per image).
//! Slow by design; it is the reference the cached ONNX sampler is checked against, and
//! draws values with the runtime's documented RNG so both give the same images.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use pixelcnn_core::rng::{image_seed, sample_logits, SplitMix64};
use pixelcnn_models::{Condition, PixelModel, LEVELS};

use crate::batch::image_tensors;

/// Samples `n` images `[n, C, H, W]` with `cond` (batched to `n`), seed and temperature.
pub fn sample_naive<B: Backend>(
    model: &PixelModel<B>,
    n: usize,
    cond: &Condition<B>,
    seed: u64,
    temperature: f64,
    device: &B::Device,
) -> Vec<u8> {
    let s = &model.spec;
    let (c, h, w) = (s.channels, s.height, s.width);
    let mut images = vec![0u8; n * c * h * w];
    let mut rngs: Vec<SplitMix64> = (0..n).map(|b| SplitMix64::new(image_seed(seed, b))).collect();
    for i in 0..h {
        for j in 0..w {
            for ch in 0..c {
                let (x, _) = image_tensors::<B>(&images, n, s, device);
                let logits = model.forward(x, cond);
                // [n, C, H, W, 256] -> the 256 logits of (ch, i, j) for every image
                let sel = logits
                    .narrow(1, ch, 1)
                    .narrow(2, i, 1)
                    .narrow(3, j, 1)
                    .reshape([n, LEVELS]);
                let vals: Vec<f32> = sel.into_data().convert::<f32>().to_vec().expect("f32");
                for b in 0..n {
                    let v = sample_logits(&vals[b * LEVELS..(b + 1) * LEVELS], temperature, &mut rngs[b]);
                    images[((b * c + ch) * h + i) * w + j] = v;
                }
            }
        }
    }
    images
}

/// Class labels `[n]` as a condition.
pub fn class_condition<B: Backend>(label: usize, n: usize, device: &B::Device) -> Condition<B> {
    Condition::Class(Tensor::<B, 1, Int>::from_data(
        TensorData::new(vec![label as i64; n], [n]),
        device,
    ))
}

/// Sampling through the exported graphs: the model is exported to a temporary directory
/// and sampled with the cached step graphs on tract (naive `model.onnx` for the baseline,
/// which has none). Same RNG as [`sample_naive`], so the same seed gives the same images
/// up to float32 differences between burn and the ONNX engine; orders of magnitude faster.
pub fn sample_exported<B: Backend>(
    model: &PixelModel<B>,
    n: usize,
    cond: &Condition<B>,
    seed: u64,
    temperature: f64,
) -> anyhow::Result<Vec<u8>> {
    use pixelcnn_runtime::sampler::{self, CondInput, Mode, SampleRequest};
    let dir = tempfile::tempdir()?;
    pixelcnn_exporter::export(model, dir.path(), pixelcnn_exporter::DEFAULT_OPSET)?;
    let export = pixelcnn_runtime::Export::open(dir.path())?;
    let mode = if export.contract.graphs.contains_key("step_row") {
        Mode::Cached
    } else {
        Mode::Naive
    };
    let mut s = sampler::open(&export, &pixelcnn_runtime::EngineKind::Tract, mode, n)?;
    let cond = match cond {
        Condition::None => CondInput::None,
        Condition::Class(l) => CondInput::Labels(l.clone().into_data().convert::<i64>().to_vec().expect("labels")),
        Condition::Vector(v) => {
            let d = v.dims()[1];
            CondInput::Vectors(v.clone().into_data().convert::<f32>().to_vec().expect("vectors"), d)
        }
    };
    let req = SampleRequest {
        cond,
        seeds: (0..n).map(|b| image_seed(seed, b)).collect(),
        prefix: None,
        temperature,
    };
    s.sample(&req, &mut |_, _| {})
}
