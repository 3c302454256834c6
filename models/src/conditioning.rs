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
use crate::rows::{add_per_image, to_rows, RowShape};
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

/// Conditioning after the model-level preprocessing: one-hot labels, raw vectors, or the
/// spatial maps s = m(h) `[batch, map_channels, H, W]`.
#[derive(Debug, Clone)]
pub enum CondFeatures<B: Backend> {
    None,
    /// One-hot labels or vectors `[batch, in]`, projected by a matrix.
    Dense(Tensor<B, 2>),
    /// Spatial maps, projected by unmasked 1x1 convolutions.
    Map(Tensor<B, 4>),
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

    /// Turns a caller's condition into the features the layers consume. Class labels
    /// become one-hot rows, so V^T h is exactly the class's row of V.
    pub fn features(&self, kind: &Conditioning, map: Option<&SpatialMap<B>>) -> CondFeatures<B> {
        match (kind, self) {
            (Conditioning::None, _) => CondFeatures::None,
            (Conditioning::Class { classes }, Condition::Class(labels)) => {
                CondFeatures::Dense(labels.clone().one_hot::<2>(*classes).float())
            }
            (Conditioning::Vector { .. }, Condition::Vector(h)) => CondFeatures::Dense(h.clone()),
            (Conditioning::Spatial { .. }, Condition::Vector(h)) => {
                CondFeatures::Map(map.expect("spatial conditioning has a map network").forward(h.clone()))
            }
            (kind, given) => panic!("model conditioned on {kind:?} was given {given:?}"),
        }
    }
}

/// [`CondFeatures`] for row-layout layers: maps become rows `[B*H*W, map_channels]`.
#[derive(Debug, Clone)]
pub enum RowCond<B: Backend> {
    None,
    /// `[batch, in]`, as in [`CondFeatures::Dense`].
    Dense(Tensor<B, 2>),
    /// Spatial maps as rows `[B*H*W, map_channels]`.
    Map(Tensor<B, 2>),
}

impl<B: Backend> From<&CondFeatures<B>> for RowCond<B> {
    fn from(f: &CondFeatures<B>) -> Self {
        match f {
            CondFeatures::None => Self::None,
            CondFeatures::Dense(h) => Self::Dense(h.clone()),
            CondFeatures::Map(s) => Self::Map(to_rows(s.clone())),
        }
    }
}

/// V^T h for one stack of one layer: a `[in, out]` matrix for dense conditioning, or an
/// unmasked 1x1 convolution for spatial maps. Never has a bias (the layer's conv has one).
#[derive(Module, Debug)]
pub struct CondProjection<B: Backend> {
    pub dense: Option<Param<Tensor<B, 2>>>,
    pub map: Option<Conv<B>>,
}

impl<B: Backend> CondProjection<B> {
    /// `None` for an unconditional model.
    pub fn new(kind: &Conditioning, out: usize, rng: &mut ChaCha8Rng, device: &B::Device) -> Option<Self> {
        let input = match kind {
            Conditioning::None => return None,
            Conditioning::Class { classes } => *classes,
            Conditioning::Vector { dim } => *dim,
            Conditioning::Spatial { map_channels, .. } => {
                let conv = Conv::new([out, *map_channels, 1, 1], false, None, [0; 4], rng, device);
                return Some(Self {
                    dense: None,
                    map: Some(conv),
                });
            }
        };
        let bound = 1.0 / (input as f32).sqrt();
        Some(Self {
            dense: Some(uniform_param(rng, [input, out], bound, device)),
            map: None,
        })
    }

    /// The term added to a layer's pre-activation `[batch, out, H, W]` (broadcast over
    /// H and W for dense conditioning).
    pub fn forward(&self, features: &CondFeatures<B>) -> Tensor<B, 4> {
        match (features, &self.dense, &self.map) {
            (CondFeatures::Dense(h), Some(w), _) => {
                let [b, _] = h.dims();
                let out = w.val().dims()[1];
                h.clone().matmul(w.val()).reshape([b, out, 1, 1])
            }
            (CondFeatures::Map(s), _, Some(conv)) => conv.forward(s.clone()),
            _ => panic!("conditioning features do not match the projection"),
        }
    }

    /// V^T h at row `i` only (cached sampling's vertical step): `[B, out, 1, W]` for
    /// spatial maps, `[B, out, 1, 1]` for dense conditioning.
    pub fn at_row(&self, features: &CondFeatures<B>, i: usize) -> Tensor<B, 4> {
        match (features, &self.map) {
            (CondFeatures::Map(s), Some(conv)) => conv.forward(s.clone().narrow(2, i, 1)),
            _ => self.forward(features),
        }
    }

    /// V^T h at pixel `(i, j)` (cached sampling's horizontal step): `[B, out]`.
    pub fn at_pixel(&self, features: &CondFeatures<B>, i: usize, j: usize) -> Tensor<B, 2> {
        match (features, &self.dense, &self.map) {
            (CondFeatures::Dense(h), Some(w), _) => h.clone().matmul(w.val()),
            (CondFeatures::Map(s), _, Some(conv)) => {
                let [b, c, _, _] = s.dims();
                let pixel = s.clone().narrow(2, i, 1).narrow(3, j, 1).reshape([b, c]);
                conv.forward_dense(pixel)
            }
            _ => panic!("conditioning features do not match the projection"),
        }
    }

    /// `x + V^T h` for row-layout pre-activations `x` `[B*H*W, out]`.
    pub fn add_rows(&self, x: Tensor<B, 2>, features: &RowCond<B>, shape: RowShape) -> Tensor<B, 2>
    where
        B: FusedOps,
    {
        match (features, &self.dense, &self.map) {
            (RowCond::Dense(h), Some(w), _) => add_per_image(x, h.clone().matmul(w.val()), shape),
            (RowCond::Map(s), _, Some(conv)) => x + conv.forward_rows(s.clone(), None),
            _ => panic!("conditioning features do not match the projection"),
        }
    }
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
