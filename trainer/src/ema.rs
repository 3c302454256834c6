//! Polyak averaging: an exponential moving average of the weights, updated after every
//! optimizer step, scored, sampled and exported in place of the last step's weights
//! (PixelCNN++ trains with it, decay 0.9995). Late in training Adam's steps make the
//! weights wander around a minimum; their average sits closer to it.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use pixelcnn_models::PixelModel;

/// The averaged weights and how they are updated.
#[derive(Debug, Clone)]
pub struct Ema<B: Backend> {
    pub model: PixelModel<B>,
    /// The configured decay (`ema_decay`).
    pub decay: f64,
}

impl<B: Backend> Ema<B> {
    /// Starts the average at `model`'s weights.
    pub fn new(model: PixelModel<B>, decay: f64) -> Self {
        Self { model, decay }
    }

    /// The decay of the update after optimizer step `n` (0-based): the configured decay,
    /// lowered early in training to `(1 + n) / (10 + n)` (TensorFlow's
    /// `ExponentialMovingAverage` with `num_updates` = the global step), so that an average
    /// started at random weights does not keep them for thousands of steps, while one
    /// started late in a run (`ema_decay` added on resume) averages at full decay at once.
    pub fn decay_at(&self, n: u64) -> f64 {
        self.decay.min((1 + n) as f64 / (10 + n) as f64)
    }

    /// avg <- d avg + (1 - d) weights after optimizer step `n`, d = [`Self::decay_at`]`(n)`.
    pub fn update(&mut self, weights: &PixelModel<B>, n: u64) {
        let d = self.decay_at(n);
        let mut collect = Collect(Vec::new());
        weights.visit(&mut collect);
        let mut blend = Blend {
            new: collect.0.into_iter(),
            d,
        };
        self.model = self.model.clone().map(&mut blend);
        debug_assert!(
            blend.new.next().is_none(),
            "the average and the model have other parameters"
        );
    }
}

/// Every float parameter, flattened, in module order.
struct Collect<B: Backend>(Vec<Tensor<B, 1>>);

impl<B: Backend> ModuleVisitor<B> for Collect<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let t = param.val();
        let n = t.shape().num_elements();
        self.0.push(t.reshape([n]));
    }
}

/// Blends each parameter with the next collected one (same module, same order).
struct Blend<B: Backend> {
    new: std::vec::IntoIter<Tensor<B, 1>>,
    d: f64,
}

impl<B: Backend> ModuleMapper<B> for Blend<B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, avg, mapper) = param.consume();
        let new = self.new.next().expect("the average has the model's parameters");
        let dims = avg.dims();
        let blended = avg.mul_scalar(self.d).add(new.reshape(dims).mul_scalar(1.0 - self.d));
        Param::from_mapped_value(id, blended, mapper)
    }
}
