//! Scoring a model on a dataset: bits/dim = mean NLL in nats / (C*H*W ln 2).

use pixelcnn_models::fused::FusedOps;
use pixelcnn_models::PixelModel;
use serde::Serialize;

use crate::batch::make_batch;
use crate::datasets::Dataset;

#[derive(Debug, Clone, Serialize)]
pub struct EvalResult {
    pub bits_per_dim: f64,
    /// Mean NLL per image in nats.
    pub nll_nats: f64,
    pub images: usize,
}

/// Scores the first `limit` items (all when `None`), `batch` at a time.
pub fn evaluate<B: FusedOps>(
    model: &PixelModel<B>,
    ds: &Dataset,
    limit: Option<usize>,
    batch: usize,
    device: &B::Device,
) -> EvalResult {
    let n = limit.unwrap_or(ds.len()).min(ds.len());
    let batch = batch.max(1); // the CLI refuses 0; a library caller's 0 scores one at a time
    let mut total = 0f64;
    for start in (0..n).step_by(batch) {
        let idx: Vec<usize> = (start..(start + batch).min(n)).collect();
        let b = make_batch::<B>(&model.spec, ds, &idx, device);
        let nats: Vec<f32> = model
            .nll(b.images, b.targets, &b.cond)
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 data");
        total += nats.iter().map(|&v| v as f64).sum::<f64>();
    }
    let nll = total / n.max(1) as f64;
    EvalResult {
        bits_per_dim: nll / (model.spec.dims() as f64 * std::f64::consts::LN_2),
        nll_nats: nll,
        images: n,
    }
}
