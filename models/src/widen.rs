//! Widening a trained Gated PixelCNN: more hidden maps per layer and a wider head, computing
//! exactly the same function (Net2Net, Chen et al. 2016, in its zero-init form). Every
//! trained weight keeps its place among the maps of its colour group; the weights that
//! *read* a new map from an old one are zero, so the old maps (and the logits) do not
//! change; the weights that *write* the new maps keep a fresh initialisation, so the new
//! maps carry signal and their outgoing weights get gradients from the first step.
//!
//! Training a wider model from a narrower trained one starts where the narrow one stopped
//! instead of from scratch, which is what makes larger models reachable on a CPU.

use burn::module::Param;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

use crate::conditioning::CondProjection;
use crate::conv::Conv;
use crate::model::{Decoder, PixelModel};
use crate::spec::{Conditioning, ModelSpec};
use crate::surgery::{host, param};

impl<B: Backend> PixelModel<B> {
    /// This model grown towards `spec`, computing the same function: widened to its
    /// `hidden` / `head_hidden`, and, where `spec` reads the same vector code through a
    /// spatial map, given one that starts as the code itself ([`Self::spatialized`]). What
    /// `init_from` starts a training with; a result whose spec equals `spec` can be taken
    /// whole (encoder and map included), any other lends its decoder.
    pub fn grown_toward(&self, spec: &ModelSpec, seed: u64, device: &B::Device) -> Result<Self, String> {
        let wide = self.widened(spec.hidden, spec.head_hidden, seed, device)?;
        match (wide.spec.decoder_conditioning(), spec.decoder_conditioning()) {
            (Conditioning::Vector { dim }, Conditioning::Spatial { dim: d, map_channels }) if dim == d => {
                wide.spatialized(map_channels, seed, device)
            }
            _ => Ok(wide),
        }
    }

    /// This model with `hidden` maps per layer and `head_hidden` in the head (each at least
    /// the current one), the same function of its inputs. The new maps' incoming weights
    /// come from a fresh model of the wider spec initialised with `seed`. An error says
    /// what cannot be widened (a narrower target, the plain PixelCNN, a colour group that
    /// would lose maps).
    pub fn widened(&self, hidden: usize, head_hidden: usize, seed: u64, device: &B::Device) -> Result<Self, String> {
        let old = &self.spec;
        for (name, theirs, ours) in [
            ("hidden", old.hidden, hidden),
            ("head_hidden", old.head_hidden, head_hidden),
        ] {
            if ours < theirs {
                return Err(format!(
                    "its decoder has {name} {theirs} where this model has {name} {ours}: a model starts from a narrower or equal one, not a wider one"
                ));
            }
        }
        if (hidden, head_hidden) == (old.hidden, old.head_hidden) {
            return Ok(self.clone());
        }
        let spec = ModelSpec {
            hidden,
            head_hidden,
            ..old.clone()
        };
        spec.validate().map_err(|e| e.to_string())?;
        let mut wide = PixelModel::<B>::new(&spec, seed, device);
        wide.encoder = self.encoder.clone();
        wide.spatial_map = self.spatial_map.clone();
        let (Decoder::Gated(to), Decoder::Gated(from)) = (&mut wide.decoder, &self.decoder) else {
            return Err("only a Gated PixelCNN decoder (arch gated or autoencoder) can be widened".into());
        };
        let maps = feature_map(old, old.hidden, hidden, "hidden maps")?;
        let gates = gate_map(&maps, old.hidden, hidden);
        let head = feature_map(old, old.head_hidden, head_hidden, "head_hidden maps")?;
        let image: Vec<usize> = (0..old.channels).collect();
        for (l, (t, f)) in to.layers.iter_mut().zip(&from.layers).enumerate() {
            let input = if l == 0 { &image } else { &maps };
            widen_conv(&mut t.v_conv, &f.v_conv, &gates, input);
            widen_conv(&mut t.link, &f.link, &gates, &gates);
            widen_conv(&mut t.h_conv, &f.h_conv, &gates, input);
            widen_conv(&mut t.h_out, &f.h_out, &maps, &maps);
            for (t, f) in [(&mut t.v_cond, &f.v_cond), (&mut t.h_cond, &f.h_cond)] {
                match (t.as_mut(), f) {
                    (Some(CondProjection::Dense(t)), Some(CondProjection::Dense(f))) => {
                        // [in, 2p]: the conditioning's rows stay, the gate columns move
                        let rows: Vec<usize> = (0..f.dims()[0]).collect();
                        *t = widen_param(t, f, &gates, &rows, true, 1);
                    }
                    (Some(CondProjection::Map(t)), Some(CondProjection::Map(f))) => {
                        let inputs: Vec<usize> = (0..f.shape()[1]).collect();
                        widen_conv(t, f, &gates, &inputs);
                    }
                    (None, None) => {}
                    _ => unreachable!("same conditioning, same projections"),
                }
            }
        }
        widen_conv(&mut to.head.hidden, &from.head.hidden, &head, &maps);
        let logits: Vec<usize> = (0..from.head.out.shape()[0]).collect();
        widen_conv(&mut to.head.out, &from.head.out, &logits, &head);
        Ok(wide)
    }
}

