//! Cached single-step sampling graphs for the Gated PixelCNN (and the auto-encoder's
//! decoder): `step_row.onnx` runs the vertical stack once per completed row,
//! `step_pixel.onnx` runs the horizontal stack and the head once per sub-pixel. Each
//! layer's recent rows/columns are explicit fixed-shape state tensors
//! (`past_*` in, `present_*` out), so a plain ONNX Runtime loop drives them and
//! TensorRT/CUDA graphs can run them. docs/onnx-interface.md describes the loop.
//!
//! State, for layer l with kernel n (half = n/2) and c_l input maps (C for l = 0):
//! - `past_v.{l}` [batch, c_l, half, W]: the last `half` rows of the layer's vertical input.
//! - `past_h.{l}` [batch, hidden, half], l >= 1: the last `half` columns of the
//!   layer's horizontal input in the current row. Layer 0 reads its columns straight
//!   from `row`, which already holds them (and is never stale in any colour).
//! - `v_ctx` [batch, layers, 2*hidden, W]: the vertical stack's contribution (1x1 link
//!   of the pre-gate vertical maps of the row above) to every layer of the current row.
//!
//! Everything starts as zeros, which is exactly the zero padding of the full network
//! above and left of the image (the link has no bias for this reason).

use burn::tensor::backend::Backend;
use pixelcnn_models::conditioning::CondProjection;
use pixelcnn_models::conv::Conv;
use pixelcnn_models::gated::GatedPixelCnn;
use pixelcnn_models::{Conditioning, PixelModel, LEVELS};

use crate::builder::{Attr, Dim, Elem, GraphBuilder};
use crate::full::BATCH;
use crate::layers::{self, values, CondValue};

/// How to drive the step graphs; stored in the contract and the generated README.
pub const SAMPLING_DOC: &str = "Cached sampling (all state tensors and v_ctx start as zeros, shapes in the step graphs' inputs): for each row i: reset every past_h.* to zeros; for each column j and colour c: run step_pixel(row, col=j, v_ctx, past_h.*, [label|cond], [row_index=i]), draw sub-pixel c from logits[:, c] and write it into row[:, c, j]; after the last colour of pixel j, keep its present_h.* as the next past_h.*. After the row, run step_row(row, past_v.*, [label|cond], [row_index=i]) and carry present_v.* -> past_v.* and v_ctx to the next row; then zero `row`. `row_index` exists only for spatial conditioning.";

fn needs_row_index(cond: &Conditioning) -> bool {
    matches!(cond, Conditioning::Spatial { .. })
}

/// Inputs shared by both step graphs: conditioning (+ row index for spatial maps).
/// Returns the conditioning value as the decoder's layers consume it, and the spatial
/// map `[B, cs, W]` of the current row (spatial only).
fn step_cond<B: Backend>(
    g: &mut GraphBuilder,
    model: &PixelModel<B>,
) -> (CondValue, Option<String>) {
    let cond = model.spec.decoder_conditioning();
    let given = crate::full::cond_inputs(g, &cond);
    if !needs_row_index(&cond) {
        return (given, None);
    }
    let row_index = g.input("row_index", Elem::I64, &[]);
    let CondValue::Dense(h) = given else {
        unreachable!("spatial conditioning takes a vector")
    };
    let map = layers::spatial_map(g, model.spatial_map.as_ref().expect("spatial map"), &h);
    let row = g.node("Gather", &[&map, &row_index], vec![("axis", Attr::Int(2))]); // [B, cs, W]
    (CondValue::Map(row.clone()), Some(row))
}

fn decoder<B: Backend>(model: &PixelModel<B>) -> Option<&GatedPixelCnn<B>> {
    model.gated.as_ref()
}

