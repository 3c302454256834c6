//! The ONNX lowering of the layers' one description ([`pixelcnn_models::lower::Lower`]):
//! every call appends nodes to the graph being built. Graph-level choices live here:
//! window products are one Gemm with the bias fused, a pixel's gate splits once, and the
//! conditioning term is read at the graph's position (whole image, the current row of a
//! spatial map, or the current pixel).

use burn::tensor::backend::Backend;
use pixelcnn_models::conditioning::CondProjection;
use pixelcnn_models::conv::{Conv, Pads};
use pixelcnn_models::lower::Lower;

use crate::builder::{Attr, GraphBuilder};
use crate::layers::{self, weight, CondValue};

/// Lowers layers into `g`. `cond` is the conditioning as graph values, a spatial map
/// taken at the graph's position (whole maps `[N, cs, H, W]`, `[N, cs, 1, W]` for a row
/// step, `[N, cs]` for a pixel step).
pub struct Onnx<'g> {
    pub g: &'g mut GraphBuilder,
    cond: CondValue,
    /// Feature maps per gate half (`hidden`) and image height (for the shift down).
    hidden: usize,
    height: usize,
}

impl<'g> Onnx<'g> {
    pub fn new(g: &'g mut GraphBuilder, cond: CondValue, hidden: usize, height: usize) -> Self {
        Self {
            g,
            cond,
            hidden,
            height,
        }
    }
}

impl<B: Backend> Lower<B> for Onnx<'_> {
    type Map = String;
    type Pixel = String;

    fn conv(&mut self, conv: &Conv<B>, x: &String, pads: Pads) -> String {
        layers::conv(self.g, conv, x, Some(pads))
    }
    fn add(&mut self, a: &String, b: &String) -> String {
        self.g.node("Add", &[a, b], vec![])
    }
    fn gate(&mut self, x: &String) -> String {
        layers::gate(self.g, x, self.hidden, 1)
    }
    fn relu(&mut self, x: &String) -> String {
        self.g.node("Relu", &[x], vec![])
    }
    fn shift_down(&mut self, x: &String) -> String {
        layers::shift_down(self.g, x, self.height)
    }
    fn cond(&mut self, proj: &CondProjection<B>) -> Option<String> {
        match proj {
            CondProjection::Dense(v) => {
                let d = layers::cond_dense(self.g, v, &self.cond)?;
                Some(layers::unsqueeze(self.g, &d, &[2, 3]))
            }
            CondProjection::Map(conv) => match &self.cond {
                CondValue::Map(m) => Some(layers::conv(self.g, conv, m, None)),
                _ => None,
            },
        }
    }

    /// `x @ W (+ b)`, the bias fused into one Gemm; `W` is the conv's `[k*in, out]` matrix.
    fn dense(&mut self, conv: &Conv<B>, x: &String) -> String {
        let w = weight(self.g, "Wm", conv.matrix());
        match conv.bias.as_ref().map(|b| weight(self.g, "Bm", b.val())) {
            Some(b) => self.g.node("Gemm", &[x, &w, &b], vec![]),
            None => self.g.node("MatMul", &[x, &w], vec![]),
        }
    }
    fn add_pixel(&mut self, a: &String, b: &String) -> String {
        self.g.node("Add", &[a, b], vec![])
    }
    /// One Split for both halves.
    fn gate_pixel(&mut self, x: &String) -> String {
        let p = self.hidden as i64;
        let split = self.g.ints("split", &[p, p]);
        let halves = self
            .g
            .node_multi("Split", &[x, &split], 2, vec![("axis", Attr::Int(1))]);
        let t = self.g.node("Tanh", &[&halves[0]], vec![]);
        let s = self.g.node("Sigmoid", &[&halves[1]], vec![]);
        self.g.node("Mul", &[&t, &s], vec![])
    }
    fn relu_pixel(&mut self, x: &String) -> String {
        self.g.node("Relu", &[x], vec![])
    }
    fn cond_pixel(&mut self, proj: &CondProjection<B>) -> Option<String> {
        match proj {
            CondProjection::Dense(v) => layers::cond_dense(self.g, v, &self.cond),
            CondProjection::Map(conv) => match self.cond.clone() {
                CondValue::Map(m) => Some(Lower::<B>::dense(self, conv, &m)),
                _ => None,
            },
        }
    }
}
