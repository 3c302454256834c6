//! The fused gate, matrix product, bias and cross-entropy (`pixelcnn_models::fused`) against the composed
//! burn expressions they replace: values and input gradients, on the flex CPU backend
//! (its own one-pass kernels, f32) and on ndarray in f64 (the composed default kernels
//! behind the fused op's hand-written backward). The whole-model check, every
//! parameter's gradient in f64, is `row_layout.rs`.

use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{activation, Int, Tensor, TensorData};
use pixelcnn_models::fused::{bias_rows, gate_rows, gather_rows, matmul_rows, nll_rows, FusedOps};
use pixelcnn_models::gated::gate;
use pixelcnn_models::rows::{tap_rows, RowShape};

/// Deterministic values spread over `[-scale, scale]`, with some large ones so tanh
/// and sigmoid saturate.
fn values(n: usize, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|k| {
            let u = ((k as u64).wrapping_mul(2_654_435_761) % 10_007) as f64 / 10_007.0;
            let v = (2.0 * u - 1.0) * scale;
            if k % 97 == 0 {
                v * 8.0
            } else {
                v
            }
        })
        .collect()
}

fn float<B: Backend, const D: usize>(v: Vec<f64>, shape: [usize; D]) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(v, shape).convert::<B::FloatElem>(), &Default::default())
}

fn flat<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data().convert::<f64>().to_vec().unwrap()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Largest difference relative to the largest reference value: what f32 rounding and
/// the kernels' approximations (a few 1e-7, see `fused::approx`) allow.
fn rel_diff(a: &[f64], reference: &[f64]) -> f64 {
    max_diff(a, reference) / reference.iter().map(|v| v.abs()).fold(1.0, f64::max)
}

/// Gate output and input gradient (for a fixed upstream gradient), fused and composed.
fn gate_both<B: AutodiffBackend + FusedOps>(n: usize, p: usize) -> [(Vec<f64>, Vec<f64>); 2] {
    let x = values(n * 2 * p, 3.0);
    let up = float::<B, 2>(values(n * p, 1.0), [n, p]);
    let run = |fused: bool| {
        let x = float::<B, 2>(x.clone(), [n, 2 * p]).require_grad();
        let y = if fused { gate_rows(x.clone()) } else { gate(x.clone()) };
        let grads = (y.clone() * up.clone()).sum().backward();
        (flat(y), flat(x.grad(&grads).unwrap()))
    };
    [run(true), run(false)]
}

/// Per-row cross-entropy and logits gradient, fused and composed (log-softmax, gather).
fn nll_both<B: AutodiffBackend + FusedOps>(m: usize, k: usize) -> [(Vec<f64>, Vec<f64>); 2] {
    let logits = values(m * k, 6.0);
    let targets: Vec<i64> = (0..m).map(|i| ((i * 37 + 5) % k) as i64).collect();
    let up = float::<B, 1>(values(m, 1.0), [m]);
    let run = |fused: bool| {
        let x = float::<B, 2>(logits.clone(), [m, k]).require_grad();
        let t = Tensor::<B, 1, Int>::from_data(TensorData::new(targets.clone(), [m]), &Default::default());
        let nll = if fused {
            nll_rows(x.clone(), t)
        } else {
            activation::log_softmax(x.clone(), 1)
                .gather(1, t.reshape([m, 1]))
                .reshape([m])
                .neg()
        };
        let grads = (nll.clone() * up.clone()).sum().backward();
        (flat(nll), flat(x.grad(&grads).unwrap()))
    };
    [run(true), run(false)]
}

/// Rows plus bias (fused, or a broadcast add), and the gradients of rows and bias.
fn bias_both<B: AutodiffBackend + FusedOps>(n: usize, m: usize) -> [[Vec<f64>; 3]; 2] {
    let (y, b) = (values(n * m, 3.0), values(m, 1.0));
    let up = float::<B, 2>(values(n * m, 1.0), [n, m]);
    let run = |fused: bool| {
        let y = float::<B, 2>(y.clone(), [n, m]).require_grad();
        let b = float::<B, 1>(b.clone(), [m]).require_grad();
        // `y * 1` is a fresh buffer, as a matrix product's output is: the in-place path
        let fresh = y.clone() * 1.0;
        let out = if fused {
            bias_rows(fresh, b.clone())
        } else {
            fresh + b.clone().unsqueeze::<2>()
        };
        let grads = (out.clone() * up.clone()).sum().backward();
        [flat(out), flat(y.grad(&grads).unwrap()), flat(b.grad(&grads).unwrap())]
    };
    [run(true), run(false)]
}

