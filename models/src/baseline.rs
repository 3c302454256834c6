//! The original PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks"):
//! one stack of `n x n` masked convolutions with ReLUs. Its receptive field has the
//! blind spot the Gated PixelCNN removes; it is here to reproduce that ablation.
//!
//! Layer 0: masked conv (type A) C -> p. Layer l > 0: `x + conv_B(relu(x))`. Then the
//! shared head. Conditioning adds V^T h to every layer's conv output.

use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{activation, Tensor};
use rand_chacha::ChaCha8Rng;

use crate::conditioning::{CondFeatures, CondProjection, RowCond};
use crate::conv::{Conv, Pads};
use crate::fused::FusedOps;
use crate::head::Head;
use crate::lower::{Burn, Lower};
use crate::masks::{self, MaskKind};
use crate::rows::{network_input, TapIndex};
use crate::spec::{Conditioning, ModelSpec};

/// A convolution's kernel shape and padding: what its gather index depends on.
type KernelGeometry = ([usize; 4], Pads);

#[derive(Module, Debug)]
pub struct MaskedLayer<B: Backend> {
    pub conv: Conv<B>,
    pub cond: Option<CondProjection<B>>,
}

#[derive(Module, Debug)]
pub struct PixelCnn<B: Backend> {
    pub layers: Vec<MaskedLayer<B>>,
    pub head: Head<B>,
}

impl<B: Backend> PixelCnn<B> {
    pub fn new(spec: &ModelSpec, cond: &Conditioning, rng: &mut ChaCha8Rng, device: &B::Device) -> Self {
        let p = spec.hidden;
        let layers = (0..spec.layers)
            .map(|l| {
                let n = spec.kernel_of(l);
                let cin = spec.in_features(l);
                let kind = if l == 0 { MaskKind::A } else { MaskKind::B };
                let mask = masks::full(kind, &spec.groups(p), &spec.groups(cin), n);
                let half = n / 2;
                MaskedLayer {
                    conv: Conv::new([p, cin, n, n], true, Some(mask), [half; 4], rng, device),
                    cond: CondProjection::new(cond, p, rng, device),
                }
            })
            .collect();
        Self {
            layers,
            head: Head::new(spec, rng, device),
        }
    }

    /// Normalised images `[B, C, H, W]` -> logits `[B, C*256, H, W]`, with 2-D
    /// convolutions (the paper's form; [`Self::forward_rows`] is the training path).
    pub fn forward(&self, x: Tensor<B, 4>, cond: &CondFeatures<B>) -> Tensor<B, 4> {
        self.lower_image(&mut Burn::new(cond), &x)
    }

    /// The same network in row layout (training): normalised images `[B, C, H, W]` ->
    /// logits as rows `[B*H*W, C*256]`, each convolution one row gather and one matrix
    /// product ([`crate::rows`]).
    pub fn forward_rows(&self, x: Tensor<B, 4>, cond: &CondFeatures<B>) -> Tensor<B, 2>
    where
        B: FusedOps,
    {
        let device = x.device();
        let (mut h, cond, shape) = network_input(x, cond);
        // layers with the same kernel and padding share one gather index
        let mut taps: Option<(KernelGeometry, TapIndex<B>)> = None;
        for (l, layer) in self.layers.iter().enumerate() {
            let key = (layer.conv.shape(), layer.conv.pads);
            let t = match taps {
                Some((k, t)) if k == key => t,
                _ => layer.conv.tap_index(shape, &device),
            };
            h = layer.forward_rows(h, &cond, &t, l == 0);
            taps = Some((key, t));
        }
        self.head.forward_rows(h)
    }

    /// The network on whole images, in any lowering (burn here, ONNX in the exporter).
    pub fn lower_image<L: Lower<B>>(&self, lw: &mut L, x: &L::Map) -> L::Map {
        let mut h = x.clone();
        for (l, layer) in self.layers.iter().enumerate() {
            h = layer.lower_image(lw, &h, l == 0);
        }
        self.head.lower_image(lw, &h)
    }
}

impl<B: Backend> MaskedLayer<B> {
    /// [`Self::lower_image`] on rows `[B*H*W, in]` of `shape`, the conv's taps read through
    /// `taps`.
    pub fn forward_rows(&self, x: Tensor<B, 2>, cond: &RowCond<B>, taps: &TapIndex<B>, first: bool) -> Tensor<B, 2>
    where
        B: FusedOps,
    {
        let input = if first { x.clone() } else { activation::relu(x.clone()) };
        let y = self.conv.forward_rows(input, Some(taps));
        let y = match (&self.cond, cond) {
            (Some(p), Some(c)) => p.add_rows(y, c),
            _ => y,
        };
        if first {
            y
        } else {
            x + y
        }
    }

    /// Layer 0: `conv_A(x) (+ V^T h)`; later layers: `x + conv_B(relu(x)) (+ V^T h)`.
    pub fn lower_image<L: Lower<B>>(&self, lw: &mut L, x: &L::Map, first: bool) -> L::Map {
        let input = if first { x.clone() } else { lw.relu(x) };
        let y = lw.conv(&self.conv, &input, self.conv.pads);
        let y = lw.add_cond(y, self.cond.as_ref());
        if first {
            y
        } else {
            lw.add(x, &y)
        }
    }
}