/// Where each of `old` feature maps goes among `new`: the k-th map of colour group g stays
/// the k-th map of group g (masks are by group, so every allowed connection stays allowed).
fn feature_map(spec: &ModelSpec, old: usize, new: usize, what: &str) -> Result<Vec<usize>, String> {
    let members = |n: usize, g: usize| (0..n).filter(move |&k| spec.group_of(k, n) == g);
    let mut map = vec![0; old];
    for g in 0..spec.channels {
        let (from, to): (Vec<usize>, Vec<usize>) = (members(old, g).collect(), members(new, g).collect());
        if to.len() < from.len() {
            return Err(format!(
                "colour group {g} would have {} {what} instead of {} when widened from {old} to {new}",
                to.len(),
                from.len()
            ));
        }
        for (f, t) in from.into_iter().zip(to) {
            map[f] = t;
        }
    }
    Ok(map)
}

/// A gated unit's `2p` pre-activations: the tanh half, then the sigmoid half, each mapped
/// like the hidden maps.
fn gate_map(maps: &[usize], old: usize, new: usize) -> Vec<usize> {
    (0..2 * old)
        .map(|k| if k < old { maps[k] } else { new + maps[k - old] })
        .collect()
}

fn widen_conv<B: Backend>(to: &mut Conv<B>, from: &Conv<B>, outputs: &[usize], inputs: &[usize]) {
    let taps = from.shape()[2] * from.shape()[3];
    to.weight = widen_param(&to.weight, &from.weight, outputs, inputs, false, taps);
    if let (Some(t), Some(f)) = (to.bias.as_mut(), from.bias.as_ref()) {
        *t = widen_param(t, f, outputs, &[0], false, 1);
    }
}

/// A parameter laid out `[out, in, taps]` (or `[in, out]` when `transposed`), widened:
/// the old values at their mapped places, zero where an old output reads a new input,
/// the fresh `to` values elsewhere.
fn widen_param<B: Backend, const D: usize>(
    to: &Param<Tensor<B, D>>,
    from: &Param<Tensor<B, D>>,
    outputs: &[usize],
    inputs: &[usize],
    transposed: bool,
    taps: usize,
) -> Param<Tensor<B, D>> {
    let to = to.val();
    let (device, shape) = (to.device(), to.dims());
    let mut w = host(&to);
    let old = host(&from.val());
    let (old_in, new_in) = (inputs.len(), w.len() / taps / new_outputs(&shape, transposed));
    let (old_out, new_out) = (outputs.len(), new_outputs(&shape, transposed));
    let at = |o: usize, i: usize, n_in: usize, n_out: usize| {
        if transposed {
            (i * n_out + o) * taps
        } else {
            (o * n_in + i) * taps
        }
    };
    let mut old_input = vec![false; new_in];
    for &i in inputs {
        old_input[i] = true;
    }
    for (oo, &on) in outputs.iter().enumerate() {
        for i in (0..new_in).filter(|&i| !old_input[i]) {
            let k = at(on, i, new_in, new_out);
            w[k..k + taps].fill(0.0);
        }
        for (io, &inew) in inputs.iter().enumerate() {
            let (k, j) = (at(on, inew, new_in, new_out), at(oo, io, old_in, old_out));
            w[k..k + taps].copy_from_slice(&old[j..j + taps]);
        }
    }
    param(w, shape, &device)
}

fn new_outputs<const D: usize>(shape: &[usize; D], transposed: bool) -> usize {
    if transposed {
        shape[1]
    } else {
        shape[0]
    }
}
