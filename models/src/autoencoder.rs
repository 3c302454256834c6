//! The PixelCNN auto-encoder's encoder (paper §2.4): two stride-2 3x3 convolutions with
//! ReLUs and a linear layer to the m-dimensional bottleneck h. The decoder is a Gated
//! PixelCNN conditioned on h as a vector, trained end to end on -log p(x | h).

use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{activation, Tensor};
use rand_chacha::ChaCha8Rng;

use crate::conv::{uniform_param, Conv};
use crate::spec::{EncoderSpec, ModelSpec};

#[derive(Module, Debug)]
pub struct Encoder<B: Backend> {
    pub conv1: Conv<B>,
    pub conv2: Conv<B>,
    /// `[features, bottleneck]`
    pub linear_w: Param<Tensor<B, 2>>,
    pub linear_b: Param<Tensor<B, 1>>,
}

/// Spatial size after one stride-2, padding-1, 3x3 convolution.
pub fn downsampled(n: usize) -> usize {
    (n + 2 - 3) / 2 + 1
}

/// Stride of the encoder's convolutions.
pub const ENCODER_STRIDE: usize = 2;

impl<B: Backend> Encoder<B> {
    pub fn new(spec: &ModelSpec, enc: &EncoderSpec, rng: &mut ChaCha8Rng, device: &B::Device) -> Self {
        let e = enc.hidden;
        let conv1 = Conv::new([e, spec.channels, 3, 3], true, None, [1; 4], rng, device).with_stride(ENCODER_STRIDE);
        let conv2 = Conv::new([e, e, 3, 3], true, None, [1; 4], rng, device).with_stride(ENCODER_STRIDE);
        let feats = e * downsampled(downsampled(spec.height)) * downsampled(downsampled(spec.width));
        let bound = 1.0 / (feats as f32).sqrt();
        let m = enc.bottleneck;
        Self {
            conv1,
            conv2,
            linear_w: uniform_param(rng, [feats, m], bound, device),
            linear_b: uniform_param(rng, [m], bound, device),
        }
    }

    /// Makes every code start at zero (the output layer's weights and bias zero), without
    /// the random spread of a fresh encoder: for a decoder that already reads codes
    /// (labels), a spread that says nothing only hurts, and training would first shrink it
    /// by killing the encoder's features.
    pub fn start_at_zero(mut self) -> Self {
        self.linear_w = Param::from_tensor(self.linear_w.val().zeros_like());
        self.linear_b = Param::from_tensor(self.linear_b.val().zeros_like());
        self
    }

    /// Normalised images `[B, C, H, W]` -> bottleneck `[B, m]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = activation::relu(self.conv1.forward(x));
        let x = activation::relu(self.conv2.forward(x));
        let b = x.dims()[0];
        let flat: Tensor<B, 2> = x.reshape([b as i32, -1]);
        flat.matmul(self.linear_w.val()) + self.linear_b.val().unsqueeze::<2>()
    }
}
