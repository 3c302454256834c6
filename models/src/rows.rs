//! Row layout: activations as `[N, C]` with one row per pixel (`N = B*H*W`, pixels in
//! raster order inside each image), so every small convolution is one row gather
//! followed by one matrix product.
//!
//! A `kh x kw` convolution with zero padding `[top, left, ..]` and the output size of its
//! input reads, for output pixel `(i, j)` and tap `(ky, kx)`, the input pixel
//! `(i + ky - top, j + kx - left)`, or zeros outside the image. [`TapIndex`] lists those
//! source rows for every `(pixel, tap)` pair, with `N` standing for "zeros": the source is
//! the activations with one zero row appended. The gathered `[N, taps * C]` matrix times
//! the kernel as a `[taps * C, out]` matrix ([`crate::conv::Conv::matrix`]) is the
//! convolution; masks stay in the weights, so causality is exactly that of the NCHW form.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use crate::conditioning::{CondFeatures, RowCond};
use crate::fused::{gather_rows, FusedOps};

/// Batch and image size of a row tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowShape {
    pub batch: usize,
    pub height: usize,
    pub width: usize,
}

impl RowShape {
    /// Rows `N = B*H*W`.
    pub fn rows(&self) -> usize {
        self.batch * self.height * self.width
    }
}

/// Source rows of a convolution's taps, as an int tensor of `N * taps` entries.
#[derive(Debug, Clone)]
pub struct TapIndex<B: Backend> {
    pub index: Tensor<B, 1, Int>,
    pub taps: usize,
}

/// Source row of each `(pixel, tap)` of a `kh x kw` kernel with padding `top`, `left`
/// (stride 1, output size = input size); `shape.rows()` stands for the zero row.
pub fn tap_rows(shape: RowShape, kh: usize, kw: usize, top: usize, left: usize) -> Vec<i64> {
    let RowShape { batch, height, width } = shape;
    let zero = shape.rows() as i64;
    let mut idx = Vec::with_capacity(shape.rows() * kh * kw);
    for b in 0..batch {
        for i in 0..height {
            for j in 0..width {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let (si, sj) = ((i + ky) as isize - top as isize, (j + kx) as isize - left as isize);
                        let inside = si >= 0 && sj >= 0 && (si as usize) < height && (sj as usize) < width;
                        idx.push(if inside {
                            ((b * height + si as usize) * width + sj as usize) as i64
                        } else {
                            zero
                        });
                    }
                }
            }
        }
    }
    idx
}

impl<B: Backend> TapIndex<B> {
    pub fn new(shape: RowShape, kh: usize, kw: usize, top: usize, left: usize, device: &B::Device) -> Self {
        let idx = tap_rows(shape, kh, kw, top, left);
        let n = idx.len();
        Self {
            index: Tensor::from_data(TensorData::new(idx, [n]), device),
            taps: kh * kw,
        }
    }

    /// Rows `[N, C]` -> the taps of every pixel side by side, `[N, taps * C]`.
    pub fn gather(&self, x: Tensor<B, 2>) -> Tensor<B, 2>
    where
        B: FusedOps,
    {
        gather_rows(x, self.index.clone(), self.taps)
    }
}

/// The input of a row-layout network: images `[B, C, H, W]` as rows, their conditioning
/// features as rows ([`RowCond`]: one per pixel, a 1x1 map repeated over its image, so
/// every layer adds `V^T h` as one matrix product and a same-shape sum) and the row shape.
pub fn network_input<B: Backend>(x: Tensor<B, 4>, cond: &CondFeatures<B>) -> (Tensor<B, 2>, RowCond<B>, RowShape) {
    let [batch, _, height, width] = x.dims();
    let cond = cond.clone().map(|c| {
        let [b, dim, ch, cw] = c.dims();
        match (ch, cw) {
            (1, 1) => c
                .reshape([b, 1, dim])
                .repeat_dim(1, height * width)
                .reshape([b * height * width, dim]),
            _ => to_rows(c),
        }
    });
    (to_rows(x), cond, RowShape { batch, height, width })
}

/// `[B, C, H, W]` -> rows `[B*H*W, C]`.
pub fn to_rows<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 2> {
    let [b, c, h, w] = x.dims();
    x.permute([0, 2, 3, 1]).reshape([b * h * w, c])
}

/// Rows `[B*H*W, C]` -> `[B, C, H, W]`.
pub fn from_rows<B: Backend>(x: Tensor<B, 2>, shape: RowShape) -> Tensor<B, 4> {
    let c = x.dims()[1];
    x.reshape([shape.batch, shape.height, shape.width, c])
        .permute([0, 3, 1, 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_read_above_and_left_with_zero_padding() {
        // 1 image 2x2, a 2x3 kernel padded 1 above, 1 left: output (i, j) reads rows i-1..=i,
        // columns j-1..=j+1
        let s = RowShape {
            batch: 1,
            height: 2,
            width: 2,
        };
        let idx = tap_rows(s, 2, 3, 1, 1);
        let z = 4;
        assert_eq!(&idx[0..6], &[z, z, z, z, 0, 1]); // pixel (0,0)
        assert_eq!(&idx[18..24], &[0, 1, z, 2, 3, z]); // pixel (1,1)
    }

    #[test]
    fn shift_down_is_a_one_tap_kernel_padded_above() {
        let s = RowShape {
            batch: 2,
            height: 2,
            width: 1,
        };
        assert_eq!(tap_rows(s, 1, 1, 1, 0), vec![4, 0, 4, 2]);
    }
}
