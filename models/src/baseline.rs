//! The original PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks"):
//! one stack of `n x n` masked convolutions with ReLUs. Its receptive field has the
//! blind spot the Gated PixelCNN removes; it is here to reproduce that ablation.
//!
//! Layer 0: masked conv (type A) C -> p. Layer l > 0: `x + conv_B(relu(x))`. Then the
//! shared head. Conditioning adds V^T h to every layer's conv output.

use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{activation, Tensor};
use rand_chacha::ChaCha8Rng;

use crate::conditioning::{CondFeatures, CondProjection};
use crate::conv::Conv;
use crate::head::Head;
use crate::masks::{self, MaskKind};
use crate::spec::{Conditioning, ModelSpec};

#[derive(Module, Debug)]
pub struct MaskedLayer<B: Backend> {
    pub conv: Conv<B>,
    pub cond: Option<CondProjection<B>>,
}

#[derive(Module, Debug)]
pub struct PixelCnn<B: Backend> {
    pub layers: Vec<MaskedLayer<B>>,
    pub head: Head<B>,
}

impl<B: Backend> PixelCnn<B> {
    pub fn new(spec: &ModelSpec, cond: &Conditioning, rng: &mut ChaCha8Rng, device: &B::Device) -> Self {
        let p = spec.hidden;
        let layers = (0..spec.layers)
            .map(|l| {
                let n = spec.kernel_of(l);
                let cin = spec.in_features(l);
                let kind = if l == 0 { MaskKind::A } else { MaskKind::B };
                let mask = masks::full(kind, &spec.groups(p), &spec.groups(cin), n);
                let half = n / 2;
                MaskedLayer {
                    conv: Conv::new([p, cin, n, n], true, Some(mask), [half; 4], rng, device),
                    cond: CondProjection::new(cond, p, rng, device),
                }
            })
            .collect();
        Self {
            layers,
            head: Head::new(spec, rng, device),
        }
    }

    /// Normalised images `[B, C, H, W]` -> logits `[B, C*256, H, W]`.
    pub fn forward(&self, x: Tensor<B, 4>, cond: &CondFeatures<B>) -> Tensor<B, 4> {
        let mut h = x;
        for (l, layer) in self.layers.iter().enumerate() {
            let input = if l == 0 { h.clone() } else { activation::relu(h.clone()) };
            let mut y = layer.conv.forward(input);
            if let Some(c) = &layer.cond {
                y = y + c.forward(cond);
            }
            h = if l == 0 { y } else { h + y };
        }
        self.head.forward(h)
    }
}
