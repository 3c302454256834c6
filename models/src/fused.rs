//! Fused operations with their own backward pass, for where training spends its time
//! outside the matrix products' arithmetic: the gate `tanh(a) * sigmoid(b)`, the 256-way
//! softmax cross-entropy of the head, and the row convolution's tap gather, matrix
//! product and bias.
//!
//! Composed from burn's primitives these are chains of elementwise passes, each with
//! its own allocation and autodiff node (log-softmax alone is max, sub, exp, sum, log,
//! sub and a gather, each with a backward; burn's matmul zero-fills its output first, its
//! broadcast bias add goes element by element, and the gather appends a zero row to its
//! source with a full copy and scatters its gradient back on one core). [`FusedOps`]
//! gives each of them one forward kernel and one backward kernel: a backend implements
//! the pair (`*_forward` returns the output and what its backward needs), [`Autodiff`]
//! wraps it as one graph node. Every backend has the composed form as its default, so
//! CUDA and ndarray run exactly the formulation they ran before; the flex CPU backend
//! overrides the kernels with one pass each over contiguous f32 rows, split over the
//! rayon pool, and the matrix product with a direct gemm call into an unzeroed buffer.
//! `tests/tests/fused.rs` checks both against the composed form and its autodiff
//! gradients.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{binary, unary, Backward, Ops, OpsKind};
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{Int, Tensor, TensorMetadata, TensorPrimitive};

/// A backend's fused kernels. Implement nothing to get the composed defaults.
pub trait FusedOps: Backend {
    /// The gate on rows `[N, 2p]` -> `[N, p]`: `tanh(x[:, :p]) * sigmoid(x[:, p:])`.
    fn gate_rows(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::gate_rows_forward(x).0
    }

    /// [`Self::gate_rows`] and the tensor its backward reads (by default the input).
    fn gate_rows_forward(x: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        composed::gate_forward::<Self>(x)
    }

    /// The gradient `[N, 2p]` of the gate from the saved tensor and the output's
    /// gradient `[N, p]`: `g s (1 - t^2)` for the tanh half, `g t s (1 - s)` for the
    /// sigmoid half.
    fn gate_rows_backward(saved: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        composed::gate_backward::<Self>(saved, grad)
    }

    /// Rows plus one bias per column: `[N, M] + [M]` (a convolution's bias on rows).
    fn bias_rows(y: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        composed::bias_forward::<Self>(y, bias)
    }

    /// The bias's gradient from the output's `[N, M]`: its column sums, `[M]`.
    fn column_sums(grad: FloatTensor<Self>) -> FloatTensor<Self> {
        composed::column_sums::<Self>(grad)
    }

    /// Rows times a matrix: `x [N, K] @ w [K, M]` -> `[N, M]`; either may be a strided
    /// view (a transpose in the backward pass).
    fn matmul_rows(x: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(x, w)
    }

    /// The taps of every output row side by side: source rows `x [N, C]` and `index`,
    /// `R * taps` source rows with `N` standing for a row of zeros -> `[R, taps * C]`
    /// (a convolution's input columns, see [`crate::rows`]).
    fn gather_rows(x: FloatTensor<Self>, index: IntTensor<Self>, taps: usize) -> FloatTensor<Self> {
        composed::gather_forward::<Self>(x, index, taps)
    }

    /// The gradient `[rows, C]` of [`Self::gather_rows`]'s source rows from its output's
    /// `[R, taps * C]`: each source row gets the sum of the columns read from it.
    fn gather_rows_backward(
        index: IntTensor<Self>,
        taps: usize,
        rows: usize,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        composed::gather_backward::<Self>(index, taps, rows, grad)
    }

    /// Softmax cross-entropy of rows: logits `[M, K]`, targets `[M]` in `0..K` ->
    /// `-log softmax(logits[m])[targets[m]]`, `[M]`, in nats.
    fn nll_rows(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self> {
        Self::nll_rows_forward(logits, targets).0
    }

    /// [`Self::nll_rows`] and what its backward reads besides logits and targets (by
    /// default the log-softmax).
    fn nll_rows_forward(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        composed::nll_forward::<Self>(logits, targets)
    }

    /// The gradient `[M, K]` of [`Self::nll_rows`]: `g (softmax(logits) - onehot(t))`.
    fn nll_rows_backward(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
        saved: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        composed::nll_backward::<Self>(logits, targets, saved, grad)
    }
}

/// The default kernels, composed from burn's primitives.
mod composed {
    use super::float;
    use burn::tensor::backend::Backend;
    use burn::tensor::ops::{FloatTensor, IntTensor};
    use burn::tensor::{activation, IndexingUpdateOp, Int, Tensor};

