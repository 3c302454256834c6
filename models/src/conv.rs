//! `Conv`: a 2-D convolution with an optional causality mask and asymmetric zero
//! padding. Every convolution in every model is one of these, so the exporter reads
//! all weights the same way (masks applied, in ONNX layout).

use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::fused::{bias_rows, matmul_rows, FusedOps};
use crate::rows::{RowShape, TapIndex};

/// Zero padding `[top, left, bottom, right]`, as in ONNX `pads` order (begin, end).
pub type Pads = [usize; 4];

#[derive(Module, Debug)]
pub struct Conv<B: Backend> {
    /// Raw weights `[out, in, kh, kw]`. May hold non-zero values at masked taps (the
    /// optimizer still updates them); the mask is applied at every use.
    pub weight: Param<Tensor<B, 4>>,
    pub bias: Option<Param<Tensor<B, 1>>>,
    #[module(skip)]
    pub mask: Option<Vec<f32>>,
    #[module(skip)]
    pub pads: Pads,
    #[module(skip)]
    pub stride: usize,
}

/// Uniform values in `[-bound, bound]` from the model's seeded init stream.
pub(crate) fn uniform(rng: &mut ChaCha8Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-bound..=bound)).collect()
}

/// A parameter of `shape` drawn by [`uniform`].
pub(crate) fn uniform_param<B: Backend, const D: usize>(
    rng: &mut ChaCha8Rng,
    shape: [usize; D],
    bound: f32,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    let values = uniform(rng, shape.iter().product(), bound);
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

impl<B: Backend> Conv<B> {
    /// Weights drawn uniformly in +-1/sqrt(fan_in) (PyTorch's default scale).
    pub fn new(
        shape: [usize; 4],
        bias: bool,
        mask: Option<Vec<f32>>,
        pads: Pads,
        rng: &mut ChaCha8Rng,
        device: &B::Device,
    ) -> Self {
        let fan_in = shape[1] * shape[2] * shape[3];
        let bound = 1.0 / (fan_in as f32).sqrt();
        if let Some(m) = &mask {
            assert_eq!(
                m.len(),
                shape.iter().product::<usize>(),
                "mask size must match the kernel"
            );
        }
        let weight = uniform_param(rng, shape, bound, device);
        let bias = bias.then(|| uniform_param(rng, [shape[0]], bound, device));
        Self {
            weight,
            bias,
            mask,
            pads,
            stride: 1,
        }
    }

    /// Same convolution with another stride (the encoder's downsampling).
    pub fn with_stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }

    /// The weights the network really uses: raw weights times the mask.
    pub fn effective_weight(&self) -> Tensor<B, 4> {
        let w = self.weight.val();
        match &self.mask {
            None => w,
            Some(m) => {
                let mask = Tensor::from_data(TensorData::new(m.clone(), w.dims()), &w.device());
                w * mask
            }
        }
    }

    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.forward_padded(x, self.pads)
    }

    /// [`Self::forward`] with other padding (cached steps take the rows above from
    /// their state instead of padding).
    pub fn forward_padded(&self, x: Tensor<B, 4>, pads: Pads) -> Tensor<B, 4> {
        let [top, left, bottom, right] = pads;
        let x = if pads == [0; 4] {
            x
        } else {
            x.pad((left, right, top, bottom), 0.0)
        };
        conv2d(
            x,
            self.effective_weight(),
            self.bias.as_ref().map(|b| b.val()),
            ConvOptions::new([self.stride; 2], [0, 0], [1, 1], 1),
        )
    }

    /// The effective kernel as a `[kh * kw * in, out]` matrix, rows ordered tap by tap
    /// (row-major over `kh x kw`), input features inside a tap: the layout of
    /// [`TapIndex::gather`]'s columns.
    pub fn matrix(&self) -> Tensor<B, 2> {
        let [o, i, kh, kw] = self.shape();
        self.effective_weight().permute([2, 3, 1, 0]).reshape([kh * kw * i, o])
    }

    /// A `1 x k` convolution on windows flattened tap by tap `[N, k*in]` -> `[N, out]`
    /// with burn's own matmul (cached steps; training uses [`Self::forward_rows`]).
    pub fn forward_dense(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let y = x.matmul(self.matrix());
        match &self.bias {
            Some(b) => y + b.val().unsqueeze_dim(0),
            None => y,
        }
    }

    /// The same convolution (stride 1) on rows `[N, in]` -> `[N, out]`, its taps read
    /// through `taps` (built from this conv's kernel size and padding). 1x1 convs take
    /// `None`: the rows themselves.
    pub fn forward_rows(&self, x: Tensor<B, 2>, taps: Option<&TapIndex<B>>) -> Tensor<B, 2>
    where
        B: FusedOps,
    {
        let cols = match taps {
            Some(t) => t.gather(x),
            None => x,
        };
        let y = matmul_rows(cols, self.matrix());
        match &self.bias {
            Some(b) => bias_rows(y, b.val()),
            None => y,
        }
    }

    /// The tap index of this convolution's kernel and padding for rows of `shape`.
    pub fn tap_index(&self, shape: RowShape, device: &B::Device) -> TapIndex<B> {
        let [_, _, kh, kw] = self.shape();
        TapIndex::new(shape, kh, kw, self.pads[0], self.pads[1], device)
    }

    /// `[out, in, kh, kw]`
    pub fn shape(&self) -> [usize; 4] {
        self.weight.val().dims()
    }
}
