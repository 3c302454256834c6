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
use pixelcnn_models::{PixelModel, LEVELS};

use crate::builder::{batched, Attr, Elem, GraphBuilder};
use crate::layers::{self, CondValue};
use crate::lower::Onnx;
use pixelcnn_core::contract::names;

/// How to drive the step graphs; stored in the contract and the generated README.
pub const SAMPLING_DOC: &str = "Cached sampling (all state tensors and v_ctx start as zeros, shapes in the step graphs' inputs): for each row i: reset every past_h.* to zeros; for each column j and colour c: run step_pixel(row, col=j, v_ctx, past_h.*, [label|cond], [row_index=i]), draw sub-pixel c from logits[:, c] and write it into row[:, c, j]; after the last colour of pixel j, keep its present_h.* as the next past_h.*. After the row, run step_row(row, past_v.*, [label|cond], [row_index=i]) and carry present_v.* -> past_v.* and v_ctx to the next row; then zero `row`. `row_index` exists only for spatial conditioning.";

/// Inputs shared by both step graphs: conditioning (+ row index for spatial maps). Returns
/// the conditioning value as the decoder's layers consume it; a spatial map is taken at
/// the current row (`[B, cs, W]`), then at the graph's position by `here`.
fn step_cond<B: Backend>(
    g: &mut GraphBuilder,
    model: &PixelModel<B>,
    here: impl FnOnce(&mut GraphBuilder, &str) -> String,
) -> CondValue {
    let given = crate::full::cond_inputs(g, &model.spec.decoder_conditioning());
    // a model has a spatial map exactly when it is spatially conditioned (on a vector)
    let (CondValue::Dense(h), Some(m)) = (&given, &model.spatial_map) else {
        return given;
    };
    let row_index = g.input(names::ROW_INDEX, Elem::I64, &[]);
    let map = layers::spatial_map(g, m, h);
    let row = g.node("Gather", &[&map, &row_index], vec![("axis", Attr::Int(2))]);
    CondValue::Map(here(g, &row))
}

/// Builds `step_row.onnx`; `None` for architectures without cached sampling.
pub fn row_graph<B: Backend>(model: &PixelModel<B>) -> Option<GraphBuilder> {
    let net = model.gated()?;
    let s = &model.spec;
    let (c, w, p, l) = (s.channels, s.width, s.hidden, s.layers);
    let mut g = GraphBuilder::new("pixelcnn_step_row");
    let row = g.input(names::ROW, Elem::U8, &batched(&[c, w]));
    let state = |k: usize| batched(&[s.in_features(k), s.vertical_state_rows(k), w]);
    let past: Vec<String> = (0..l)
        .map(|k| g.input(&names::past_v(k), Elem::F32, &state(k)))
        .collect();
    // a spatial map's current row as [B, cs, 1, W], for the layers' 1x1 projections
    let cond = step_cond(&mut g, model, |g, m| layers::unsqueeze(g, m, &[2]));
    let x = layers::normalize(&mut g, &row);
    let mut v_in = layers::unsqueeze(&mut g, &x, &[2]); // [B, C, 1, W]
    let lw = &mut Onnx::new(&mut g, cond, p, s.height);
    let mut links = Vec::new();
    for (k, layer) in net.layers.iter().enumerate() {
        let half = s.vertical_state_rows(k);
        let window = lw.g.node("Concat", &[&past[k], &v_in], vec![("axis", Attr::Int(2))]);
        let present = layers::slice(lw.g, &window, 2, 1, half as i64 + 1);
        lw.g.output(&names::present_v(k), &present, Elem::F32, &state(k));
        let (v_out, link) = layer.lower_row(lw, &window); // link [B, 2p, 1, W]
        links.push(link);
        v_in = v_out;
    }
    let refs: Vec<&str> = links.iter().map(String::as_str).collect();
    let cat = g.node("Concat", &refs, vec![("axis", Attr::Int(1))]); // [B, L*2p, 1, W]
    let shape = g.ints("shape", &[0, (l * 2 * p) as i64, w as i64]);
    let cat = g.node("Reshape", &[&cat, &shape], vec![]);
    let ctx = g.node("Transpose", &[&cat], vec![("perm", Attr::Ints(vec![0, 2, 1]))]);
    g.output(names::V_CTX, &ctx, Elem::F32, &batched(&[w, l * 2 * p]));
    Some(g)
}

/// Builds `step_pixel.onnx`; `None` for architectures without cached sampling.
pub fn pixel_graph<B: Backend>(model: &PixelModel<B>) -> Option<GraphBuilder> {
    let net = model.gated()?;
    let s = &model.spec;
    let (c, w, p, l) = (s.channels, s.width, s.hidden, s.layers);
    let mut g = GraphBuilder::new("pixelcnn_step_pixel");
    let row = g.input(names::ROW, Elem::U8, &batched(&[c, w]));
    let col = g.input(names::COL, Elem::I64, &[]);
    let v_ctx = g.input(names::V_CTX, Elem::F32, &batched(&[w, l * 2 * p]));
    let state = |k: usize| batched(&[s.horizontal_state_cols(k) * p]);
    let past: Vec<Option<String>> = (0..l)
        .map(|k| (k > 0).then(|| g.input(&names::past_h(k), Elem::F32, &state(k))))
        .collect();
    // spatial conditioning: the map at this pixel, [B, cs]
    let cond = step_cond(&mut g, model, |g, m| {
        g.node("Gather", &[m, &col], vec![("axis", Attr::Int(2))])
    });
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
    let lw = &mut Onnx::new(&mut g, cond, p, s.height);
    let mut h_in: Option<String> = None;
    for (k, layer) in net.layers.iter().enumerate() {
        if let (Some(past_k), Some(h)) = (&past[k], &h_in) {
            let half = s.horizontal_state_cols(k);
            window = lw.g.node("Concat", &[past_k, h], vec![("axis", Attr::Int(1))]);
            let present = layers::slice(lw.g, &window, 1, p as i64, ((half + 1) * p) as i64);
            lw.g.output(&names::present_h(k), &present, Elem::F32, &state(k));
        }
        h_in = Some(layer.lower_pixel(lw, &window, h_in.as_ref(), &links[k]));
    }
    let h_last = h_in.unwrap_or_default();
    let x = net.head.lower_pixel(lw, &h_last);
    let shape = g.ints("shape", &[0, c as i64, LEVELS as i64]);
    let logits = g.node("Reshape", &[&x, &shape], vec![]);
    g.output(names::LOGITS, &logits, Elem::F32, &batched(&[c, LEVELS]));
    Some(g)
}