    pub fn gate_forward<B: Backend>(x: FloatTensor<B>) -> (FloatTensor<B>, FloatTensor<B>) {
        let y = crate::gated::gate(float::<B, 2>(x.clone()));
        (y.into_primitive().tensor(), x)
    }

    pub fn gate_backward<B: Backend>(x: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
        let x = float::<B, 2>(x);
        let g = float::<B, 2>(grad);
        let p = x.dims()[1] / 2;
        let t = activation::tanh(x.clone().narrow(1, 0, p));
        let s = activation::sigmoid(x.narrow(1, p, p));
        let da = g.clone() * s.clone() * (t.clone().powi_scalar(2).neg() + 1.0);
        let db = g * t * s.clone() * (s.neg() + 1.0);
        Tensor::cat(vec![da, db], 1).into_primitive().tensor()
    }

    pub fn bias_forward<B: Backend>(y: FloatTensor<B>, bias: FloatTensor<B>) -> FloatTensor<B> {
        (float::<B, 2>(y) + float::<B, 1>(bias).unsqueeze::<2>())
            .into_primitive()
            .tensor()
    }

    pub fn column_sums<B: Backend>(grad: FloatTensor<B>) -> FloatTensor<B> {
        let g = float::<B, 2>(grad);
        let m = g.dims()[1];
        g.sum_dim(0).reshape([m]).into_primitive().tensor()
    }

    /// The source rows with a zero row appended, selected by the index.
    pub fn gather_forward<B: Backend>(x: FloatTensor<B>, index: IntTensor<B>, taps: usize) -> FloatTensor<B> {
        let x = float::<B, 2>(x);
        let [_, c] = x.dims();
        let index = Tensor::<B, 1, Int>::from_primitive(index);
        let r = index.dims()[0] / taps;
        let padded = Tensor::cat(vec![x.clone(), Tensor::zeros([1, c], &x.device())], 0);
        padded.select(0, index).reshape([r, taps * c]).into_primitive().tensor()
    }

    /// The output's gradient added into zeros at the selected rows (the zero row's share
    /// dropped): the autodiff of [`gather_forward`].
    pub fn gather_backward<B: Backend>(
        index: IntTensor<B>,
        taps: usize,
        rows: usize,
        grad: FloatTensor<B>,
    ) -> FloatTensor<B> {
        let g = float::<B, 2>(grad);
        let [r, width] = g.dims();
        let c = width / taps;
        let index = Tensor::<B, 1, Int>::from_primitive(index);
        Tensor::<B, 2>::zeros([rows + 1, c], &g.device())
            .select_assign(0, index, g.reshape([r * taps, c]), IndexingUpdateOp::Add)
            .narrow(0, 0, rows)
            .into_primitive()
            .tensor()
    }

    pub fn nll_forward<B: Backend>(logits: FloatTensor<B>, targets: IntTensor<B>) -> (FloatTensor<B>, FloatTensor<B>) {
        let logp = activation::log_softmax(float::<B, 2>(logits), 1);
        let m = logp.dims()[0];
        let t = Tensor::<B, 1, Int>::from_primitive(targets).reshape([m, 1]);
        let nll = logp.clone().gather(1, t).reshape([m]).neg();
        (nll.into_primitive().tensor(), logp.into_primitive().tensor())
    }

    /// `saved` is the log-softmax.
    pub fn nll_backward<B: Backend>(
        _logits: FloatTensor<B>,
        targets: IntTensor<B>,
        logp: FloatTensor<B>,
        grad: FloatTensor<B>,
    ) -> FloatTensor<B> {
        let p = float::<B, 2>(logp).exp();
        let m = p.dims()[0];
        let g = float::<B, 1>(grad).reshape([m, 1]);
        let t = Tensor::<B, 1, Int>::from_primitive(targets).reshape([m, 1]);
        let dp = p * g.clone();
        dp.scatter(1, t, g.neg(), IndexingUpdateOp::Add)
            .into_primitive()
            .tensor()
    }
}

fn float<B: Backend, const D: usize>(x: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(x))
}

/// [`FusedOps::gate_rows`] on a tensor.
pub fn gate_rows<B: FusedOps>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    float(B::gate_rows(x.into_primitive().tensor()))
}

