//! ONNX node emitters shared by the lowering ([`crate::lower`]) and the graph-level code:
//! normalisation, convolutions with masks applied, gates, slices, conditioning terms,
//! the spatial map m(h) and the auto-encoder's encoder.

use burn::module::Param;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use pixelcnn_models::autoencoder::Encoder;
use pixelcnn_models::conditioning::{SpatialMap, UP_KERNEL, UP_PAD, UP_STRIDE};
use pixelcnn_models::conv::Conv;
use pixelcnn_models::model::NORM_SCALE;

use crate::builder::{Attr, Elem, GraphBuilder};

/// A burn tensor as an f32 initialiser of `g`.
pub fn weight<B: Backend, const D: usize>(g: &mut GraphBuilder, hint: &str, t: Tensor<B, D>) -> String {
    let dims = t.dims();
    g.weight(
        hint,
        &dims,
        t.into_data().convert::<f32>().to_vec().expect("f32 weights"),
    )
}

/// Conditioning as graph values, ready for the per-layer projections.
#[derive(Debug, Clone)]
pub enum CondValue {
    None,
    /// int64 labels `[N]`.
    Class(String),
    /// float `[N, D]`.
    Dense(String),
    /// float `[N, map_channels, H, W]` (or one row / one pixel of it in step graphs).
    Map(String),
}

/// `x / 127.5 - 1` of a uint8 tensor.
pub fn normalize(g: &mut GraphBuilder, image_u8: &str) -> String {
    let f = g.cast(image_u8, Elem::F32);
    let s = g.scalar("scale", NORM_SCALE);
    let one = g.scalar("one", 1.0);
    let d = g.node("Div", &[&f, &s], vec![]);
    g.node("Sub", &[&d, &one], vec![])
}

/// Conv with the module's own padding and stride. `pads_override` replaces the
/// padding (step graphs pad through their state instead).
pub fn conv<B: Backend>(g: &mut GraphBuilder, c: &Conv<B>, x: &str, pads_override: Option<[usize; 4]>) -> String {
    let [_, _, kh, kw] = c.shape();
    let mut inputs = vec![x.to_string(), weight(g, "W", c.effective_weight())];
    inputs.extend(c.bias.as_ref().map(|b| weight(g, "B", b.val())));
    let [t, l, bo, r] = pads_override.unwrap_or(c.pads);
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    g.node(
        "Conv",
        &refs,
        vec![
            ("kernel_shape", Attr::Ints(vec![kh as i64, kw as i64])),
            ("pads", Attr::Ints(vec![t as i64, l as i64, bo as i64, r as i64])),
            ("strides", Attr::Ints(vec![c.stride as i64; 2])),
        ],
    )
}

/// `tanh(x[:, :p]) * sigmoid(x[:, p:])` along `axis`.
pub fn gate(g: &mut GraphBuilder, x: &str, p: usize, axis: i64) -> String {
    let f = slice(g, x, axis, 0, p as i64);
    let s = slice(g, x, axis, p as i64, 2 * p as i64);
    let t = g.node("Tanh", &[&f], vec![]);
    let s = g.node("Sigmoid", &[&s], vec![]);
    g.node("Mul", &[&t, &s], vec![])
}

pub fn slice(g: &mut GraphBuilder, x: &str, axis: i64, start: i64, end: i64) -> String {
    let st = g.ints("starts", &[start]);
    let en = g.ints("ends", &[end]);
    let ax = g.ints("axes", &[axis]);
    g.node("Slice", &[x, &st, &en, &ax], vec![])
}

pub fn unsqueeze(g: &mut GraphBuilder, x: &str, axes: &[i64]) -> String {
    let a = g.ints("axes", axes);
    g.node("Unsqueeze", &[x, &a], vec![])
}

/// Shifts `[N, C, H, W]` down one row (zeros enter at the top).
pub fn shift_down(g: &mut GraphBuilder, x: &str, height: usize) -> String {
    let pads = g.ints("pads", &[0, 0, 1, 0, 0, 0, 0, 0]);
    let p = g.node("Pad", &[x, &pads], vec![]);
    slice(g, &p, 2, 0, height as i64)
}

/// V^T h as a `[N, out]` tensor for dense conditioning (class or vector); `None` when
/// `cond` holds neither.
pub fn cond_dense<B: Backend>(g: &mut GraphBuilder, v: &Param<Tensor<B, 2>>, cond: &CondValue) -> Option<String> {
    match cond {
        // one-hot h times V is V's row for the label
        CondValue::Class(label) => {
            let v = weight(g, "V", v.val());
            Some(g.node("Gather", &[&v, label], vec![("axis", Attr::Int(0))]))
        }
        CondValue::Dense(h) => {
            let v = weight(g, "V", v.val());
            Some(g.node("MatMul", &[h, &v], vec![]))
        }
        CondValue::None | CondValue::Map(_) => None,
    }
}

/// m(h): `[N, D]` -> `[N, map_channels, H, W]`.
pub fn spatial_map<B: Backend>(g: &mut GraphBuilder, m: &SpatialMap<B>, h: &str) -> String {
    let w = weight(g, "map_W", m.linear_w.val());
    let b = weight(g, "map_B", m.linear_b.val());
    let x = g.node("MatMul", &[h, &w], vec![]);
    let x = g.node("Add", &[&x, &b], vec![]);
    let [c, bh, bw] = m.base;
    let shape = g.ints("shape", &[0, c as i64, bh as i64, bw as i64]);
    let x = g.node("Reshape", &[&x, &shape], vec![]);
    let mut x = g.node("Relu", &[&x], vec![]);
    for (i, (wt, bt)) in [(&m.up1_w, &m.up1_b), (&m.up2_w, &m.up2_b)].into_iter().enumerate() {
        let w = weight(g, "up_W", wt.val());
        let b = weight(g, "up_B", bt.val());
        x = g.node(
            "ConvTranspose",
            &[&x, &w, &b],
            vec![
                ("kernel_shape", Attr::Ints(vec![UP_KERNEL as i64; 2])),
                ("strides", Attr::Ints(vec![UP_STRIDE as i64; 2])),
                ("pads", Attr::Ints(vec![UP_PAD as i64; 4])),
            ],
        );
        if i == 0 {
            x = g.node("Relu", &[&x], vec![]);
        }
    }
    x
}

/// The auto-encoder's encoder: normalised image -> `[N, m]`.
pub fn encoder<B: Backend>(g: &mut GraphBuilder, enc: &Encoder<B>, x: &str) -> String {
    let x = conv(g, &enc.conv1, x, None);
    let x = g.node("Relu", &[&x], vec![]);
    let x = conv(g, &enc.conv2, &x, None);
    let x = g.node("Relu", &[&x], vec![]);
    let x = g.node("Flatten", &[&x], vec![("axis", Attr::Int(1))]);
    let w = weight(g, "enc_W", enc.linear_w.val());
    let b = weight(g, "enc_B", enc.linear_b.val());
    let x = g.node("MatMul", &[&x, &w], vec![]);
    g.node("Add", &[&x, &b], vec![])
}
