//! Gated PixelCNN (van den Oord et al. 2016, Figure 2).
//!
//! Layer l, with p = `hidden` and n its kernel size:
//! - vertical stack: a `(n/2+1) x n` conv over rows `i-n/2 ..= i`, giving 2p maps
//!   `v_pre` (+ V_v^T h); output `tanh(v_pre[:p]) * sigmoid(v_pre[p:])`.
//! - link: `v_pre` shifted down one row (so row i only sees rows < i) through a 1x1
//!   conv without bias, added to the horizontal pre-activation.
//! - horizontal stack: a `1 x (n/2+1)` conv over columns `j-n/2 ..= j` (the current
//!   pixel's tap masked by colour group, type A in layer 0, type B after) + link
//!   (+ V_h^T h), gated, then a type-B masked 1x1 conv, plus the residual (not in
//!   layer 0, whose residual would leak the target).
//! - head: ReLU -> 1x1 (B) -> ReLU -> 1x1 (B) to C x 256 logits.
//!
//! Zero padding above and left is exactly what the cached sampler's zero-initialised
//! state reproduces, which is why the link has no bias.

use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{activation, Tensor};
use rand_chacha::ChaCha8Rng;

use crate::conditioning::{CondFeatures, CondProjection, RowCond};
use crate::conv::Conv;
use crate::head::Head;
use crate::masks::{self, MaskKind};
use crate::rows::{from_rows, to_rows, RowShape, TapIndex};
use crate::spec::{Conditioning, ModelSpec};

#[derive(Module, Debug)]
pub struct GatedLayer<B: Backend> {
    pub v_conv: Conv<B>,
    pub link: Conv<B>,
    pub h_conv: Conv<B>,
    pub h_out: Conv<B>,
    pub v_cond: Option<CondProjection<B>>,
    pub h_cond: Option<CondProjection<B>>,
    #[module(skip)]
    pub residual: bool,
}

/// `tanh(x[:, :p]) * sigmoid(x[:, p:])`, features on dimension 1: `[B, 2p, H, W]` images
/// or `[N, 2p]` rows.
pub fn gate<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let p = x.dims()[1] / 2;
    let f = x.clone().narrow(1, 0, p);
    let g = x.narrow(1, p, p);
    activation::tanh(f) * activation::sigmoid(g)
}

/// Shifts `[B, C, H, W]` down one row: row i gets row i-1, row 0 gets zeros.
pub fn shift_down<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let h = x.dims()[2];
    x.pad((0, 0, 1, 0), 0.0).narrow(2, 0, h)
}

impl<B: Backend> GatedLayer<B> {
    pub fn new(spec: &ModelSpec, cond: &Conditioning, layer: usize, rng: &mut ChaCha8Rng, device: &B::Device) -> Self {
        let p = spec.hidden;
        let n = spec.kernel_of(layer);
        let half = n / 2;
        let cin = spec.in_features(layer);
        let kind = if layer == 0 { MaskKind::A } else { MaskKind::B };
        let v_conv = Conv::new(
            [2 * p, cin, half + 1, n],
            true,
            None,
            [half, half, 0, half],
            rng,
            device,
        );
        let link = Conv::new([2 * p, 2 * p, 1, 1], false, None, [0; 4], rng, device);
        let in_groups = spec.groups(cin);
        let h_mask = masks::horizontal(kind, &spec.gate_groups(p), &in_groups, half + 1);
        let h_conv = Conv::new(
            [2 * p, cin, 1, half + 1],
            true,
            Some(h_mask),
            [0, half, 0, 0],
            rng,
            device,
        );
        let out_mask = masks::pointwise(MaskKind::B, &spec.groups(p), &spec.groups(p));
        let h_out = Conv::new([p, p, 1, 1], true, Some(out_mask), [0; 4], rng, device);
        Self {
            v_conv,
            link,
            h_conv,
            h_out,
            v_cond: CondProjection::new(cond, 2 * p, rng, device),
            h_cond: CondProjection::new(cond, 2 * p, rng, device),
            residual: layer > 0,
        }
    }