/// [`FusedOps::bias_rows`] on tensors.
pub fn bias_rows<B: FusedOps>(y: Tensor<B, 2>, bias: Tensor<B, 1>) -> Tensor<B, 2> {
    float(B::bias_rows(
        y.into_primitive().tensor(),
        bias.into_primitive().tensor(),
    ))
}

/// [`FusedOps::matmul_rows`] on tensors.
pub fn matmul_rows<B: FusedOps>(x: Tensor<B, 2>, w: Tensor<B, 2>) -> Tensor<B, 2> {
    float(B::matmul_rows(x.into_primitive().tensor(), w.into_primitive().tensor()))
}

/// [`FusedOps::gather_rows`] on tensors.
pub fn gather_rows<B: FusedOps>(x: Tensor<B, 2>, index: Tensor<B, 1, Int>, taps: usize) -> Tensor<B, 2> {
    float(B::gather_rows(
        x.into_primitive().tensor(),
        index.into_primitive(),
        taps,
    ))
}

/// [`FusedOps::nll_rows`] on tensors.
pub fn nll_rows<B: FusedOps>(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    float(B::nll_rows(logits.into_primitive().tensor(), targets.into_primitive()))
}

impl<B: FusedOps, C: CheckpointStrategy> FusedOps for Autodiff<B, C> {
    fn gate_rows(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Gate;

        impl<B: FusedOps> Backward<B, 1> for Gate {
            type State = FloatTensor<B>;

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
                let saved = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| B::gate_rows_backward(saved, grad));
            }
        }

        match Gate.prepare::<C>([x.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (y, saved) = B::gate_rows_forward(x.primitive);
                prep.finish(saved, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gate_rows(x.primitive)),
        }
    }

    fn bias_rows(y: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Bias;

        impl<B: FusedOps> Backward<B, 2> for Bias {
            type State = ();

            fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
                binary::<B, _, _>(ops.parents, ops.node, grads, |grad| grad, B::column_sums);
            }
        }

        Bias.prepare::<C>([y.node.clone(), bias.node.clone()])
            .compute_bound()
            .stateless(B::bias_rows(y.primitive, bias.primitive))
    }

    fn matmul_rows(x: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct MatMul;

        impl<B: FusedOps> Backward<B, 2> for MatMul {
            type State = (FloatTensor<B>, FloatTensor<B>);

            fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
                let (x, w) = ops.state;
                binary::<B, _, _>(
                    ops.parents,
                    ops.node,
                    grads,
                    |grad| B::matmul_rows(grad, B::float_swap_dims(w, 0, 1)),
                    |grad| B::matmul_rows(B::float_swap_dims(x, 0, 1), grad),
                );
            }
        }

        match MatMul
            .prepare::<C>([x.node.clone(), w.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::matmul_rows(x.primitive.clone(), w.primitive.clone());
                prep.finish((x.primitive, w.primitive), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::matmul_rows(x.primitive, w.primitive)),
        }
    }

    fn gather_rows(x: FloatTensor<Self>, index: IntTensor<Self>, taps: usize) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Gather;

        impl<B: FusedOps> Backward<B, 1> for Gather {
            /// The index, taps per row and the number of source rows.
            type State = (IntTensor<B>, usize, usize);

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
                let (index, taps, rows) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::gather_rows_backward(index, taps, rows, grad)
                });
            }
        }

        match Gather.prepare::<C>([x.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let rows = x.primitive.shape()[0];
                let y = B::gather_rows(x.primitive, index.clone(), taps);
                prep.finish((index, taps, rows), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gather_rows(x.primitive, index, taps)),
        }
    }

    fn nll_rows(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Nll;

        impl<B: FusedOps> Backward<B, 1> for Nll {
            type State = (FloatTensor<B>, IntTensor<B>, FloatTensor<B>);

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
                let (logits, targets, saved) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::nll_rows_backward(logits, targets, saved, grad)
                });
            }
        }

        match Nll.prepare::<C>([logits.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (nll, saved) = B::nll_rows_forward(logits.primitive.clone(), targets.clone());
                prep.finish((logits.primitive, targets, saved), nll)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::nll_rows(logits.primitive, targets)),
        }
    }
}

impl FusedOps for burn::backend::NdArray<f32> {}
impl FusedOps for burn::backend::NdArray<f64> {}
#[allow(deprecated)]
#[cfg(feature = "cuda")]
impl FusedOps for crate::backend::Cuda {}

