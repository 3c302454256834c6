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
use crate::fused::{gate_rows, FusedOps};
use crate::head::Head;
use crate::lower::{Burn, Lower};
use crate::masks::{self, MaskKind};
use crate::rows::{from_rows, network_input, RowShape, TapIndex};
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
        let h_mask = masks::horizontal(kind, &spec.gate_groups(p), &spec.groups(cin), half + 1);
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
    /// The same function as [`Self::lower_image`], as gathers and matrix products.
    pub fn forward(
        &self,
        v: Tensor<B, 2>,
        h: Tensor<B, 2>,
        cond: &RowCond<B>,
        taps: &LayerTaps<B>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>)
    where
        B: FusedOps,
    {
        let add_cond = |x, proj: &Option<CondProjection<B>>| match (proj, cond) {
            (Some(p), Some(c)) => p.add_rows(x, c),
            _ => x,
        };
        let v_pre = add_cond(self.v_conv.forward_rows(v, Some(&taps.vertical)), &self.v_cond);
        let link = self.link.forward_rows(v_pre.clone(), Some(&taps.shift_down));
        let h_pre = add_cond(
            self.h_conv.forward_rows(h.clone(), Some(&taps.horizontal)) + link,
            &self.h_cond,
        );
        let mut h_new = self.h_out.forward_rows(gate_rows(h_pre), None);
        if self.residual {
            h_new = h_new + h;
        }
        (gate_rows(v_pre), h_new)
    }

    /// Rows above the current one that the vertical kernel reads (`n/2`).
    pub fn vertical_state_rows(&self) -> usize {
        self.v_conv.shape()[2] - 1
    }

    /// Columns left of the current one that the horizontal kernel reads (`n/2`).
    pub fn horizontal_state_cols(&self) -> usize {
        self.h_conv.shape()[3] - 1
    }

    /// This layer on whole images (`v`, `h` `[N, C, H, W]`): `(v', h')`, as written in the
    /// paper. The burn reference forward and `model.onnx` are this function.
    pub fn lower_image<L: Lower<B>>(&self, lw: &mut L, v: &L::Map, h: &L::Map) -> (L::Map, L::Map) {
        let v_pre = lw.conv(&self.v_conv, v, self.v_conv.pads);
        let v_pre = lw.add_cond(v_pre, self.v_cond.as_ref());
        let shifted = lw.shift_down(&v_pre);
        let link = lw.conv(&self.link, &shifted, [0; 4]);
        let hc = lw.conv(&self.h_conv, h, self.h_conv.pads);
        let h_pre = lw.add(&hc, &link);
        let h_pre = lw.add_cond(h_pre, self.h_cond.as_ref());
        let gated = lw.gate(&h_pre);
        let mut h_new = lw.conv(&self.h_out, &gated, [0; 4]);
        if self.residual {
            h_new = lw.add(&h_new, h);
        }
        (lw.gate(&v_pre), h_new)
    }

    /// Cached sampling, vertical stack: this layer on one new row, given `window`
    /// `[N, c, n/2 + 1, W]` (the `n/2` rows above from the state, then the new row).
    /// Returns the layer's vertical output `[N, p, 1, W]` and its link term
    /// `[N, 2p, 1, W]`, which the next row's pixels add (the link's shift down one row).
    pub fn lower_row<L: Lower<B>>(&self, lw: &mut L, window: &L::Map) -> (L::Map, L::Map) {
        let [_, left, _, right] = self.v_conv.pads;
        let v_pre = lw.conv(&self.v_conv, window, [0, left, 0, right]);
        let v_pre = lw.add_cond(v_pre, self.v_cond.as_ref());
        let link = lw.conv(&self.link, &v_pre, [0; 4]);
        (lw.gate(&v_pre), link)
    }

    /// Cached sampling, horizontal stack at one pixel: `window` `[N, (n/2+1)*c]` holds the
    /// layer's horizontal input at columns `col-n/2 ..= col`, oldest first, `h` the input
    /// at `col` itself (the residual; `None` in layer 0, which has none), `link` `[N, 2p]`
    /// the row above's term at this column. Returns the layer's output `[N, p]`.
    pub fn lower_pixel<L: Lower<B>>(
        &self,
        lw: &mut L,
        window: &L::Pixel,
        h: Option<&L::Pixel>,
        link: &L::Pixel,
    ) -> L::Pixel {
        let hc = lw.dense(&self.h_conv, window);
        let h_pre = lw.add_pixel(&hc, link);
        let h_pre = lw.add_cond_pixel(h_pre, self.h_cond.as_ref());
        let gated = lw.gate_pixel(&h_pre);
        let h_new = lw.dense(&self.h_out, &gated);
        match (self.residual, h) {
            (true, Some(h)) => lw.add_pixel(&h_new, h),
            _ => h_new,
        }
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
}

/// What cached sampling keeps between steps, per layer (the state the exported step
/// graphs carry as `past_v.{l}`, `past_h.{l}` and `v_ctx`, see docs/onnx-interface.md):
#[derive(Debug, Clone)]
pub struct StepCache<B: Backend> {
    /// The last `n/2` rows of the layer's vertical input, `[B, c_l, n/2, W]`.
    pub past_v: Vec<Tensor<B, 4>>,
    /// The last `n/2` columns of the layer's horizontal input in the current row, oldest
    /// first, `[B, (n/2)*p]`. Layer 0 reads the row itself; its entry stays unused.
    pub past_h: Vec<Tensor<B, 2>>,
    /// The link term of the row above, `[B, 2p, W]`.
    pub v_ctx: Vec<Tensor<B, 3>>,
}

