//! `PixelModel`: any architecture a `ModelSpec` describes, behind one forward pass and
//! one loss, so the trainer, the exporter and the tests never match on the architecture.

use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{activation, Int, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::autoencoder::Encoder;
use crate::baseline::PixelCnn;
use crate::conditioning::{CondFeatures, CondProjection, Condition, SpatialMap};
use crate::fused::{nll_rows, FusedOps};
use crate::gated::GatedPixelCnn;
use crate::spec::{Arch, Conditioning, ModelSpec, LEVELS};

/// The autoregressive network over the pixels.
#[derive(Module, Debug)]
pub enum Decoder<B: Backend> {
    /// The Gated PixelCNN (two stacks, gated units, cached sampling steps).
    Gated(GatedPixelCnn<B>),
    /// The plain masked PixelCNN of the paper's ablation (blind spot, no cached steps).
    Plain(PixelCnn<B>),
}

#[derive(Module, Debug)]
pub struct PixelModel<B: Backend> {
    pub decoder: Decoder<B>,
    pub encoder: Option<Encoder<B>>,
    pub spatial_map: Option<SpatialMap<B>>,
    #[module(skip)]
    pub spec: ModelSpec,
}

/// uint8 values (as floats) -> the network's input range [-1, 1].
pub fn normalize<B: Backend>(images: Tensor<B, 4>) -> Tensor<B, 4> {
    images.div_scalar(127.5).sub_scalar(1.0)
}

/// Scale of [`normalize`]: x / NORM_SCALE - 1.
pub const NORM_SCALE: f32 = 127.5;

impl<B: Backend> PixelModel<B> {
    /// A freshly initialised model. Same spec + seed = same weights on every backend.
    ///
    /// # Panics
    /// If the spec is invalid: call `spec.validate()` first on user input.
    pub fn new(spec: &ModelSpec, seed: u64, device: &B::Device) -> Self {
        spec.validate().expect("valid model spec");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let cond = spec.decoder_conditioning();
        let decoder = match spec.arch {
            Arch::Gated | Arch::Autoencoder => Decoder::Gated(GatedPixelCnn::new(spec, &cond, &mut rng, device)),
            Arch::Pixelcnn => Decoder::Plain(PixelCnn::new(spec, &cond, &mut rng, device)),
        };
        let encoder = spec.encoder.as_ref().map(|e| Encoder::new(spec, e, &mut rng, device));
        let spatial_map = match cond {
            Conditioning::Spatial { dim, map_channels } => Some(SpatialMap::new(
                dim,
                map_channels,
                [spec.height, spec.width],
                &mut rng,
                device,
            )),
            _ => None,
        };
        Self {
            decoder,
            encoder,
            spatial_map,
            spec: spec.clone(),
        }
    }

    /// Images `[B, C, H, W]` holding values 0..=255 -> logits `[B, C, H, W, 256]`.
    /// For the auto-encoder, `Condition::None` encodes the images themselves (training,
    /// scoring); `Condition::Vector(h)` runs the decoder on a given bottleneck h
    /// (sampling, and the decoder's causality tests).
    pub fn forward(&self, images: Tensor<B, 4>, cond: &Condition<B>) -> Tensor<B, 5>
    where
        B: FusedOps,
    {
        let [b, c, h, w] = images.dims();
        self.forward_rows(images, cond)
            .reshape([b, h, w, c, LEVELS])
            .permute([0, 3, 1, 2, 4])
    }

    /// The training path: logits as rows `[B*H*W, C*256]` (pixels in raster order), every
    /// convolution a row gather and one matrix product ([`crate::rows`]).
    fn forward_rows(&self, images: Tensor<B, 4>, cond: &Condition<B>) -> Tensor<B, 2>
    where
        B: FusedOps,
    {
        let x = normalize(images);
        let features = self.features(&x, cond);
        match &self.decoder {
            Decoder::Gated(g) => g.forward_rows(x, &features),
            Decoder::Plain(p) => p.forward_rows(x, &features),
        }
    }

    /// [`Self::forward`] computed with 2-D convolutions on whole images, the paper's form
    /// (the training path uses row gathers; tests compare the two).
    pub fn forward_reference(&self, images: Tensor<B, 4>, cond: &Condition<B>) -> Tensor<B, 5> {
        let c = images.dims()[1];
        let x = normalize(images);
        let features = self.features(&x, cond);
        match &self.decoder {
            Decoder::Gated(g) => logits_nchw(g.forward_reference(x, &features), c),
            Decoder::Plain(p) => logits_nchw(p.forward(x, &features), c),
        }
    }

    /// Negative log-likelihood in nats of each image `[B]` (the training loss), from
    /// images `[B, C, H, W]` (values 0..=255 as floats) and the same values as ints.
    pub fn nll(&self, images: Tensor<B, 4>, targets: Tensor<B, 4, Int>, cond: &Condition<B>) -> Tensor<B, 1>
    where
        B: FusedOps,
    {
        let [b, c, h, w] = images.dims();
        // rows are pixels in raster order, C*256 logits each: [B*H*W*C, 256]
        let logits = self.forward_rows(images, cond).reshape([b * h * w * c, LEVELS]);
        let t = targets.permute([0, 2, 3, 1]).reshape([b * h * w * c]);
        nll_rows(logits, t).reshape([b, h * w * c]).sum_dim(1).reshape([b])
    }

    /// Starts this model's decoder from another model's trained one (fine-tuning for a new
    /// conditioning, e.g. an auto-encoder from a class-conditional model of the same images):
    /// every layer's convolutions and the output head are copied, and its conditioning
    /// projections where they have the same kind and shape. A class model's one-hot label
    /// projections serve an auto-encoder's code of as many dimensions: the code starts out
    /// meaning the labels. One-hot codes sum to one, so each projection's mean row moves into
    /// its layer's bias (the same function for every one-hot code) and the code's zero then
    /// means the average label; the encoder starts there, with no spread, see
    /// [`Encoder::start_at_zero`]. A code's offset along (1, ..., 1) then changes nothing, so
    /// training only pulls the codes of different digits apart. An unconditional model from a
    /// class model gets the mean row in its biases too: it starts as the class model given
    /// the average label; a class model from an unconditional one starts with its label
    /// projections at zero, the unconditional model for every label. The rest (other
    /// projections, the spatial map) keeps this model's initialisation. An error says which
    /// decoder setting differs.
    pub fn init_decoder_from(mut self, source: &PixelModel<B>) -> Result<Self, String> {
        let (s, t) = (&source.spec, &self.spec);
        let settings = |m: &ModelSpec| {
            [
                ("channels", m.channels),
                ("layers", m.layers),
                ("hidden", m.hidden),
                ("first_kernel", m.first_kernel),
                ("kernel", m.kernel),
                ("head_hidden", m.head_hidden),
            ]
        };
        if let Some(((name, theirs), (_, ours))) = settings(s).into_iter().zip(settings(t)).find(|(a, b)| a != b) {
            return Err(format!(
                "its decoder has {name} {theirs} where this model has {name} {ours}"
            ));
        }
        match (&mut self.decoder, &source.decoder) {
            (Decoder::Gated(ours), Decoder::Gated(theirs)) => {
                let mut copied_cond = false;
                let labels_to_code = matches!(s.conditioning, Conditioning::Class { .. }) && self.encoder.is_some();
                let unconditional_from_class = matches!(s.conditioning, Conditioning::Class { .. })
                    && matches!(t.conditioning, Conditioning::None)
                    && self.encoder.is_none();
                // to a class model: a source layer without a label projection reads no condition
                let to_class = matches!(t.conditioning, Conditioning::Class { .. });
                for (o, t) in ours.layers.iter_mut().zip(&theirs.layers) {
                    o.v_conv = t.v_conv.clone();
                    o.link = t.link.clone();
                    o.h_conv = t.h_conv.clone();
                    o.h_out = t.h_out.clone();
                    for (mine, theirs, conv) in [
                        (&mut o.v_cond, &t.v_cond, &mut o.v_conv),
                        (&mut o.h_cond, &t.h_cond, &mut o.h_conv),
                    ] {
                        if let (None, Some(CondProjection::Dense(v)), Some(bias), true) =
                            (mine.as_ref(), theirs, conv.bias.as_mut(), unconditional_from_class)
                        {
                            // no projection here: the labels' mean row (the average label's
                            // bias) moves into the layer's bias
                            add_mean_row(bias, v);
                        } else if let (Some(CondProjection::Dense(v)), None, true) = (mine.as_mut(), theirs, to_class) {
                            // the labels start with no say: the model starts as its
                            // unconditional source for every label, and learns what they add
                            *v = Param::from_tensor(v.val().zeros_like().detach());
                        } else if matches!((mine.as_ref(), theirs), (Some(m), Some(t)) if m.same_shape(t)) {
                            *mine = theirs.clone();
                            copied_cond = true;
                            if labels_to_code {
                                if let (Some(CondProjection::Dense(v)), Some(bias)) =
                                    (mine.as_mut(), conv.bias.as_mut())
                                {
                                    let mean = add_mean_row(bias, v);
                                    *v = Param::from_tensor((v.val() - mean).detach());
                                }
                            }
                        }
                    }
                }
                ours.head = theirs.head.clone();
                if labels_to_code && copied_cond {
                    self.encoder = self.encoder.take().map(Encoder::start_at_zero);
                }
                Ok(self)
            }
            _ => Err("only a Gated PixelCNN decoder (arch gated or autoencoder) starts from another's".into()),
        }
    }

    /// The Gated PixelCNN decoder; `None` for the plain PixelCNN, which has no cached steps.
    pub fn gated(&self) -> Option<&GatedPixelCnn<B>> {
        match &self.decoder {
            Decoder::Gated(g) => Some(g),
            Decoder::Plain(_) => None,
        }
    }

    fn features(&self, x: &Tensor<B, 4>, cond: &Condition<B>) -> CondFeatures<B> {
        let (decoder, map) = (self.spec.decoder_conditioning(), self.spatial_map.as_ref());
        match (&self.encoder, cond) {
            (Some(enc), Condition::None) => Condition::Vector(enc.forward(x.clone())).features(&decoder, map),
            _ => cond.features(&decoder, map),
        }
    }

    /// The encoder's bottleneck for images (auto-encoder only).
    pub fn encode(&self, images: Tensor<B, 4>) -> Option<Tensor<B, 2>> {
        self.encoder.as_ref().map(|e| e.forward(normalize(images)))
    }
}

/// `[B, C*256, H, W]` -> `[B, C, H, W, 256]`.
fn logits_nchw<B: Backend>(logits: Tensor<B, 4>, c: usize) -> Tensor<B, 5> {
    let [b, _, h, w] = logits.dims();
    logits.reshape([b, c, LEVELS, h, w]).permute([0, 1, 3, 4, 2])
}

/// Negative log-likelihood in nats of each image `[B]`, from logits `[B, C, H, W, 256]`
/// and the true values `[B, C, H, W]`.
pub fn nll_nats<B: Backend>(logits: Tensor<B, 5>, targets: Tensor<B, 4, Int>) -> Tensor<B, 1> {
    let [b, c, h, w, _] = logits.dims();
    let logp = activation::log_softmax(logits, 4);
    let picked = logp.gather(4, targets.unsqueeze_dim::<5>(4));
    picked.reshape([b, c * h * w]).sum_dim(1).reshape([b]).neg()
}

/// bits/dim of each image: nats / (D ln 2).
pub fn bits_per_dim<B: Backend>(nats: Tensor<B, 1>, spec: &ModelSpec) -> Tensor<B, 1> {
    nats.div_scalar(spec.dims() as f64 * std::f64::consts::LN_2)
}

/// Adds the mean row of a one-hot projection `[classes, out]` (the average label's bias) to a
/// layer's bias; returns that row, `[1, out]`.
fn add_mean_row<B: Backend>(bias: &mut Param<Tensor<B, 1>>, projection: &Param<Tensor<B, 2>>) -> Tensor<B, 2> {
    let mean = projection.val().mean_dim(0);
    let out = mean.dims()[1];
    *bias = Param::from_tensor((bias.val() + mean.clone().reshape([out])).detach());
    mean
}