/// The flex kernels: one pass over contiguous f32 rows each, in parallel over rows,
/// with branch-free `tanh` and `exp` ([`approx`]) that the compiler vectorises. Other
/// dtypes take the composed defaults.
mod flex {
    use super::approx::{exp, sigmoid, tanh};
    use super::{composed, FusedOps};
    use burn::backend::flex::{Flex, FlexTensor, Layout};
    use burn::tensor::ops::FloatTensorOps;
    use burn::tensor::{Bytes, DType, Shape};
    use rayon::prelude::*;
    use std::mem::MaybeUninit;

    /// Rows per rayon task: large enough that scheduling costs nothing.
    const ROWS_PER_TASK: usize = 256;

    /// Multiply-adds above which a matrix product is split over the rayon pool (burn
    /// flex's own threshold).
    const PARALLEL_GEMM: usize = 192 * 192 * 192;

    fn f32_rows(t: &FlexTensor) -> Option<(FlexTensor, usize, usize)> {
        let shape = t.layout().shape();
        if t.dtype() != DType::F32 || shape.num_dims() != 2 {
            return None;
        }
        let (n, k) = (shape[0], shape[1]);
        Some((t.to_contiguous(), n, k))
    }

    fn f32s(t: &FlexTensor) -> &[f32] {
        t.as_slice::<f32>().expect("a contiguous f32 tensor")
    }

