//! The output head shared by every architecture: ReLU -> 1x1 -> ReLU -> 1x1 to
//! C x 256 logits, both 1x1 convs type-B masked so colour c only sees colours <= c.

use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{activation, Tensor};
use rand_chacha::ChaCha8Rng;

use crate::conv::Conv;
use crate::fused::FusedOps;
use crate::lower::Lower;
use crate::masks::{self, MaskKind};
use crate::spec::{ModelSpec, LEVELS};

#[derive(Module, Debug)]
pub struct Head<B: Backend> {
    pub hidden: Conv<B>,
    pub out: Conv<B>,
}

impl<B: Backend> Head<B> {
    pub fn new(spec: &ModelSpec, rng: &mut ChaCha8Rng, device: &B::Device) -> Self {
        let (p, q, o) = (spec.hidden, spec.head_hidden, spec.channels * LEVELS);
        let masked = |[o, i]: [usize; 2], rng: &mut ChaCha8Rng| {
            let mask = masks::pointwise(MaskKind::B, &spec.groups(o), &spec.groups(i));
            Conv::new([o, i, 1, 1], true, Some(mask), [0; 4], rng, device)
        };
        let hidden = masked([q, p], rng);
        let out = masked([o, q], rng);
        Self { hidden, out }
    }

    /// Features `[B, p, H, W]` -> logits `[B, C*256, H, W]`, channel index `c*256 + k`.
    pub fn forward(&self, h: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = self.hidden.forward(activation::relu(h));
        self.out.forward(activation::relu(x))
    }

    /// [`Self::forward`] on rows `[N, p]` -> `[N, C*256]`.
    pub fn forward_rows(&self, h: Tensor<B, 2>) -> Tensor<B, 2>
    where
        B: FusedOps,
    {
        let x = self.hidden.forward_rows(activation::relu(h), None);
        self.out.forward_rows(activation::relu(x), None)
    }

    /// The head on feature maps `[N, p, H, W]` -> `[N, C*256, H, W]`, in any lowering.
    pub fn lower_image<L: Lower<B>>(&self, lw: &mut L, h: &L::Map) -> L::Map {
        let x = lw.relu(h);
        let x = lw.conv(&self.hidden, &x, [0; 4]);
        let x = lw.relu(&x);
        lw.conv(&self.out, &x, [0; 4])
    }

    /// The head on one pixel's features `[N, p]` -> `[N, C*256]`, in any lowering.
    pub fn lower_pixel<L: Lower<B>>(&self, lw: &mut L, h: &L::Pixel) -> L::Pixel {
        let x = lw.relu_pixel(h);
        let x = lw.dense(&self.hidden, &x);
        let x = lw.relu_pixel(&x);
        lw.dense(&self.out, &x)
    }
}
