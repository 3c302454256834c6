//! Turning dataset items into burn tensors.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use pixelcnn_core::rng::{image_seed, SplitMix64};
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
    batch_of(spec, ds, idx, image_bytes(ds, idx), device)
}

/// The batch of dataset items `idx` whose sub-pixels are `bytes`.
fn batch_of<B: Backend>(spec: &ModelSpec, ds: &Dataset, idx: &[usize], bytes: Vec<u8>, device: &B::Device) -> Batch<B> {
    let i: Vec<i64> = bytes.iter().map(|&v| v as i64).collect();
    Batch {
        images: float_images(spec, bytes, device),
        targets: Tensor::from_data(TensorData::new(i, shape(spec, idx.len())), device),
        cond: Condition::from_host(&condition(spec, ds, idx), device),
    }
}

fn shape(spec: &ModelSpec, n: usize) -> [usize; 4] {
    [n, spec.channels, spec.height, spec.width]
}

/// The sub-pixels of dataset items `idx`, one image after another.
fn image_bytes(ds: &Dataset, idx: &[usize]) -> Vec<u8> {
    idx.iter().flat_map(|&i| ds.image(i).iter().copied()).collect()
}

/// `[n, C, H, W]` values 0..=255 as floats.
fn float_images<B: Backend>(spec: &ModelSpec, bytes: Vec<u8>, device: &B::Device) -> Tensor<B, 4> {
    let n = bytes.len() / spec.dims().max(1);
    let f: Vec<f32> = bytes.into_iter().map(f32::from).collect();
    Tensor::from_data(TensorData::new(f, shape(spec, n)), device)
}

/// The condition for `n` samples from the first `n` items of `ds` (cycled): their labels
/// or vectors, or for the auto-encoder the encodings of their images.
pub fn items_condition<B: Backend>(model: &PixelModel<B>, ds: &Dataset, n: usize, device: &B::Device) -> Condition<B> {
    let idx: Vec<usize> = (0..n).map(|k| k % ds.len()).collect();
    let b = make_batch::<B>(&model.spec, ds, &idx, device);
    model.encode(b.images).map_or(b.cond, Condition::Vector)
}

/// Training-time corruption of the context a network reads (`context_noise` in the
/// config): each sub-pixel is replaced, with probability `p`, by a uniform level. The
/// draws of an image come from its own SplitMix64 stream keyed by the run's seed, the
/// optimizer step and the image's index in the dataset, so they do not depend on how a
/// batch is split across workers, and a resumed run draws what the uninterrupted one did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContextNoise {
    pub p: f64,
    pub seed: u64,
    pub step: u64,
}

impl ContextNoise {
    /// Corrupts, in place, the sub-pixels of dataset items `idx` laid out one image after
    /// another in `values`.
    pub fn corrupt(&self, values: &mut [u8], idx: &[usize]) {
        let per_image = values.len() / idx.len().max(1);
        let stream = image_seed(self.seed ^ 0xC0DE_C0DE_5EED_0001, self.step as usize);
        for (pixels, &item) in values.chunks_mut(per_image).zip(idx) {
            let mut rng = SplitMix64::new(image_seed(stream, item));
            for v in pixels {
                // two draws per sub-pixel, whether or not it is replaced: the stream's
                // position never depends on the image's values
                let (hit, level) = (rng.next_f64() < self.p, rng.next_u64() % 256);
                if hit {
                    *v = level as u8;
                }
            }
        }
    }

    /// The batch of dataset items `idx` and the context the network reads for it: the same
    /// images, corrupted on the host before they reach the device (one gather of the
    /// images, no read-back of the batch).
    pub fn batch<B: Backend>(
        &self,
        spec: &ModelSpec,
        ds: &Dataset,
        idx: &[usize],
        device: &B::Device,
    ) -> (Batch<B>, Tensor<B, 4>) {
        let bytes = image_bytes(ds, idx);
        let mut noisy = bytes.clone();
        self.corrupt(&mut noisy, idx);
        (
            batch_of(spec, ds, idx, bytes, device),
            float_images(spec, noisy, device),
        )
    }
}