    fn tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
        FlexTensor::new(Bytes::from_elems(values), Layout::contiguous(shape.into()), DType::F32)
    }

    /// A vector of `n` values that the caller writes completely through
    /// [`Vec::spare_capacity_mut`] before [`assume_written`] (no zeroing pass).
    fn output(n: usize) -> Vec<f32> {
        Vec::with_capacity(n)
    }

    fn spare(v: &mut Vec<f32>, n: usize) -> &mut [MaybeUninit<f32>] {
        &mut v.spare_capacity_mut()[..n]
    }

    /// # Safety
    /// Every one of the first `n` values of `v`'s spare capacity has been written.
    unsafe fn assume_written(mut v: Vec<f32>, n: usize) -> Vec<f32> {
        // SAFETY: the caller wrote all `n` values; capacity is at least `n`.
        unsafe { v.set_len(n) };
        v
    }

    /// Targets as indices; `None` for a dtype the kernels do not read.
    fn targets(t: &FlexTensor) -> Option<Vec<usize>> {
        let t = t.to_contiguous();
        match t.dtype() {
            DType::I32 => Some(t.as_slice::<i32>()?.iter().map(|&v| v as usize).collect()),
            DType::I64 => Some(t.as_slice::<i64>()?.iter().map(|&v| v as usize).collect()),
            _ => None,
        }
    }

    /// `max + ln(sum(exp(x - max)))` of one row, with 16 independent accumulators so
    /// the loops vectorise (a single f32 accumulator is one long dependency chain).
    fn log_sum_exp(x: &[f32]) -> f32 {
        const LANES: usize = 16;
        let (chunks, rest) = (x.chunks_exact(LANES), x.chunks_exact(LANES).remainder());
        let mut m = [f32::NEG_INFINITY; LANES];
        for c in chunks.clone() {
            for (m, &v) in m.iter_mut().zip(c) {
                *m = m.max(v);
            }
        }
        let max = m.iter().chain(rest).copied().fold(f32::NEG_INFINITY, f32::max);
        let mut acc = [0f32; LANES];
        for c in chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += exp(v - max);
            }
        }
        let sum: f32 = acc.iter().sum::<f32>() + rest.iter().map(|&v| exp(v - max)).sum::<f32>();
        max + sum.ln()
    }

    impl FusedOps for Flex {
        /// Saves `[tanh(a) | sigmoid(b)]` so the backward needs no transcendental.
        fn gate_rows_forward(x: FlexTensor) -> (FlexTensor, FlexTensor) {
            let Some((x, n, two_p)) = f32_rows(&x).filter(|(_, _, cols)| cols % 2 == 0) else {
                return composed::gate_forward::<Self>(x);
            };
            let p = two_p / 2;
            let xs = f32s(&x);
            let (mut y, mut ts) = (output(n * p), output(n * two_p));
            spare(&mut y, n * p)
                .par_chunks_mut(p * ROWS_PER_TASK)
                .zip(spare(&mut ts, n * two_p).par_chunks_mut(two_p * ROWS_PER_TASK))
                .zip(xs.par_chunks(two_p * ROWS_PER_TASK))
                .for_each(|((y, ts), xs)| {
                    for ((y, ts), x) in y.chunks_mut(p).zip(ts.chunks_mut(two_p)).zip(xs.chunks(two_p)) {
                        let (a, b) = x.split_at(p);
                        let (t_out, s_out) = ts.split_at_mut(p);
                        let outs = y.iter_mut().zip(t_out.iter_mut()).zip(s_out.iter_mut());
                        for (((y, t_out), s_out), (&a, &b)) in outs.zip(a.iter().zip(b)) {
                            let (t, s) = (tanh(a), sigmoid(b));
                            t_out.write(t);
                            s_out.write(s);
                            y.write(t * s);
                        }
                    }
                });
            // SAFETY: the loops above wrote every row of both outputs
            let (y, ts) = unsafe { (assume_written(y, n * p), assume_written(ts, n * two_p)) };
            (tensor(y, [n, p]), tensor(ts, [n, two_p]))
        }

        fn gate_rows_backward(saved: FlexTensor, grad: FlexTensor) -> FlexTensor {
            // a non-f32 forward took the composed path and saved its input
            let (Some((ts, n, two_p)), Some((g, _, p))) = (f32_rows(&saved), f32_rows(&grad)) else {
                return composed::gate_backward::<Self>(saved, grad);
            };
            debug_assert_eq!(two_p, 2 * p);
            let (ts, g) = (f32s(&ts), f32s(&g));
            let mut dx = output(n * two_p);
            spare(&mut dx, n * two_p)
                .par_chunks_mut(two_p * ROWS_PER_TASK)
                .zip(ts.par_chunks(two_p * ROWS_PER_TASK))
                .zip(g.par_chunks(p * ROWS_PER_TASK))
                .for_each(|((dx, ts), g)| {
                    for ((dx, ts), g) in dx.chunks_mut(two_p).zip(ts.chunks(two_p)).zip(g.chunks(p)) {
                        let (t, s) = ts.split_at(p);
                        let (da, db) = dx.split_at_mut(p);
                        for (((da, db), &g), (&t, &s)) in da.iter_mut().zip(db).zip(g).zip(t.iter().zip(s)) {
                            da.write(g * s * (1.0 - t * t));
                            db.write(g * t * s * (1.0 - s));
                        }
                    }
                });
            // SAFETY: every row written above
            tensor(unsafe { assume_written(dx, n * two_p) }, [n, two_p])
        }

        /// Straight into gemm, without zeroing the output first (gemm writes every value).
        fn matmul_rows(x: FlexTensor, w: FlexTensor) -> FlexTensor {
            let (xs, ws) = (x.layout().shape(), w.layout().shape());
            let plain = x.dtype() == DType::F32
                && w.dtype() == DType::F32
                && xs.num_dims() == 2
                && ws.num_dims() == 2
                && xs[1] == ws[0]
                && xs[1] > 0;
            if !plain {
                return Self::float_matmul(x, w);
            }
            let (m, k, n) = (xs[0], xs[1], ws[1]);
            let (xst, wst) = (x.layout().strides(), w.layout().strides());
            let ((x_rs, x_cs), (w_rs, w_cs)) = ((xst[0], xst[1]), (wst[0], wst[1]));
            // SAFETY: the offsets and strides are the views' own, inside their buffers
            let (x_ptr, w_ptr) = unsafe {
                (
                    x.storage::<f32>().as_ptr().add(x.layout().start_offset()),
                    w.storage::<f32>().as_ptr().add(w.layout().start_offset()),
                )
            };
            let parallelism = if m * n * k >= PARALLEL_GEMM {
                gemm::Parallelism::Rayon(0)
            } else {
                gemm::Parallelism::None
            };
            let mut out = output(m * n);
            // SAFETY: `out` has room for the `m x n` row-major result, which gemm writes
            // completely (`read_dst` false: dst = 1 * lhs @ rhs, never read)
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    out.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    x_ptr,
                    x_cs,
                    x_rs,
                    w_ptr,
                    w_cs,
                    w_rs,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    parallelism,
                );
            }
            // SAFETY: written by gemm above
            tensor(unsafe { assume_written(out, m * n) }, [m, n])
        }

        /// In place when the rows hold the only reference to their buffer (the fresh
        /// output of a matrix product), else into a new buffer.
        fn bias_rows(y: FlexTensor, bias: FlexTensor) -> FlexTensor {
            let shape = y.layout().shape();
            let b = bias.to_contiguous();
            let fits = y.dtype() == DType::F32
                && b.dtype() == DType::F32
                && shape.num_dims() == 2
                && b.layout().shape().num_elements() == shape[1];
            if !fits {
                return composed::bias_forward::<Self>(y, bias);
            }
            let (n, m) = (shape[0], shape[1]);
            let b = f32s(&b);
            let add = |rows: &mut [f32]| {
                for row in rows.chunks_mut(m) {
                    for (v, &b) in row.iter_mut().zip(b) {
                        *v += b;
                    }
                }
            };
            let mut y = {
                let contiguous = y.to_contiguous();
                drop(y); // so a fresh buffer is uniquely held
                contiguous
            };
            if let Some(ys) = y.try_storage_mut::<f32>() {
                ys.par_chunks_mut(m * ROWS_PER_TASK).for_each(add);
                return y;
            }
            let mut out = f32s(&y).to_vec();
            out.par_chunks_mut(m * ROWS_PER_TASK).for_each(add);
            tensor(out, [n, m])
        }

        fn column_sums(grad: FlexTensor) -> FlexTensor {
            let Some((g, _, m)) = f32_rows(&grad) else {
                return composed::column_sums::<Self>(grad);
            };
            // partial sums of fixed blocks of rows, added in block order: the same
            // result whatever the threads' scheduling (rayon's `reduce` is not)
            let partials: Vec<Vec<f32>> = f32s(&g)
                .par_chunks(m * ROWS_PER_TASK)
                .map(|rows| {
                    let mut acc = vec![0f32; m];
                    for row in rows.chunks(m) {
                        for (a, &v) in acc.iter_mut().zip(row) {
                            *a += v;
                        }
                    }
                    acc
                })
                .collect();
            let mut sums = vec![0f32; m];
            for p in partials {
                for (s, v) in sums.iter_mut().zip(p) {
                    *s += v;
                }
            }
            tensor(sums, [m])
        }

        /// One copy per tap, straight from the source rows (no zero row appended).
        fn gather_rows(x: FlexTensor, index: FlexTensor, taps: usize) -> FlexTensor {
            let (Some((src, n, c)), Some(idx)) = (f32_rows(&x), targets(&index)) else {
                return composed::gather_forward::<Self>(x, index, taps);
            };
            assert!(
                taps > 0 && idx.len() % taps == 0 && idx.iter().all(|&s| s <= n),
                "a gather index must hold whole rows of {taps} taps, each a source row in 0..={n}"
            );
            let (r, width) = (idx.len() / taps, taps * c);
            let xs = f32s(&src);
            let mut out = output(r * width);
            if c > 0 {
                spare(&mut out, r * width)
                    .par_chunks_mut(width * ROWS_PER_TASK)
                    .zip(idx.par_chunks(taps * ROWS_PER_TASK))
                    .for_each(|(out, idx)| {
                        for (dst, &s) in out.chunks_mut(c).zip(idx) {
                            if s == n {
                                dst.iter_mut().for_each(|d| {
                                    d.write(0.0);
                                });
                            } else {
                                for (d, &v) in dst.iter_mut().zip(&xs[s * c..(s + 1) * c]) {
                                    d.write(v);
                                }
                            }
                        }
                    });
            }
            // SAFETY: every (row, tap) block written above
            tensor(unsafe { assume_written(out, r * width) }, [r, width])
        }

        /// Each source row sums the columns that read it. A convolution's taps read a
        /// source row at most once each, so the sum runs over the inverse index in
        /// parallel over source rows, taps in descending order: for a shift kernel
        /// that is the ascending order of the reading positions, the order of the
        /// composed form's serial scatter-add. Other indices take that serial add.
        fn gather_rows_backward(index: FlexTensor, taps: usize, rows: usize, grad: FlexTensor) -> FlexTensor {
            let (Some((g, _, width)), Some(idx)) = (f32_rows(&grad), targets(&index)) else {
                return composed::gather_backward::<Self>(index, taps, rows, grad);
            };
            let c = width / taps;
            let gs = f32s(&g);
            let mut dx = vec![0f32; rows * c];
            const NONE: usize = usize::MAX;
            let mut inverse = vec![NONE; rows * taps];
            let mut injective = true;
            for (k, &s) in idx.iter().enumerate() {
                if s < rows {
                    let slot = &mut inverse[s * taps + k % taps];
                    if *slot != NONE {
                        injective = false;
                        break;
                    }
                    *slot = k;
                }
            }
            if c == 0 {
                return tensor(dx, [rows, c]);
            }
            if injective {
                dx.par_chunks_mut(c * ROWS_PER_TASK)
                    .zip(inverse.par_chunks(taps * ROWS_PER_TASK))
                    .for_each(|(dx, inverse)| {
                        for (dx, readers) in dx.chunks_mut(c).zip(inverse.chunks(taps)) {
                            for &k in readers.iter().rev().filter(|&&k| k != NONE) {
                                for (d, &v) in dx.iter_mut().zip(&gs[k * c..(k + 1) * c]) {
                                    *d += v;
                                }
                            }
                        }
                    });
            } else {
                for (k, &s) in idx.iter().enumerate().filter(|&(_, &s)| s < rows) {
                    for (d, &v) in dx[s * c..(s + 1) * c].iter_mut().zip(&gs[k * c..(k + 1) * c]) {
                        *d += v;
                    }
                }
            }
            tensor(dx, [rows, c])
        }

        /// Saves each row's log-sum-exp `[M]`.
        fn nll_rows_forward(logits: FlexTensor, targets_t: FlexTensor) -> (FlexTensor, FlexTensor) {
            let (Some((x, m, k)), Some(t)) = (f32_rows(&logits), targets(&targets_t)) else {
                return composed::nll_forward::<Self>(logits, targets_t);
            };
            assert!(
                t.len() == m && t.iter().all(|&v| v < k),
                "targets must be {m} values in 0..{k}"
            );
            let xs = f32s(&x);
            let (mut nll, mut lse) = (output(m), output(m));
            spare(&mut nll, m)
                .par_chunks_mut(ROWS_PER_TASK)
                .zip(spare(&mut lse, m).par_chunks_mut(ROWS_PER_TASK))
                .zip(xs.par_chunks(k * ROWS_PER_TASK))
                .zip(t.par_chunks(ROWS_PER_TASK))
                .for_each(|(((nll, lse), xs), t)| {
                    for (((nll, lse), x), &t) in nll.iter_mut().zip(lse.iter_mut()).zip(xs.chunks(k)).zip(t) {
                        let l = log_sum_exp(x);
                        lse.write(l);
                        nll.write(l - x[t]);
                    }
                });
            // SAFETY: one value per row written above
            let (nll, lse) = unsafe { (assume_written(nll, m), assume_written(lse, m)) };
            (tensor(nll, [m]), tensor(lse, [m]))
        }

        fn nll_rows_backward(
            logits: FlexTensor,
            targets_t: FlexTensor,
            saved: FlexTensor,
            grad: FlexTensor,
        ) -> FlexTensor {
            // the fast forward saved the log-sum-exp `[M]`; the composed one the
            // log-softmax `[M, K]`
            let rank = saved.layout().shape().num_dims();
            let (Some((x, m, k)), Some(t), 1) = (f32_rows(&logits), targets(&targets_t), rank) else {
                return composed::nll_backward::<Self>(logits, targets_t, saved, grad);
            };
            let (lse, g) = (saved.to_contiguous(), grad.to_contiguous());
            let (xs, lse, g) = (f32s(&x), f32s(&lse), f32s(&g));
            let mut dx = output(m * k);
            spare(&mut dx, m * k)
                .par_chunks_mut(k * ROWS_PER_TASK)
                .zip(xs.par_chunks(k * ROWS_PER_TASK))
                .zip(lse.par_chunks(ROWS_PER_TASK).zip(g.par_chunks(ROWS_PER_TASK)))
                .zip(t.par_chunks(ROWS_PER_TASK))
                .for_each(|(((dx, xs), (lse, g)), t)| {
                    for ((((dx, x), &lse), &g), &t) in dx.chunks_mut(k).zip(xs.chunks(k)).zip(lse).zip(g).zip(t) {
                        for (d, &v) in dx.iter_mut().zip(x) {
                            d.write(g * exp(v - lse));
                        }
                        // SAFETY: written just above
                        unsafe { *dx[t].assume_init_mut() -= g };
                    }
                });
            // SAFETY: every row written above
            tensor(unsafe { assume_written(dx, m * k) }, [m, k])
        }
    }
}