/// Builds `step_row.onnx`; `None` for architectures without cached sampling.
pub fn row_graph<B: Backend>(model: &PixelModel<B>) -> Option<GraphBuilder> {
    let net = decoder(model)?;
    let s = &model.spec;
    let (c, w, p, l) = (s.channels, s.width, s.hidden, s.layers);
    let mut g = GraphBuilder::new("pixelcnn_step_row");
    let row = g.input(
        "row",
        Elem::U8,
        &[Dim::Sym(BATCH), Dim::Fixed(c), Dim::Fixed(w)],
    );
    let past: Vec<String> = (0..l)
        .map(|k| {
            let dims = [
                Dim::Sym(BATCH),
                Dim::Fixed(s.in_features(k)),
                Dim::Fixed(s.vertical_state_rows(k)),
                Dim::Fixed(w),
            ];
            g.input(&format!("past_v.{k}"), Elem::F32, &dims)
        })
        .collect();
    let (cond, map_row) = step_cond(&mut g, model);
    // per-layer conditioning on one row: [B, 2p, 1, 1] (dense) or [B, 2p, 1, W] (map)
    let map_row4 = map_row.map(|m| layers::unsqueeze(&mut g, &m, &[2]));
    let x = layers::normalize(&mut g, &row);
    let mut v_in = layers::unsqueeze(&mut g, &x, &[2]); // [B, C, 1, W]
    let mut links = Vec::new();
    for (k, layer) in net.layers.iter().enumerate() {
        let half = s.vertical_state_rows(k);
        let window = g.node("Concat", &[&past[k], &v_in], vec![("axis", Attr::Int(2))]);
        let present = layers::slice(&mut g, &window, 2, 1, half as i64 + 1);
        g.output(
            &format!("present_v.{k}"),
            &present,
            Elem::F32,
            &[
                Dim::Sym(BATCH),
                Dim::Fixed(s.in_features(k)),
                Dim::Fixed(half),
                Dim::Fixed(w),
            ],
        );
        let mut v_pre = layers::conv(&mut g, &layer.v_conv, &window, Some([0, half, 0, half]));
        if let Some(proj) = &layer.v_cond {
            let t = match (&cond, &map_row4) {
                (CondValue::Map(_), Some(m)) => {
                    layers::conv(&mut g, proj.map.as_ref().expect("map projection"), m, None)
                }
                _ => layers::cond_term(&mut g, proj, &cond),
            };
            v_pre = g.node("Add", &[&v_pre, &t], vec![]);
        }
        links.push(layers::conv(&mut g, &layer.link, &v_pre, None)); // [B, 2p, 1, W]
        v_in = layers::gate(&mut g, &v_pre, p, 1);
    }
    let refs: Vec<&str> = links.iter().map(String::as_str).collect();
    let cat = g.node("Concat", &refs, vec![("axis", Attr::Int(2))]); // [B, 2p, L, W]
    let ctx = g.node(
        "Transpose",
        &[&cat],
        vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))],
    );
    g.output(
        "v_ctx",
        &ctx,
        Elem::F32,
        &[
            Dim::Sym(BATCH),
            Dim::Fixed(l),
            Dim::Fixed(2 * p),
            Dim::Fixed(w),
        ],
    );
    Some(g)
}

/// A conv's effective weight as a `[in*kh*kw, out]` matrix, for MatMul on flattened
/// windows, and its bias.
fn as_matmul<B: Backend>(g: &mut GraphBuilder, conv: &Conv<B>) -> (String, Option<String>) {
    let (dims, w) = values(conv.effective_weight());
    let (o, k) = (dims[0], dims[1] * dims[2] * dims[3]);
    let mut t = vec![0f32; o * k];
    for oi in 0..o {
        for ki in 0..k {
            t[ki * o + oi] = w[oi * k + ki];
        }
    }
    let wn = g.weight("Wm", &[k, o], t);
    let bn = conv.bias.as_ref().map(|b| {
        let (bd, bv) = values(b.val());
        g.weight("Bm", &bd, bv)
    });
    (wn, bn)
}

fn dense<B: Backend>(g: &mut GraphBuilder, conv: &Conv<B>, x: &str) -> String {
    let (w, b) = as_matmul(g, conv);
    let y = g.node("MatMul", &[x, &w], vec![]);
    match b {
        Some(b) => g.node("Add", &[&y, &b], vec![]),
        None => y,
    }
}

/// Conditioning term `[B, 2p]` of one layer at the current pixel.
fn pixel_cond<B: Backend>(
    g: &mut GraphBuilder,
    proj: &CondProjection<B>,
    cond: &CondValue,
    map_pixel: &Option<String>,
) -> String {
    match (cond, map_pixel) {
        (CondValue::Map(_), Some(m)) => dense(g, proj.map.as_ref().expect("map projection"), m),
        _ => layers::cond_dense(g, proj, cond),
    }
}