/// `x @ w` (fused, or burn's matmul) and both gradients; `w` is used transposed, a
/// strided view, as the backward pass's operands are.
fn matmul_both<B: AutodiffBackend + FusedOps>(n: usize, k: usize, m: usize) -> [[Vec<f64>; 3]; 2] {
    let (x, w) = (values(n * k, 2.0), values(m * k, 1.0));
    let up = float::<B, 2>(values(n * m, 1.0), [n, m]);
    let run = |fused: bool| {
        let x = float::<B, 2>(x.clone(), [n, k]).require_grad();
        let w = float::<B, 2>(w.clone(), [m, k]).require_grad();
        let y = if fused {
            matmul_rows(x.clone(), w.clone().transpose())
        } else {
            x.clone().matmul(w.clone().transpose())
        };
        let grads = (y.clone() * up.clone()).sum().backward();
        [flat(y), flat(x.grad(&grads).unwrap()), flat(w.grad(&grads).unwrap())]
    };
    [run(true), run(false)]
}

/// The taps of `index` gathered (fused, or a zero row appended and burn's select) and
/// the source rows' gradient, for `n` source rows of `c` features.
fn gather_both<B: AutodiffBackend + FusedOps>(
    index: &[i64],
    taps: usize,
    n: usize,
    c: usize,
) -> [(Vec<f64>, Vec<f64>); 2] {
    let r = index.len() / taps;
    let x = values(n * c, 2.0);
    let up = float::<B, 2>(values(r * taps * c, 1.0), [r, taps * c]);
    let run = |fused: bool| {
        let x = float::<B, 2>(x.clone(), [n, c]).require_grad();
        let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(index.to_vec(), [index.len()]), &Default::default());
        let y = if fused {
            gather_rows(x.clone(), idx, taps)
        } else {
            Tensor::cat(vec![x.clone(), Tensor::zeros([1, c], &Default::default())], 0)
                .select(0, idx)
                .reshape([r, taps * c])
        };
        let grads = (y.clone() * up.clone()).sum().backward();
        (flat(y), flat(x.grad(&grads).unwrap()))
    };
    [run(true), run(false)]
}

/// The tap index of a `kh x kw` kernel padded `top`, `left` on `shape`, and its source rows.
fn taps_of(shape: RowShape, kh: usize, kw: usize, top: usize, left: usize) -> (Vec<i64>, usize, usize) {
    (tap_rows(shape, kh, kw, top, left), kh * kw, shape.rows())
}

#[test]
fn flex_gather_kernels_match_a_select_with_a_zero_row() {
    let shape = |batch, height, width| RowShape { batch, height, width };
    // the gated layers' vertical (2x3 over the rows above), horizontal (1x2) and shift-down
    // taps, the 7x7 first layer's 4x7, on MNIST-sized images and on images narrower than
    // their kernel; then an index that reads a row twice in one tap (the serial path)
    let cases = [
        (taps_of(shape(3, 28, 28), 2, 3, 1, 1), 64),
        (taps_of(shape(3, 28, 28), 1, 2, 0, 1), 32),
        (taps_of(shape(3, 28, 28), 1, 1, 1, 0), 128),
        (taps_of(shape(2, 28, 28), 4, 7, 3, 3), 3),
        (taps_of(shape(2, 3, 2), 4, 7, 3, 3), 5),
        ((vec![0, 1, 1, 2, 3, 3, 1, 0], 2, 3), 4),
    ];
    for ((index, taps, n), c) in cases {
        let [(y, dx), (y_ref, dx_ref)] = gather_both::<Autodiff<Flex>>(&index, taps, n, c);
        assert_eq!(y, y_ref, "{taps} taps: the gathered columns differ");
        let d = rel_diff(&dx, &dx_ref);
        assert!(
            d < 1e-6,
            "{taps} taps: the source rows' gradient differs by {d:e} (relative)"
        );
        // every source row read by some tap has a non-zero gradient somewhere
        assert!(dx.iter().any(|&v| v != 0.0));
    }
}

#[test]
fn flex_matmul_kernel_matches_burns_matmul() {
    // large enough to take gemm's parallel path, and a small one
    for (n, k, m) in [(3000, 96, 64), (7, 5, 3)] {
        let [fused, composed] = matmul_both::<Autodiff<Flex>>(n, k, m);
        for (what, (a, b)) in ["product", "rows' gradient", "matrix gradient"]
            .iter()
            .zip(fused.iter().zip(&composed))
        {
            let d = rel_diff(a, b);
            assert!(d < 1e-6, "{n}x{k}x{m}: {what} differs by {d:e} (relative)");
        }
    }
}