/// Branch-free f32 `tanh`, `sigmoid` and `exp` for the flex kernels: plain arithmetic
/// and bit operations, so loops over them compile to SIMD. Measured against f64 over
/// [-30, 30] (`approx_is_close_to_f64` below): tanh within 4.1e-7, sigmoid within
/// 2.4e-7 (absolute), exp within 8e-8 (relative).
#[allow(clippy::excessive_precision)] // coefficients as published
mod approx {
    /// Eigen's rational approximation (`generic_fast_tanh_float`): odd degree-13 over
    /// even degree-6 polynomial on `[-c, c]`, where `tanh` is `+-1` in f32 beyond.
    #[inline(always)]
    pub fn tanh(x: f32) -> f32 {
        const CLAMP: f32 = 7.905_311;
        const A: [f32; 7] = [
            -2.760_768_5e-16,
            2.000_187_9e-13,
            -8.604_672e-11,
            5.122_297e-8,
            1.485_722_4e-5,
            6.372_619_3e-4,
            4.893_524_6e-3,
        ];
        const B: [f32; 4] = [1.198_258_4e-6, 1.185_347_1e-4, 2.268_434_6e-3, 4.893_525_2e-3];
        let small = x.abs() < 4e-4;
        let xc = x.clamp(-CLAMP, CLAMP);
        let x2 = xc * xc;
        let mut p = A[0];
        for a in &A[1..] {
            p = p * x2 + a;
        }
        let mut q = B[0];
        for b in &B[1..] {
            q = q * x2 + b;
        }
        let t = xc * p / q;
        if small {
            x
        } else {
            t
        }
    }