/// Builds `step_pixel.onnx`; `None` for architectures without cached sampling.
pub fn pixel_graph<B: Backend>(model: &PixelModel<B>) -> Option<GraphBuilder> {
    let net = decoder(model)?;
    let s = &model.spec;
    let (c, w, p, l) = (s.channels, s.width, s.hidden, s.layers);
    let mut g = GraphBuilder::new("pixelcnn_step_pixel");
    let row = g.input(
        "row",
        Elem::U8,
        &[Dim::Sym(BATCH), Dim::Fixed(c), Dim::Fixed(w)],
    );
    let col = g.input("col", Elem::I64, &[]);
    let v_ctx = g.input(
        "v_ctx",
        Elem::F32,
        &[
            Dim::Sym(BATCH),
            Dim::Fixed(l),
            Dim::Fixed(2 * p),
            Dim::Fixed(w),
        ],
    );
    let past: Vec<Option<String>> = (0..l)
        .map(|k| {
            (k > 0).then(|| {
                let dims = [
                    Dim::Sym(BATCH),
                    Dim::Fixed(p),
                    Dim::Fixed(s.horizontal_state_cols(k)),
                ];
                g.input(&format!("past_h.{k}"), Elem::F32, &dims)
            })
        })
        .collect();
    let (cond, map_row) = step_cond(&mut g, model);
    let map_pixel = map_row.map(|m| g.node("Gather", &[&m, &col], vec![("axis", Attr::Int(2))])); // [B, cs]
                                                                                                  // the vertical context of this column for every layer: [B, L, 2p]
    let ctx = g.node("Gather", &[&v_ctx, &col], vec![("axis", Attr::Int(3))]);
    // layer 0's window comes from the row itself: normalised, zero-padded on the left
    let half0 = s.horizontal_state_cols(0);
    let x = layers::normalize(&mut g, &row);
    let pads = g.ints("pads", &[0, 0, half0 as i64, 0, 0, 0]);
    let padded = g.node("Pad", &[&x, &pads], vec![]);
    // columns col-half0 ..= col of the row are padded columns col ..= col+half0; a Gather
    // of fixed length keeps every shape static (a data-dependent Slice would not)
    let offsets: Vec<i64> = (0..=half0 as i64).collect();
    let offsets = g.ints("window", &offsets);
    let idx = g.node("Add", &[&col, &offsets], vec![]);
    let mut window = g.node("Gather", &[&padded, &idx], vec![("axis", Attr::Int(2))]); // [B, C, half0+1]
    let mut h_in = String::new();
    for (k, layer) in net.layers.iter().enumerate() {
        if k > 0 {
            let half = s.horizontal_state_cols(k);
            let cur = layers::unsqueeze(&mut g, &h_in, &[2]);
            let past_k = past[k].as_ref().expect("state for layers >= 1");
            window = g.node("Concat", &[past_k, &cur], vec![("axis", Attr::Int(2))]);
            let present = layers::slice(&mut g, &window, 2, 1, half as i64 + 1);
            g.output(
                &format!("present_h.{k}"),
                &present,
                Elem::F32,
                &[Dim::Sym(BATCH), Dim::Fixed(p), Dim::Fixed(half)],
            );
        }
        let flat = g.node("Flatten", &[&window], vec![("axis", Attr::Int(1))]);
        let mut h_pre = dense(&mut g, &layer.h_conv, &flat);
        let idx = g.ints("layer", &[k as i64]);
        let link = g.node("Gather", &[&ctx, &idx], vec![("axis", Attr::Int(1))]); // [B, 1, 2p]
        let link = g.node("Flatten", &[&link], vec![("axis", Attr::Int(1))]);
        h_pre = g.node("Add", &[&h_pre, &link], vec![]);
        if let Some(proj) = &layer.h_cond {
            let t = pixel_cond(&mut g, proj, &cond, &map_pixel);
            h_pre = g.node("Add", &[&h_pre, &t], vec![]);
        }
        let gated = layers::gate(&mut g, &h_pre, p, 1);
        let mut h_out = dense(&mut g, &layer.h_out, &gated);
        if layer.residual {
            h_out = g.node("Add", &[&h_out, &h_in], vec![]);
        }
        h_in = h_out;
    }
    let x = g.node("Relu", &[&h_in], vec![]);
    let x = dense(&mut g, &net.head.hidden, &x);
    let x = g.node("Relu", &[&x], vec![]);
    let x = dense(&mut g, &net.head.out, &x);
    let shape = g.ints("shape", &[0, c as i64, LEVELS as i64]);
    let logits = g.node("Reshape", &[&x, &shape], vec![]);
    g.output(
        "logits",
        &logits,
        Elem::F32,
        &[Dim::Sym(BATCH), Dim::Fixed(c), Dim::Fixed(LEVELS)],
    );
    Some(g)
}
