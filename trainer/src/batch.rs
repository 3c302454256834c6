//! Turning dataset items into burn tensors.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use pixelcnn_models::{CondInput, Condition, Conditioning, ModelSpec, PixelModel};

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

/// The images, targets and condition of dataset items `idx`.
pub fn make_batch<B: Backend>(spec: &ModelSpec, ds: &Dataset, idx: &[usize], device: &B::Device) -> Batch<B> {
    let bytes: Vec<u8> = idx.iter().flat_map(|&i| ds.image(i).iter().copied()).collect();
    let shape = [idx.len(), spec.channels, spec.height, spec.width];
    let f: Vec<f32> = bytes.iter().map(|&v| v as f32).collect();
    let i: Vec<i64> = bytes.iter().map(|&v| v as i64).collect();
    Batch {
        images: Tensor::from_data(TensorData::new(f, shape), device),
        targets: Tensor::from_data(TensorData::new(i, shape), device),
        cond: Condition::from_host(&condition(spec, ds, idx), device),
    }
}

/// The condition for `n` samples from the first `n` items of `ds` (cycled): their labels
/// or vectors, or for the auto-encoder the encodings of their images.
pub fn items_condition<B: Backend>(model: &PixelModel<B>, ds: &Dataset, n: usize, device: &B::Device) -> Condition<B> {
    let idx: Vec<usize> = (0..n).map(|k| k % ds.len()).collect();
    let b = make_batch::<B>(&model.spec, ds, &idx, device);
    model.encode(b.images).map_or(b.cond, Condition::Vector)
}
