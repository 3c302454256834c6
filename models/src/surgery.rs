//! Host-side helpers for weight surgery (widening a model, giving it a spatial code map):
//! a parameter's values are read to the host as f64, rewritten there, and put back.

use burn::module::Param;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// A tensor's values on the host, as f64.
pub(crate) fn host<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Vec<f64> {
    t.clone()
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .expect("float weights")
}

/// A parameter of `shape` from host values.
pub(crate) fn param<B: Backend, const D: usize>(
    values: Vec<f64>,
    shape: [usize; D],
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}
