//! One description of each layer's arithmetic, lowered to whatever runs it.
//!
//! A layer writes its computation once against [`Lower`] — on whole images
//! (`lower_image`), on one new row of the vertical stack (`lower_row`) and on one pixel of
//! the horizontal stack (`lower_pixel`). [`Burn`] runs it on burn tensors (the reference
//! forward, cached sampling in burn, the baseline's training forward); the exporter's
//! ONNX lowering emits graph nodes for the same calls, so `model.onnx`, `step_row.onnx`
//! and `step_pixel.onnx` come from these definitions. Graph-level choices — the state
//! layout, Gemm with fused biases, one Split per gate — live in each lowering, not in the
//! layers.
//!
//! Training runs the Gated PixelCNN in row layout instead ([`crate::rows`], gathers and
//! matrix products with fused kernels); `tests/tests/row_layout.rs` holds it equal to
//! this description.

use burn::tensor::backend::Backend;
use burn::tensor::{activation, Tensor};

use crate::conditioning::{CondFeatures, CondProjection};
use crate::conv::{Conv, Pads};
use crate::gated::{gate, shift_down};

/// The operations layers are written in. `Map`s are feature maps `[N, C, H, W]` (a row
/// step's maps have `H = 1`), `Pixel`s the features of one pixel `[N, F]`; a `1 x k`
/// window of a pixel step is flattened column by column, oldest first (index `k*in + i`).
pub trait Lower<B: Backend> {
    type Map: Clone;
    type Pixel: Clone;

    /// `conv` (its mask applied) with padding `pads` `[top, left, bottom, right]`.
    fn conv(&mut self, conv: &Conv<B>, x: &Self::Map, pads: Pads) -> Self::Map;
    /// `a + b`, broadcasting size-1 axes.
    fn add(&mut self, a: &Self::Map, b: &Self::Map) -> Self::Map;
    /// `tanh(x[:, :p]) * sigmoid(x[:, p:])` over the feature axis.
    fn gate(&mut self, x: &Self::Map) -> Self::Map;
    fn relu(&mut self, x: &Self::Map) -> Self::Map;
    /// Row `i` gets row `i - 1`, row 0 zeros.
    fn shift_down(&mut self, x: &Self::Map) -> Self::Map;
    /// The conditioning term `V^T h` at the lowering's position, broadcastable to a map;
    /// `None` when the lowering has no conditioning of the projection's kind.
    fn cond(&mut self, proj: &CondProjection<B>) -> Option<Self::Map>;

    /// A `1 x k` convolution on a flattened window (a 1x1 on plain features).
    fn dense(&mut self, conv: &Conv<B>, x: &Self::Pixel) -> Self::Pixel;
    fn add_pixel(&mut self, a: &Self::Pixel, b: &Self::Pixel) -> Self::Pixel;
    fn gate_pixel(&mut self, x: &Self::Pixel) -> Self::Pixel;
    fn relu_pixel(&mut self, x: &Self::Pixel) -> Self::Pixel;
    /// The conditioning term `V^T h` at the lowering's pixel, `[N, out]`, as [`Self::cond`].
    fn cond_pixel(&mut self, proj: &CondProjection<B>) -> Option<Self::Pixel>;

    /// `x + V^T h` for a conditional layer's projection, `x` otherwise.
    fn add_cond(&mut self, x: Self::Map, proj: Option<&CondProjection<B>>) -> Self::Map {
        match proj.and_then(|p| self.cond(p)) {
            Some(t) => self.add(&x, &t),
            None => x,
        }
    }
    /// [`Self::add_cond`] at the lowering's pixel.
    fn add_cond_pixel(&mut self, x: Self::Pixel, proj: Option<&CondProjection<B>>) -> Self::Pixel {
        match proj.and_then(|p| self.cond_pixel(p)) {
            Some(t) => self.add_pixel(&x, &t),
            None => x,
        }
    }
}

/// The burn lowering: layers on burn tensors, with the conditioning features at the
/// lowering's position, as the ONNX lowering holds its values: whole maps, or a spatial
/// map's current row `[B, c, 1, W]` or pixel `[B, c, 1, 1]` (dense 1x1 maps are the same
/// at every position).
pub struct Burn<B: Backend> {
    cond: CondFeatures<B>,
}

impl<B: Backend> Burn<B> {
    /// On whole images.
    pub fn new(cond: &CondFeatures<B>) -> Self {
        Self { cond: cond.clone() }
    }

    /// At row `row` (a row step) or pixel (`row`, `col`) (a pixel step). Spatial maps are
    /// image-sized (at least 4x4) and are narrowed there; dense 1x1 maps stay as they are.
    pub fn at(cond: &CondFeatures<B>, row: usize, col: Option<usize>) -> Self {
        let narrow = |f: Tensor<B, 4>, axis: usize, k: usize| if f.dims()[axis] > 1 { f.narrow(axis, k, 1) } else { f };
        let cond = cond.clone().map(|f| match col {
            Some(j) => narrow(narrow(f, 2, row), 3, j),
            None => narrow(f, 2, row),
        });
        Self { cond }
    }
}

impl<B: Backend> Lower<B> for Burn<B> {
    type Map = Tensor<B, 4>;
    type Pixel = Tensor<B, 2>;

    fn conv(&mut self, conv: &Conv<B>, x: &Self::Map, pads: Pads) -> Self::Map {
        conv.forward_padded(x.clone(), pads)
    }
    fn add(&mut self, a: &Self::Map, b: &Self::Map) -> Self::Map {
        a.clone() + b.clone()
    }
    fn gate(&mut self, x: &Self::Map) -> Self::Map {
        gate(x.clone())
    }
    fn relu(&mut self, x: &Self::Map) -> Self::Map {
        activation::relu(x.clone())
    }
    fn shift_down(&mut self, x: &Self::Map) -> Self::Map {
        shift_down(x.clone())
    }
    fn cond(&mut self, proj: &CondProjection<B>) -> Option<Self::Map> {
        self.cond.as_ref().map(|f| proj.forward(f))
    }

    fn dense(&mut self, conv: &Conv<B>, x: &Self::Pixel) -> Self::Pixel {
        conv.forward_dense(x.clone())
    }
    fn add_pixel(&mut self, a: &Self::Pixel, b: &Self::Pixel) -> Self::Pixel {
        a.clone() + b.clone()
    }
    fn gate_pixel(&mut self, x: &Self::Pixel) -> Self::Pixel {
        gate(x.clone())
    }
    fn relu_pixel(&mut self, x: &Self::Pixel) -> Self::Pixel {
        activation::relu(x.clone())
    }
    /// The term at the pixel, `[N, out, 1, 1]` as `[N, out]`.
    fn cond_pixel(&mut self, proj: &CondProjection<B>) -> Option<Self::Pixel> {
        let t = self.cond(proj)?;
        let [n, out, _, _] = t.dims();
        Some(t.reshape([n, out]))
    }
}
