//! Sampling from a training run's model in burn, with the project's seeded rule
//! ([`pixelcnn_core::rng`]), so the same seed gives the same images as `sample` on the
//! exported graphs (up to float differences in the logits). Gated models use their
//! cached steps in [`Mode::Cached`]; [`Mode::Naive`] runs the full network once per
//! sub-pixel (the reference).

use pixelcnn_core::rng::{image_seed, Mode};
use pixelcnn_models::fused::FusedOps;
use pixelcnn_models::{Condition, PixelModel};

/// Samples `n` images `[n, C, H, W]` with `cond` (batched to `n`), seed and temperature.
pub fn sample<B: FusedOps>(
    model: &PixelModel<B>,
    n: usize,
    cond: &Condition<B>,
    seed: u64,
    temperature: f64,
    mode: Mode,
    device: &B::Device,
) -> Result<Vec<u8>, pixelcnn_core::rng::DrawError> {
    let seeds: Vec<u64> = (0..n).map(|b| image_seed(seed, b)).collect();
    model.sample(cond, &seeds, temperature, mode, device)
}
