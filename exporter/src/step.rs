//! Cached single-step sampling graphs for the Gated PixelCNN (and the auto-encoder's
//! decoder): `step_row.onnx` runs the vertical stack once per completed row,
//! `step_pixel.onnx` runs the horizontal stack and the head once per sub-pixel. Each
//! layer's recent rows/columns are explicit fixed-shape state tensors
//! (`past_*` in, `present_*` out), so a plain ONNX Runtime loop drives them and
//! TensorRT/CUDA graphs can run them. docs/onnx-interface.md describes the loop.
//!
//! State, for layer l with kernel n (half = n/2) and c_l input maps (C for l = 0):
//! - `past_v.{l}` [batch, c_l, half, W]: the last `half` rows of the layer's vertical input.
//! - `past_h.{l}` [batch, half*hidden], l >= 1: the last `half` columns of the layer's
//!   horizontal input in the current row, oldest first (index k*hidden + f). Layer 0
//!   reads its columns straight from `row`, which already holds them (and is never
//!   stale in any colour).
//! - `v_ctx` [batch, W, layers*2*hidden]: the vertical stack's contribution (1x1 link of
//!   the pre-gate vertical maps of the row above) to every layer, per column.
//!
//! A pixel step is a chain of tiny ops whose cost is per-node overhead, so the graph
//! keeps states flat (no reshapes), fuses biases into Gemm and splits gates in one op.
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
use pixelcnn_core::contract::names;

/// How to drive the step graphs; stored in the contract and the generated README.
pub const SAMPLING_DOC: &str = "Cached sampling (all state tensors and v_ctx start as zeros, shapes in the step graphs' inputs): for each row i: reset every past_h.* to zeros; for each column j and colour c: run step_pixel(row, col=j, v_ctx, past_h.*, [label|cond], [row_index=i]), draw sub-pixel c from logits[:, c] and write it into row[:, c, j]; after the last colour of pixel j, keep its present_h.* as the next past_h.*. After the row, run step_row(row, past_v.*, [label|cond], [row_index=i]) and carry present_v.* -> past_v.* and v_ctx to the next row; then zero `row`. `row_index` exists only for spatial conditioning.";

fn needs_row_index(cond: &Conditioning) -> bool {
    matches!(cond, Conditioning::Spatial { .. })
}

