//! Conditioning (paper §2.3): what a caller passes (`Condition`), the per-layer
//! projections V^T h added inside the gates (`CondProjection`), and the deconvolutional
//! network m(h) of location-dependent conditioning (`SpatialMap`).

use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::module::conv_transpose2d;
use burn::tensor::ops::ConvTransposeOptions;
use burn::tensor::{activation, Int, Tensor, TensorData};
use rand_chacha::ChaCha8Rng;

use crate::conv::{uniform_param, Conv};
use crate::fused::FusedOps;
use crate::spec::Conditioning;
use pixelcnn_core::CondInput;

/// What a batch is conditioned on.
#[derive(Debug, Clone)]
pub enum Condition<B: Backend> {
    None,
    /// Class labels `[batch]`, each in `0..classes`.
    Class(Tensor<B, 1, Int>),
    /// Conditioning vectors `[batch, dim]` (vector and spatial conditioning).
    Vector(Tensor<B, 2>),
}

impl<B: Backend> Condition<B> {
    /// The host condition as tensors on `device`: labels `[n]`, vectors `[n, dim]`.
    pub fn from_host(cond: &CondInput, device: &B::Device) -> Self {
        match cond {
            CondInput::None => Self::None,
            CondInput::Labels(l) => Self::Class(Tensor::from_data(TensorData::new(l.clone(), [l.len()]), device)),
            CondInput::Vectors(v, dim) => Self::Vector(Tensor::from_data(
                TensorData::new(v.clone(), [v.len() / (*dim).max(1), *dim]),
                device,
            )),
        }
    }

    /// Turns a caller's condition into the features the layers consume: labels become
    /// one-hot 1x1 maps (so V^T h is exactly the class's row of V), vectors 1x1 maps, and
    /// for spatial conditioning the map network's s = m(h).
    ///
    /// # Panics
    /// If the condition is not of the model's kind (labels for a vector-conditioned model,
    /// or none for a conditional one): callers check user input against the spec first.
    pub fn features(&self, kind: &Conditioning, map: Option<&SpatialMap<B>>) -> CondFeatures<B> {
        match (kind, self) {
            (Conditioning::None, _) => None,
            (Conditioning::Class { classes }, Condition::Class(labels)) => {
                Some(dense_map(labels.clone().one_hot::<2>(*classes).float()))
            }
            (Conditioning::Vector { .. }, Condition::Vector(h)) => Some(dense_map(h.clone())),
            (Conditioning::Spatial { .. }, Condition::Vector(h)) => map.map(|m| m.forward(h.clone())),
            (kind, given) => panic!("model conditioned on {kind:?} was given {given:?}"),
        }
    }
}

/// Conditioning after the model-level preprocessing, as maps `[batch, in, H, W]`: one-hot
/// labels and vectors are 1x1 maps (V^T h is the same at every position), spatial
/// conditioning is s = m(h) at full resolution. `None` for an unconditional batch, where
/// the projections add nothing (the term of h = 0).
pub type CondFeatures<B> = Option<Tensor<B, 4>>;

/// [`CondFeatures`] for row-layout layers ([`crate::rows::to_rows`]): `[batch, in]` for 1x1 maps,
/// `[B*H*W, map_channels]` for spatial maps.
pub type RowCond<B> = Option<Tensor<B, 2>>;

/// V^T h for one stack of one layer: a `[in, out]` matrix for dense conditioning (labels
/// or vectors), or an unmasked 1x1 convolution for spatial maps. Never has a bias (the
/// layer's conv has one).
#[derive(Module, Debug)]
pub enum CondProjection<B: Backend> {
    Dense(Param<Tensor<B, 2>>),
    Map(Conv<B>),
}

