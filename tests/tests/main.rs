//! The cross-crate tests, one binary: each file is a module, so a single link of burn,
//! ONNX Runtime and tract serves them all. Run one file with a filter, e.g.
//! `cargo test -p pixelcnn-tests --test pixelcnn fixtures::`.

mod cached_burn;
mod cached_sampling;
mod causality;
mod checkpoint_layout;
mod codec;
mod fixtures;
mod fused;
mod onnx_equivalence;
mod row_layout;
mod sampling_matrix;
mod training;
mod widen;