/// Inputs shared by both step graphs: conditioning (+ row index for spatial maps).
/// Returns the conditioning value as the decoder's layers consume it, and the spatial
/// map `[B, cs, W]` of the current row (spatial only).
fn step_cond<B: Backend>(g: &mut GraphBuilder, model: &PixelModel<B>) -> (CondValue, Option<String>) {
    let cond = model.spec.decoder_conditioning();
    let given = crate::full::cond_inputs(g, &cond);
    if !needs_row_index(&cond) {
        return (given, None);
    }
    let row_index = g.input(names::ROW_INDEX, Elem::I64, &[]);
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
    let row = g.input(names::ROW, Elem::U8, &[Dim::Sym(BATCH), Dim::Fixed(c), Dim::Fixed(w)]);
    let past: Vec<String> = (0..l)
        .map(|k| {
            let dims = [
                Dim::Sym(BATCH),
                Dim::Fixed(s.in_features(k)),
                Dim::Fixed(s.vertical_state_rows(k)),
                Dim::Fixed(w),
            ];
            g.input(&names::past_v(k), Elem::F32, &dims)
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
            &names::present_v(k),
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
    let cat = g.node("Concat", &refs, vec![("axis", Attr::Int(1))]); // [B, L*2p, 1, W]
    let shape = g.ints("shape", &[0, (l * 2 * p) as i64, w as i64]);
    let cat = g.node("Reshape", &[&cat, &shape], vec![]);
    let ctx = g.node("Transpose", &[&cat], vec![("perm", Attr::Ints(vec![0, 2, 1]))]);
    let dims = [Dim::Sym(BATCH), Dim::Fixed(w), Dim::Fixed(l * 2 * p)];
    g.output(names::V_CTX, &ctx, Elem::F32, &dims);
    Some(g)
}

/// A `1 x kw` (or 1x1) conv's effective weight as a `[kw*in, out]` matrix for a window
/// flattened column by column (index k*in + i), and its bias.
fn as_matmul<B: Backend>(g: &mut GraphBuilder, conv: &Conv<B>) -> (String, Option<String>) {
    let (dims, w) = values(conv.effective_weight());
    let (o, cin, kw) = (dims[0], dims[1], dims[2] * dims[3]);
    let mut t = vec![0f32; o * cin * kw];
    for oi in 0..o {
        for ci in 0..cin {
            for k in 0..kw {
                t[(k * cin + ci) * o + oi] = w[(oi * cin + ci) * kw + k];
            }
        }
    }
    let wn = g.weight("Wm", &[kw * cin, o], t);
    let bn = conv.bias.as_ref().map(|b| {
        let (bd, bv) = values(b.val());
        g.weight("Bm", &bd, bv)
    });
    (wn, bn)
}

/// `x @ W (+ b)`, with the bias fused into one Gemm.
fn dense<B: Backend>(g: &mut GraphBuilder, conv: &Conv<B>, x: &str) -> String {
    let (w, b) = as_matmul(g, conv);
    match b {
        Some(b) => g.node("Gemm", &[x, &w, &b], vec![]),
        None => g.node("MatMul", &[x, &w], vec![]),
    }
}

/// `tanh(x[:, :p]) * sigmoid(x[:, p:])` on `[B, 2p]` with one Split.
fn gate2d(g: &mut GraphBuilder, x: &str, p: usize) -> String {
    let split = g.ints("split", &[p as i64, p as i64]);
    let halves = g.node_multi("Split", &[x, &split], 2, vec![("axis", Attr::Int(1))]);
    let t = g.node("Tanh", &[&halves[0]], vec![]);
    let s = g.node("Sigmoid", &[&halves[1]], vec![]);
    g.node("Mul", &[&t, &s], vec![])
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
    let row = g.input(names::ROW, Elem::U8, &[Dim::Sym(BATCH), Dim::Fixed(c), Dim::Fixed(w)]);
    let col = g.input(names::COL, Elem::I64, &[]);
    let v_ctx = g.input(
        names::V_CTX,
        Elem::F32,
        &[Dim::Sym(BATCH), Dim::Fixed(w), Dim::Fixed(l * 2 * p)],
    );
    let past: Vec<Option<String>> = (0..l)
        .map(|k| {
            (k > 0).then(|| {
                let dims = [Dim::Sym(BATCH), Dim::Fixed(s.horizontal_state_cols(k) * p)];
                g.input(&names::past_h(k), Elem::F32, &dims)
            })
        })
        .collect();
    let (cond, map_row) = step_cond(&mut g, model);
    // spatial conditioning: the map at this pixel, [B, cs]
    let map_pixel = map_row.map(|m| g.node("Gather", &[&m, &col], vec![("axis", Attr::Int(2))]));
    // the vertical context of this column, one [B, 2p] piece per layer
    let ctx = g.node("Gather", &[&v_ctx, &col], vec![("axis", Attr::Int(1))]); // [B, L*2p]
    let links = if l == 1 {
        vec![ctx]
    } else {
        let split = g.ints("split", &vec![2 * p as i64; l]);
        g.node_multi("Split", &[&ctx, &split], l, vec![("axis", Attr::Int(1))])
    };
    // layer 0's window comes from the row itself: normalised, zero-padded on the left;
    // columns col-half0 ..= col are padded columns col ..= col+half0, gathered with a
    // fixed-length index so every shape stays static (a data-dependent Slice would not)
    let half0 = s.horizontal_state_cols(0);
    let x = layers::normalize(&mut g, &row);
    let pads = g.ints("pads", &[0, 0, half0 as i64, 0, 0, 0]);
    let padded = g.node("Pad", &[&x, &pads], vec![]);
    let offsets: Vec<i64> = (0..=half0 as i64).collect();
    let offsets = g.ints("window", &offsets);
    let idx = g.node("Add", &[&col, &offsets], vec![]);
    let win = g.node("Gather", &[&padded, &idx], vec![("axis", Attr::Int(2))]); // [B, C, half0+1]
    let win = g.node("Transpose", &[&win], vec![("perm", Attr::Ints(vec![0, 2, 1]))]);
    let mut window = g.node("Flatten", &[&win], vec![("axis", Attr::Int(1))]); // [B, (half0+1)*C]
    let mut h_in = String::new();
    for (k, layer) in net.layers.iter().enumerate() {
        if k > 0 {
            let half = s.horizontal_state_cols(k);
            let past_k = past[k].as_ref().expect("state for layers >= 1");
            window = g.node("Concat", &[past_k, &h_in], vec![("axis", Attr::Int(1))]);
            let present = layers::slice(&mut g, &window, 1, p as i64, ((half + 1) * p) as i64);
            g.output(
                &names::present_h(k),
                &present,
                Elem::F32,
                &[Dim::Sym(BATCH), Dim::Fixed(half * p)],
            );
        }
        let mut h_pre = dense(&mut g, &layer.h_conv, &window);
        h_pre = g.node("Add", &[&h_pre, &links[k]], vec![]);
        if let Some(proj) = &layer.h_cond {
            let t = pixel_cond(&mut g, proj, &cond, &map_pixel);
            h_pre = g.node("Add", &[&h_pre, &t], vec![]);
        }
        let gated = gate2d(&mut g, &h_pre, p);
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
        names::LOGITS,
        &logits,
        Elem::F32,
        &[Dim::Sym(BATCH), Dim::Fixed(c), Dim::Fixed(LEVELS)],
    );
    Some(g)
}