    /// One layer on rows `[B*H*W, C]` (see [`crate::rows`]): `(v, h) -> (v', h')`.
    /// The same function as [`Self::forward_reference`], as gathers and matrix products.
    pub fn forward(
        &self,
        v: Tensor<B, 2>,
        h: Tensor<B, 2>,
        cond: &RowCond<B>,
        taps: &LayerTaps<B>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let mut v_pre = self.v_conv.forward_rows(v, Some(&taps.vertical));
        if let Some(c) = &self.v_cond {
            v_pre = c.add_rows(v_pre, cond, taps.shape);
        }
        let link = self.link.forward_rows(v_pre.clone(), Some(&taps.shift_down));
        let mut h_pre = self.h_conv.forward_rows(h.clone(), Some(&taps.horizontal)) + link;
        if let Some(c) = &self.h_cond {
            h_pre = c.add_rows(h_pre, cond, taps.shape);
        }
        let mut h_new = self.h_out.forward_rows(gate(h_pre), None);
        if self.residual {
            h_new = h_new + h;
        }
        (gate(v_pre), h_new)
    }

    /// The tap indices of this layer's convolutions for rows of `shape`.
    pub fn taps(&self, shape: RowShape, device: &B::Device) -> LayerTaps<B> {
        LayerTaps {
            vertical: self.v_conv.tap_index(shape, device),
            horizontal: self.h_conv.tap_index(shape, device),
            shift_down: TapIndex::new(shape, 1, 1, 1, 0, device),
            shape,
        }
    }

    /// One layer on whole images `[B, C, H, W]` with 2-D convolutions, as written in the
    /// paper; the reference the row form is tested against.
    pub fn forward_reference(
        &self,
        v: Tensor<B, 4>,
        h: Tensor<B, 4>,
        cond: &CondFeatures<B>,
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let mut v_pre = self.v_conv.forward(v);
        if let Some(c) = &self.v_cond {
            v_pre = v_pre + c.forward(cond);
        }
        let mut h_pre = self.h_conv.forward(h.clone()) + self.link.forward(shift_down(v_pre.clone()));
        if let Some(c) = &self.h_cond {
            h_pre = h_pre + c.forward(cond);
        }
        let mut h_new = self.h_out.forward(gate(h_pre));
        if self.residual {
            h_new = h_new + h;
        }
        (gate(v_pre), h_new)
    }
}

/// A layer's gathers: the vertical and horizontal kernels and the link's one-row shift.
#[derive(Debug, Clone)]
pub struct LayerTaps<B: Backend> {
    pub vertical: TapIndex<B>,
    pub horizontal: TapIndex<B>,
    pub shift_down: TapIndex<B>,
    pub shape: RowShape,
}

#[derive(Module, Debug)]
pub struct GatedPixelCnn<B: Backend> {
    pub layers: Vec<GatedLayer<B>>,
    pub head: Head<B>,
}

impl<B: Backend> GatedPixelCnn<B> {
    /// `cond` is the decoder's conditioning (for the auto-encoder, its bottleneck).
    pub fn new(spec: &ModelSpec, cond: &Conditioning, rng: &mut ChaCha8Rng, device: &B::Device) -> Self {
        let layers = (0..spec.layers)
            .map(|l| GatedLayer::new(spec, cond, l, rng, device))
            .collect();
        Self {
            layers,
            head: Head::new(spec, rng, device),
        }
    }

    /// Normalised images `[B, C, H, W]` -> logits as rows `[B*H*W, C*256]`.
    pub fn forward_rows(&self, x: Tensor<B, 4>, cond: &CondFeatures<B>) -> Tensor<B, 2> {
        let [batch, _, height, width] = x.dims();
        let shape = RowShape { batch, height, width };
        let device = x.device();
        let cond = RowCond::from(cond);
        let x = to_rows(x);
        let (mut v, mut h) = (x.clone(), x);
        // layers 1.. share one geometry: build their gathers once
        let mut taps = None;
        for (l, layer) in self.layers.iter().enumerate() {
            if l <= 1 {
                taps = Some(layer.taps(shape, &device));
            }
            (v, h) = layer.forward(v, h, &cond, taps.as_ref().expect("built above"));
        }
        self.head.forward_rows(h)
    }

    /// Normalised images `[B, C, H, W]` -> logits `[B, C*256, H, W]`.
    pub fn forward(&self, x: Tensor<B, 4>, cond: &CondFeatures<B>) -> Tensor<B, 4> {
        let [batch, _, height, width] = x.dims();
        from_rows(self.forward_rows(x, cond), RowShape { batch, height, width })
    }

    /// [`Self::forward`] with 2-D convolutions on whole images (the reference form).
    pub fn forward_reference(&self, x: Tensor<B, 4>, cond: &CondFeatures<B>) -> Tensor<B, 4> {
        let (mut v, mut h) = (x.clone(), x);
        for layer in &self.layers {
            (v, h) = layer.forward_reference(v, h, cond);
        }
        self.head.forward(h)
    }
}
