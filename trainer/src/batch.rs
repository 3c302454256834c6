//! Turning dataset items into burn tensors.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use pixelcnn_models::{CondInput, Condition, Conditioning, ModelSpec};

use crate::datasets::Dataset;

pub struct Batch<B: Backend> {
    /// `[B, C, H, W]` values 0..=255 as floats.
    pub images: Tensor<B, 4>,
    /// The same values as class indices for the loss.
    pub targets: Tensor<B, 4, Int>,
    pub cond: Condition<B>,
}

/// The condition a model needs for dataset items `idx` (labels or vectors).
pub fn condition(spec: &ModelSpec, ds: &Dataset, idx: &[usize]) -> CondInput {
    if spec.encoder.is_some() {
        return CondInput::None; // the auto-encoder conditions on its own encoding
    }
    match spec.conditioning {
        Conditioning::None => CondInput::None,
        Conditioning::Class { .. } => CondInput::Labels(idx.iter().map(|&i| ds.labels[i] as i64).collect()),
        Conditioning::Vector { .. } | Conditioning::Spatial { .. } => {
            let (v, d) = ds.vectors.as_ref().expect("vectors checked at load");
            CondInput::Vectors(
                idx.iter()
                    .flat_map(|&i| v[i * d..(i + 1) * d].iter().copied())
                    .collect(),
                *d,
            )
        }
    }
}

/// Images as `[n, C, H, W]` float and int tensors from raw bytes.
pub fn image_tensors<B: Backend>(
    bytes: &[u8],
    n: usize,
    spec: &ModelSpec,
    device: &B::Device,
) -> (Tensor<B, 4>, Tensor<B, 4, Int>) {
    let shape = [n, spec.channels, spec.height, spec.width];
    let f: Vec<f32> = bytes.iter().map(|&v| v as f32).collect();
    let i: Vec<i64> = bytes.iter().map(|&v| v as i64).collect();
    (
        Tensor::from_data(TensorData::new(f, shape), device),
        Tensor::from_data(TensorData::new(i, shape), device),
    )
}

pub fn make_batch<B: Backend>(spec: &ModelSpec, ds: &Dataset, idx: &[usize], device: &B::Device) -> Batch<B> {
    let bytes: Vec<u8> = idx.iter().flat_map(|&i| ds.image(i).iter().copied()).collect();
    let (images, targets) = image_tensors(&bytes, idx.len(), spec, device);
    Batch {
        images,
        targets,
        cond: Condition::from_host(&condition(spec, ds, idx), device),
    }
}
