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

/// Where the burn lowering computes: whole images, one row, or one pixel (row, column);
/// it decides which part of a spatial conditioning map a layer sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Image,
    Row(usize),
    Pixel(usize, usize),
}

/// The burn lowering: layers on burn tensors.
pub struct Burn<'a, B: Backend> {
    cond: &'a CondFeatures<B>,
    at: At,
}

impl<'a, B: Backend> Burn<'a, B> {
    pub fn new(cond: &'a CondFeatures<B>, at: At) -> Self {
        Self { cond, at }
    }
}

impl<B: Backend> Lower<B> for Burn<'_, B> {
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
        let f = self.cond.as_ref()?;
        Some(match self.at {
            At::Image => proj.forward(f),
            At::Row(i) | At::Pixel(i, _) => proj.at_row(f, i),
        })
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
    fn cond_pixel(&mut self, proj: &CondProjection<B>) -> Option<Self::Pixel> {
        let f = self.cond.as_ref()?;
        let (i, j) = match self.at {
            At::Pixel(i, j) => (i, j),
            // only `lower_pixel` reads pixel terms, and burn runs it at `At::Pixel`; dense
            // conditioning has no position, so these arms never pick a spatial map's pixel
            At::Row(i) => (i, 0),
            At::Image => (0, 0),
        };
        Some(proj.at_pixel(f, i, j))
    }
}