    /// `1 / (1 + e^-x)` as `(1 + tanh(x/2)) / 2`.
    #[inline(always)]
    pub fn sigmoid(x: f32) -> f32 {
        0.5 + 0.5 * tanh(0.5 * x)
    }

    /// Cephes' `expf`: `2^n e^r` with `|r| <= ln2/2`, a degree-6 polynomial for `e^r`.
    /// Inputs below -87.3 give about 1e-38 instead of a subnormal or 0.
    #[inline(always)]
    pub fn exp(x: f32) -> f32 {
        const LOG2E: f32 = std::f32::consts::LOG2_E;
        const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
        let x = x.clamp(-87.3, 88.7);
        let n = (x * LOG2E + ROUND) - ROUND;
        let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
        let mut p = 1.987_569_1e-4;
        for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
            p = p * r + c;
        }
        let er = p * r * r + r + 1.0;
        er * f32::from_bits(((n as i32).wrapping_add(127) as u32) << 23)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn approx_is_close_to_f64() {
            let (mut tanh_err, mut sig_err, mut exp_rel) = (0f64, 0f64, 0f64);
            for i in -200_000..=200_000 {
                let x = i as f32 * 1e-4 * 1.5; // -30 ..= 30
                tanh_err = tanh_err.max((tanh(x) as f64 - (x as f64).tanh()).abs());
                sig_err = sig_err.max((sigmoid(x) as f64 - 1.0 / (1.0 + (-(x as f64)).exp())).abs());
                let e = (x as f64).exp();
                exp_rel = exp_rel.max((exp(x) as f64 - e).abs() / e);
            }
            for x in [-80.0f32, -50.0, -1e-6, 0.0, 1e-6, 50.0, 80.0] {
                let e = (x as f64).exp();
                exp_rel = exp_rel.max((exp(x) as f64 - e).abs() / e);
            }
            eprintln!("max errors: tanh {tanh_err:e} (abs), sigmoid {sig_err:e} (abs), exp {exp_rel:e} (rel)");
            assert!(tanh_err < 5e-7, "tanh: max abs error {tanh_err:e}");
            assert!(sig_err < 3e-7, "sigmoid: max abs error {sig_err:e}");
            assert!(exp_rel < 3e-7, "exp: max relative error {exp_rel:e}");
            assert_eq!(tanh(0.0), 0.0);
            assert_eq!(tanh(-100.0), -1.0);
            assert_eq!(sigmoid(100.0), 1.0);
        }
    }
}

/// An autodiff backend whose inner backend has the fused kernels too (training
/// differentiates through the fused ops; evaluation and sampling run them directly).
pub trait FusedAutodiff: burn::tensor::backend::AutodiffBackend<InnerBackend: FusedOps> + FusedOps {}

impl<B> FusedAutodiff for B where B: burn::tensor::backend::AutodiffBackend<InnerBackend: FusedOps> + FusedOps {}
