//! Giving a trained vector-conditioned Gated PixelCNN (an auto-encoder's code h, or
//! `conditioning: vector`) a spatial map of its code, computing exactly the same function.
//!
//! A vector code reaches every gate as the same bias V^T h at every pixel; a spatial map
//! m(h) (paper §2.3) lets the code say where strokes go. The map starts as the vector code
//! itself at every pixel: its linear layer writes `relu(h)` to the first `dim` channels
//! and `relu(-h)` to the next `dim` at every position of the coarse grid, each transposed
//! convolution upsamples by nearest neighbour (kernel rows and columns `[0, 1, 1, 0]`,
//! stride 2, padding 1: both outputs of an input pixel read it once), and each layer's
//! 1x1 projection reads those channels with `V` and `-V`, so `relu(h) V - relu(-h) V = h V`.
//! Channels beyond `2 dim` keep a fresh initialisation and are read with zero weights
//! (so they change nothing yet and get gradients). From there training can make the map
//! depend on the position.

use burn::tensor::backend::Backend;

use crate::conditioning::{CondProjection, SpatialMap, UP_KERNEL};
use crate::model::{Decoder, PixelModel};
use crate::spec::{Arch, Conditioning};
use crate::surgery::{host, param};

impl<B: Backend> PixelModel<B> {
    /// This model with its vector code seen through a spatial map of `map_channels`
    /// channels (at least twice the code's size), the same function of its inputs. The
    /// map's spare channels come from a fresh model of the new spec initialised with `seed`.
    /// An error says what cannot be converted (no vector code, too few channels, the plain
    /// PixelCNN).
    pub fn spatialized(&self, map_channels: usize, seed: u64, device: &B::Device) -> Result<Self, String> {
        let dim = match self.spec.decoder_conditioning() {
            Conditioning::Vector { dim } => dim,
            Conditioning::Spatial { .. } => return Err("its code already reaches the decoder through a spatial map".into()),
            other => {
                return Err(format!(
                    "only a model with a vector code (an auto-encoder, or conditioning: vector) gets a spatial map; it is conditioned on {other:?}"
                ))
            }
        };
        if map_channels < 2 * dim {
            return Err(format!(
                "a spatial map of a {dim}-dim code starts as the code itself with at least {} channels (its positive and negative parts), not {map_channels}",
                2 * dim
            ));
        }
        let mut spec = self.spec.clone();
        match (spec.arch, spec.encoder.as_mut()) {
            (Arch::Autoencoder, Some(enc)) => enc.map_channels = Some(map_channels),
            _ => spec.conditioning = Conditioning::Spatial { dim, map_channels },
        }
        spec.validate().map_err(|e| e.to_string())?;
        let mut out = PixelModel::<B>::new(&spec, seed, device);
        let (Decoder::Gated(to), Decoder::Gated(from)) = (&mut out.decoder, &self.decoder) else {
            return Err("only a Gated PixelCNN decoder (arch gated or autoencoder) gets a spatial map".into());
        };
        for (t, f) in to.layers.iter_mut().zip(&from.layers) {
            let (v_cond, h_cond) = (t.v_cond.take(), t.h_cond.take());
            *t = f.clone();
            t.v_cond = read_map(v_cond, &f.v_cond, dim);
            t.h_cond = read_map(h_cond, &f.h_cond, dim);
        }
        to.head = from.head.clone();
        out.encoder = self.encoder.clone();
        if let Some(map) = out.spatial_map.as_mut() {
            code_as_map(map, dim);
        }
        Ok(out)
    }
}

/// A layer's 1x1 projection `[out, map_channels, 1, 1]` reading `relu(h)` with `V` and
/// `relu(-h)` with `-V` (`V` the vector projection `[dim, out]`), the spare channels with zero.
fn read_map<B: Backend>(
    fresh: Option<CondProjection<B>>,
    vector: &Option<CondProjection<B>>,
    dim: usize,
) -> Option<CondProjection<B>> {
    let (Some(CondProjection::Map(mut conv)), Some(CondProjection::Dense(v))) = (fresh, vector) else {
        unreachable!("a vector projection becomes a map projection");
    };
    let [out, channels, _, _] = conv.shape();
    let v = host(&v.val());
    let mut w = vec![0.0; out * channels];
    for o in 0..out {
        for d in 0..dim {
            w[o * channels + d] = v[d * out + o];
            w[o * channels + dim + d] = -v[d * out + o];
        }
    }
    conv.weight = param(w, [out, channels, 1, 1], &conv.weight.val().device());
    Some(CondProjection::Map(conv))
}

/// Sets the map's first `2 dim` channels to `relu(h)` and `relu(-h)` at every pixel (see
/// the module's doc); the spare channels keep their fresh weights.
fn code_as_map<B: Backend>(map: &mut SpatialMap<B>, dim: usize) {
    let [channels, bh, bw] = map.base;
    let cells = bh * bw;
    let device = map.linear_w.val().device();
    // linear: [dim, channels * cells], channel-major columns
    let mut w = host(&map.linear_w.val());
    let mut b = host(&map.linear_b.val());
    for c in 0..2 * dim {
        let cols = c * cells..(c + 1) * cells;
        b[cols.clone()].fill(0.0);
        for d in 0..dim {
            let sign = match c {
                c if c == d => 1.0,
                c if c == dim + d => -1.0,
                _ => 0.0,
            };
            w[d * channels * cells..(d + 1) * channels * cells][cols.clone()].fill(sign);
        }
    }
    map.linear_w = param(w, [dim, channels * cells], &device);
    map.linear_b = param(b, [channels * cells], &device);
    // both upsamplings: [in, out, k, k]; output channel c < 2 dim reads input c by nearest
    // neighbour, nothing else
    let taps = UP_KERNEL * UP_KERNEL;
    let nearest: Vec<f64> = (0..taps)
        .map(|k| {
            let one = |i: usize| if i == 1 || i == 2 { 1.0 } else { 0.0 };
            one(k / UP_KERNEL) * one(k % UP_KERNEL)
        })
        .collect();
    for (weight, bias) in [(&mut map.up1_w, &mut map.up1_b), (&mut map.up2_w, &mut map.up2_b)] {
        let mut w = host(&weight.val());
        let mut b = host(&bias.val());
        b[..2 * dim].fill(0.0);
        for c in 0..2 * dim {
            for i in 0..channels {
                let at = (i * channels + c) * taps;
                if i == c {
                    w[at..at + taps].copy_from_slice(&nearest);
                } else {
                    w[at..at + taps].fill(0.0);
                }
            }
        }
        *weight = param(w, [channels, channels, UP_KERNEL, UP_KERNEL], &device);
        *bias = param(b, [channels], &device);
    }
}