impl<B: Backend> StepCache<B> {
    /// Keeps the horizontal state after a pixel's last colour.
    pub fn next_pixel(&mut self, present: Vec<Tensor<B, 2>>) {
        self.past_h = present;
    }

    /// A new row starts left of the image: horizontal state back to zeros.
    pub fn next_row(&mut self) {
        for t in &mut self.past_h {
            *t = t.zeros_like();
        }
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
    pub fn forward_rows(&self, x: Tensor<B, 4>, cond: &CondFeatures<B>) -> Tensor<B, 2>
    where
        B: FusedOps,
    {
        let device = x.device();
        let (x, cond, shape) = network_input(x, cond);
        let (mut v, mut h) = (x.clone(), x);
        // layers 1.. share one geometry: build their gathers once
        let mut taps: Option<LayerTaps<B>> = None;
        for (l, layer) in self.layers.iter().enumerate() {
            let t = match taps {
                Some(t) if l > 1 => t,
                _ => layer.taps(shape, &device),
            };
            (v, h) = layer.forward(v, h, &cond, &t);
            taps = Some(t);
        }
        self.head.forward_rows(h)
    }

    /// Normalised images `[B, C, H, W]` -> logits `[B, C*256, H, W]`.
    pub fn forward(&self, x: Tensor<B, 4>, cond: &CondFeatures<B>) -> Tensor<B, 4>
    where
        B: FusedOps,
    {
        let [batch, _, height, width] = x.dims();
        from_rows(self.forward_rows(x, cond), RowShape { batch, height, width })
    }

    /// A cache for cached sampling of `batch` images `width` pixels wide: zeros, which
    /// are exactly the zero padding above and left of the image.
    pub fn cache(&self, batch: usize, width: usize, device: &B::Device) -> StepCache<B> {
        let p = self.layers[0].h_out.shape()[0];
        let (past_v, (past_h, v_ctx)) = self
            .layers
            .iter()
            .map(|l| {
                let past_v = Tensor::zeros([batch, l.v_conv.shape()[1], l.vertical_state_rows(), width], device);
                let past_h = Tensor::zeros([batch, l.horizontal_state_cols() * p], device);
                (past_v, (past_h, Tensor::zeros([batch, 2 * p, width], device)))
            })
            .unzip();
        StepCache { past_v, past_h, v_ctx }
    }

    /// Cached sampling: the vertical stack on finished row `row` (normalised,
    /// `[B, C, W]`). Updates `past_v` and sets `v_ctx` for the next row's pixels.
    pub fn step_row(&self, x: Tensor<B, 3>, cache: &mut StepCache<B>, cond: &CondFeatures<B>, row: usize) {
        let [b, c, w] = x.dims();
        let lw = &mut Burn::at(cond, row, None);
        let mut v = x.reshape([b, c, 1, w]);
        for (l, layer) in self.layers.iter().enumerate() {
            // the rows above from the state, then the new row; the state moves down one row
            let window = Tensor::cat(vec![cache.past_v[l].clone(), v], 2);
            cache.past_v[l] = window.clone().narrow(2, 1, layer.vertical_state_rows());
            let (v_out, link) = layer.lower_row(lw, &window);
            cache.v_ctx[l] = link.squeeze_dim::<3>(2);
            v = v_out;
        }
    }

    /// Cached sampling: logits `[B, C*256]` of pixel `(row, col)` from the current row
    /// `x` (normalised, `[B, C, W]`; only columns `<= col` and, at `col`, colours below
    /// the one drawn are read) and the cache. Also returns every layer's `past_h` after
    /// this pixel, to keep once its last colour is drawn ([`StepCache::next_pixel`]).
    pub fn step_pixel(
        &self,
        x: Tensor<B, 3>,
        cache: &StepCache<B>,
        cond: &CondFeatures<B>,
        (row, col): (usize, usize),
    ) -> (Tensor<B, 2>, Vec<Tensor<B, 2>>) {
        let [b, c, _] = x.dims();
        // layer 0 reads its columns straight from the row, zero-padded on the left
        let half0 = self.layers[0].horizontal_state_cols();
        let padded = Tensor::cat(vec![Tensor::zeros([b, c, half0], &x.device()), x], 2);
        let mut window = padded
            .narrow(2, col, half0 + 1)
            .permute([0, 2, 1])
            .reshape([b, (half0 + 1) * c]);
        let lw = &mut Burn::at(cond, row, Some(col));
        let mut present = Vec::with_capacity(self.layers.len());
        let mut h: Option<Tensor<B, 2>> = None;
        for (l, layer) in self.layers.iter().enumerate() {
            if let Some(h_in) = &h {
                window = Tensor::cat(vec![cache.past_h[l].clone(), h_in.clone()], 1);
                let p = h_in.dims()[1];
                present.push(window.clone().narrow(1, p, layer.horizontal_state_cols() * p));
            } else {
                present.push(cache.past_h[l].clone());
            }
            let link = cache.v_ctx[l].clone().narrow(2, col, 1).squeeze_dim::<2>(2);
            h = Some(layer.lower_pixel(lw, &window, h.as_ref(), &link));
        }
        let h = h.expect("a model has at least one layer");
        (self.head.lower_pixel(lw, &h), present)
    }

    /// [`Self::forward`] with 2-D convolutions on whole images (the reference form).
    pub fn forward_reference(&self, x: Tensor<B, 4>, cond: &CondFeatures<B>) -> Tensor<B, 4> {
        let lw = &mut Burn::new(cond);
        let (mut v, mut h) = (x.clone(), x);
        for layer in &self.layers {
            (v, h) = layer.lower_image(lw, &v, &h);
        }
        self.head.lower_image(lw, &h)
    }
}