#[test]
fn flex_bias_kernels_match_a_broadcast_add() {
    // 1000 rows: several rayon tasks and a partial last one
    let (n, m) = (1000, 24);
    let [fused, composed] = bias_both::<Autodiff<Flex>>(n, m);
    for (what, (a, b)) in ["output", "rows' gradient"].iter().zip(fused.iter().zip(&composed)) {
        let d = rel_diff(a, b);
        assert!(d < 1e-6, "bias {what} differs by {d:e} (relative)");
    }
    // the bias gradient is a sum over 1000 rows, in another order than burn's: both
    // against the exact sum, within f32 summation error
    let up = values(n * m, 1.0);
    for col in 0..m {
        let terms = (0..n).map(|r| up[r * m + col]);
        let (exact, magnitude) = terms.fold((0.0, 0.0), |(s, a), v| (s + v, a + v.abs()));
        for (what, got) in [("fused", fused[2][col]), ("composed", composed[2][col])] {
            let err = (got - exact).abs();
            assert!(err < 1e-6 * magnitude, "{what} bias gradient {col}: error {err:e}");
        }
    }
    // a shared input is not overwritten: the kernel adds into a copy
    let y = float::<Flex, 2>(values(6, 1.0), [3, 2]);
    let b = float::<Flex, 1>(vec![1.0, 2.0], [2]);
    let before = flat(y.clone());
    let out = flat(bias_rows(y.clone(), b));
    assert_eq!(flat(y), before);
    assert!((out[1] - before[1] - 2.0).abs() < 1e-6);
}

#[test]
fn flex_gate_kernels_match_the_composed_gate() {
    // 1000 rows: several rayon tasks and a partial last one
    let [(y, dx), (y_ref, dx_ref)] = gate_both::<Autodiff<Flex>>(1000, 32);
    let (dy, dg) = (rel_diff(&y, &y_ref), rel_diff(&dx, &dx_ref));
    assert!(dy < 1e-6, "gate output differs by {dy:e} (relative)");
    assert!(dg < 1e-6, "gate gradient differs by {dg:e} (relative)");
}

#[test]
fn flex_cross_entropy_kernels_match_log_softmax_and_gather() {
    let [(nll, dx), (nll_ref, dx_ref)] = nll_both::<Autodiff<Flex>>(700, 256);
    let (dn, dg) = (rel_diff(&nll, &nll_ref), rel_diff(&dx, &dx_ref));
    assert!(dn < 1e-6, "cross-entropy differs by {dn:e} (relative)");
    assert!(dg < 1e-6, "cross-entropy gradient differs by {dg:e} (relative)");
}

#[test]
fn fused_backward_equals_autodiff_of_the_composed_form_in_f64() {
    type B = Autodiff<burn::backend::NdArray<f64>>;
    let [(y, dx), (y_ref, dx_ref)] = gate_both::<B>(50, 8);
    assert!(max_diff(&y, &y_ref) < 1e-14 && max_diff(&dx, &dx_ref) < 1e-14);
    let [fused, composed] = bias_both::<B>(30, 5);
    assert_eq!(fused, composed);
    let [fused, composed] = matmul_both::<B>(30, 6, 4);
    assert_eq!(fused, composed);
    let (index, taps, n) = taps_of(
        RowShape {
            batch: 2,
            height: 5,
            width: 4,
        },
        2,
        3,
        1,
        1,
    );
    let [fused, composed] = gather_both::<B>(&index, taps, n, 3);
    assert_eq!(fused, composed);
    let [(nll, dx), (nll_ref, dx_ref)] = nll_both::<B>(40, 256);
    assert!(max_diff(&nll, &nll_ref) < 1e-12, "{:e}", max_diff(&nll, &nll_ref));
    assert!(max_diff(&dx, &dx_ref) < 1e-14, "{:e}", max_diff(&dx, &dx_ref));
}

#[test]
fn fused_ops_run_without_autodiff() {
    // evaluation and sampling call the kernels directly (no graph node)
    let x = float::<Flex, 2>(values(10 * 8, 2.0), [10, 8]);
    let y = flat(gate_rows(x.clone()));
    let y_ref = flat(gate(x));
    assert!(rel_diff(&y, &y_ref) < 1e-6);
}