impl<B: Backend> CondProjection<B> {
    /// Whether `other` is a projection of the same kind and shape (so it could replace this one).
    pub fn same_shape(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Dense(a), Self::Dense(b)) => a.dims() == b.dims(),
            (Self::Map(a), Self::Map(b)) => a.weight.dims() == b.weight.dims(),
            _ => false,
        }
    }

    /// `None` for an unconditional model.
    pub fn new(kind: &Conditioning, out: usize, rng: &mut ChaCha8Rng, device: &B::Device) -> Option<Self> {
        let input = match kind {
            Conditioning::None => return None,
            Conditioning::Class { classes } => *classes,
            Conditioning::Vector { dim } => *dim,
            Conditioning::Spatial { map_channels, .. } => {
                let conv = Conv::new([out, *map_channels, 1, 1], false, None, [0; 4], rng, device);
                return Some(Self::Map(conv));
            }
        };
        let bound = 1.0 / (input as f32).sqrt();
        Some(Self::Dense(uniform_param(rng, [input, out], bound, device)))
    }

    /// The term added to a layer's pre-activation `[batch, out, H, W]` (`[batch, out, 1, 1]`,
    /// broadcast, for dense conditioning), from features at any position (whole maps, one
    /// row or one pixel of a spatial map).
    pub fn forward(&self, features: &Tensor<B, 4>) -> Tensor<B, 4> {
        match self {
            Self::Dense(w) => {
                let [b, _, _, _] = features.dims();
                let out = w.val().dims()[1];
                dense_in(features).matmul(w.val()).reshape([b, out, 1, 1])
            }
            Self::Map(conv) => conv.forward(features.clone()),
        }
    }

    /// `x + V^T h` for row-layout pre-activations `x` `[B*H*W, out]` and features
    /// `[B*H*W, in]`, one row per pixel ([`crate::rows::network_input`]).
    pub fn add_rows(&self, x: Tensor<B, 2>, features: &Tensor<B, 2>) -> Tensor<B, 2>
    where
        B: FusedOps,
    {
        match self {
            Self::Dense(w) => x + features.clone().matmul(w.val()),
            Self::Map(conv) => x + conv.forward_rows(features.clone(), None),
        }
    }
}

/// Vectors `[B, in]` as 1x1 maps `[B, in, 1, 1]`.
pub fn dense_map<B: Backend>(h: Tensor<B, 2>) -> Tensor<B, 4> {
    let [b, d] = h.dims();
    h.reshape([b, d, 1, 1])
}

/// A 1x1 map `[B, in, 1, 1]` as `[B, in]`.
fn dense_in<B: Backend>(features: &Tensor<B, 4>) -> Tensor<B, 2> {
    let [b, c, _, _] = features.dims();
    features.clone().reshape([b, c])
}

/// m(h): a linear layer to `map_channels x H/4 x W/4`, then two stride-2 transposed
/// convolutions (kernel 4, padding 1) with a ReLU between, to `map_channels x H x W`.
#[derive(Module, Debug)]
pub struct SpatialMap<B: Backend> {
    pub linear_w: Param<Tensor<B, 2>>,
    pub linear_b: Param<Tensor<B, 1>>,
    /// `[in, out, 4, 4]` (ONNX ConvTranspose layout).
    pub up1_w: Param<Tensor<B, 4>>,
    pub up1_b: Param<Tensor<B, 1>>,
    pub up2_w: Param<Tensor<B, 4>>,
    pub up2_b: Param<Tensor<B, 1>>,
    #[module(skip)]
    pub base: [usize; 3],
}

/// Kernel, stride and padding of both upsampling steps.
pub const UP_KERNEL: usize = 4;
pub const UP_STRIDE: usize = 2;
pub const UP_PAD: usize = 1;

impl<B: Backend> SpatialMap<B> {
    pub fn new(
        dim: usize,
        channels: usize,
        [height, width]: [usize; 2],
        rng: &mut ChaCha8Rng,
        device: &B::Device,
    ) -> Self {
        let base = [channels, height / 4, width / 4];
        let n = channels * base[1] * base[2];
        let linear = 1.0 / (dim as f32).sqrt();
        let up = 1.0 / ((channels * UP_KERNEL * UP_KERNEL) as f32).sqrt();
        let kernel = [channels, channels, UP_KERNEL, UP_KERNEL];
        Self {
            linear_w: uniform_param(rng, [dim, n], linear, device),
            linear_b: uniform_param(rng, [n], linear, device),
            up1_w: uniform_param(rng, kernel, up, device),
            up1_b: uniform_param(rng, [channels], up, device),
            up2_w: uniform_param(rng, kernel, up, device),
            up2_b: uniform_param(rng, [channels], up, device),
            base,
        }
    }

    pub fn forward(&self, h: Tensor<B, 2>) -> Tensor<B, 4> {
        let [b, _] = h.dims();
        let [c, bh, bw] = self.base;
        let x = (h.matmul(self.linear_w.val()) + self.linear_b.val().unsqueeze::<2>()).reshape([b, c, bh, bw]);
        let x = activation::relu(x);
        let opts = || ConvTransposeOptions::new([UP_STRIDE; 2], [UP_PAD; 2], [0, 0], [1, 1], 1);
        let x = conv_transpose2d(x, self.up1_w.val(), Some(self.up1_b.val()), opts());
        let x = activation::relu(x);
        conv_transpose2d(x, self.up2_w.val(), Some(self.up2_b.val()), opts())
    }
}
