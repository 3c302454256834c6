//! `model.onnx`: the whole network on whole images (the parallel graph used for scoring
//! and for naive sampling), and `encoder.onnx` for the auto-encoder.
//!
//! Interface: `image` uint8 [batch, C, H, W] (+ `label` int64 [batch] or `cond` float32
//! [batch, D]) -> `logits` float32 [batch, C, H, W, 256] and `bits_per_dim` float32
//! [batch], the NLL of `image` itself in bits per sub-pixel.

use burn::tensor::backend::Backend;
use pixelcnn_models::{Conditioning, Decoder, PixelModel, LEVELS};

use crate::builder::{batched, Attr, Elem, GraphBuilder};
use crate::layers::{self, CondValue};
use crate::lower::Onnx;
use pixelcnn_core::contract::names;

/// Declares the conditioning inputs a decoder takes; returns them as graph values.
pub fn cond_inputs(g: &mut GraphBuilder, cond: &Conditioning) -> CondValue {
    match cond {
        Conditioning::None => CondValue::None,
        Conditioning::Class { .. } => CondValue::Class(g.input(names::LABEL, Elem::I64, &batched(&[]))),
        Conditioning::Vector { dim } | Conditioning::Spatial { dim, .. } => {
            CondValue::Dense(g.input(names::COND, Elem::F32, &batched(&[*dim])))
        }
    }
}

/// The decoder's conditioning values: labels, vectors, spatial maps, or the encoder's
/// bottleneck computed from `x`.
pub fn decoder_cond<B: Backend>(g: &mut GraphBuilder, model: &PixelModel<B>, x: &str, given: CondValue) -> CondValue {
    let given = match &model.encoder {
        Some(enc) => CondValue::Dense(layers::encoder(g, enc, x)),
        None => given,
    };
    match (&model.spatial_map, given) {
        (Some(m), CondValue::Dense(h)) => CondValue::Map(layers::spatial_map(g, m, &h)),
        (_, given) => given,
    }
}

/// Builds `model.onnx`.
pub fn model_graph<B: Backend>(model: &PixelModel<B>) -> GraphBuilder {
    let s = &model.spec;
    let (c, h, w) = (s.channels, s.height, s.width);
    let mut g = GraphBuilder::new("pixelcnn");
    let image = g.input(names::IMAGE, Elem::U8, &batched(&[c, h, w]));
    // the auto-encoder takes only the image: its condition is its own encoding
    let given = if model.encoder.is_some() {
        CondValue::None
    } else {
        cond_inputs(&mut g, &s.conditioning)
    };
    let x = layers::normalize(&mut g, &image);
    let cond = decoder_cond(&mut g, model, &x, given);
    let lw = &mut Onnx::new(&mut g, cond, s.hidden, h);
    let raw = match &model.decoder {
        Decoder::Gated(net) => {
            let (mut v, mut hs) = (x.clone(), x);
            for layer in &net.layers {
                (v, hs) = layer.lower_image(lw, &v, &hs);
            }
            net.head.lower_image(lw, &hs)
        }
        Decoder::Plain(net) => net.lower_image(lw, &x),
    };
    let shape = g.ints("shape", &[0, c as i64, LEVELS as i64, h as i64, w as i64]);
    let r = g.node("Reshape", &[&raw, &shape], vec![]);
    let logits = g.node("Transpose", &[&r], vec![("perm", Attr::Ints(vec![0, 1, 3, 4, 2]))]);
    // bits/dim of the input image under the model
    let logp = g.node("LogSoftmax", &[&logits], vec![("axis", Attr::Int(4))]);
    let idx = g.cast(&image, Elem::I64);
    let idx = layers::unsqueeze(&mut g, &idx, &[4]);
    let picked = g.node("GatherElements", &[&logp, &idx], vec![("axis", Attr::Int(4))]);
    let axes = g.ints("axes", &[1, 2, 3, 4]);
    let total = g.node("ReduceSum", &[&picked, &axes], vec![("keepdims", Attr::Int(0))]);
    let k = g.scalar(
        "neg_inv_dims_ln2",
        (-1.0 / (s.dims() as f64 * std::f64::consts::LN_2)) as f32,
    );
    let bpd = g.node("Mul", &[&total, &k], vec![]);
    g.output(names::LOGITS, &logits, Elem::F32, &batched(&[c, h, w, LEVELS]));
    g.output("bits_per_dim", &bpd, Elem::F32, &batched(&[]));
    g
}

/// Builds `encoder.onnx` (auto-encoder only): `image` -> `cond`.
pub fn encoder_graph<B: Backend>(model: &PixelModel<B>) -> Option<GraphBuilder> {
    let enc = model.encoder.as_ref()?;
    let s = &model.spec;
    let m = s.encoder.as_ref().map(|e| e.bottleneck)?;
    let mut g = GraphBuilder::new("pixelcnn_encoder");
    let image = g.input(names::IMAGE, Elem::U8, &batched(&[s.channels, s.height, s.width]));
    let x = layers::normalize(&mut g, &image);
    let h = layers::encoder(&mut g, enc, &x);
    g.output(names::COND, &h, Elem::F32, &batched(&[m]));
    Some(g)
}
