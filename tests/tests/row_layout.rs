//! Every model trains in row layout (`[B*H*W, C]`, each convolution a row gather and one
//! matrix product). These tests prove it the same function as the paper's form (2-D
//! convolutions on `[B, C, H, W]`) in f64 with the same weights: logits, the loss and
//! every parameter's gradient, for every variant (Gated, plain PixelCNN, auto-encoder).

use burn::backend::Autodiff;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData};
use pixelcnn_models::{nll_nats, Arch, CondInput, Condition, Conditioning, ModelSpec, PixelModel};
use pixelcnn_tests::all_variants;

type B = burn::backend::NdArray<f64>;
type AD = Autodiff<B>;

fn inputs<Bk: burn::tensor::backend::Backend>(
    spec: &ModelSpec,
    batch: usize,
    dev: &Bk::Device,
) -> (Tensor<Bk, 4>, Tensor<Bk, 4, Int>, Condition<Bk>) {
    let n = batch * spec.dims();
    let vals: Vec<i64> = (0..n).map(|k| ((k * 97 + 13) % 256) as i64).collect();
    let shape = [batch, spec.channels, spec.height, spec.width];
    let images = Tensor::from_data(TensorData::new(vals.iter().map(|&v| v as f64).collect(), shape), dev);
    let targets = Tensor::from_data(TensorData::new(vals, shape), dev);
    let cond = match spec.decoder_conditioning() {
        Conditioning::None => CondInput::None,
        Conditioning::Class { classes } => CondInput::Labels((0..batch).map(|k| (k % classes) as i64).collect()),
        Conditioning::Vector { dim } | Conditioning::Spatial { dim, .. } => CondInput::Vectors(
            (0..batch * dim).map(|k| ((k * 7) % 11) as f32 / 5.0 - 1.0).collect(),
            dim,
        ),
    };
    let cond = Condition::from_host(&cond, dev);
    // the auto-encoder scores images through its own encoder
    let cond = if spec.arch == Arch::Autoencoder {
        Condition::None
    } else {
        cond
    };
    (images, targets, cond)
}

fn max_diff(a: Vec<f64>, b: Vec<f64>) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[test]
fn row_forward_equals_the_convolution_form() {
    let dev = Default::default();
    for (name, spec) in all_variants() {
        let model = PixelModel::<B>::new(&spec, 5, &dev);
        let (images, targets, cond) = inputs::<B>(&spec, 3, &dev);
        let rows = model.forward(images.clone(), &cond);
        let reference = model.forward_reference(images.clone(), &cond);
        let d = max_diff(
            rows.into_data().to_vec().unwrap(),
            reference.clone().into_data().to_vec().unwrap(),
        );
        assert!(d < 1e-12, "{name}: logits differ by {d}");
        let nll = model.nll(images, targets.clone(), &cond);
        let nll_ref = nll_nats(reference, targets);
        let d = max_diff(nll.into_data().to_vec().unwrap(), nll_ref.into_data().to_vec().unwrap());
        assert!(d < 1e-9, "{name}: loss differs by {d}");
    }
}

/// Every parameter gradient, flattened in module order.
struct Grads<'a> {
    grads: &'a <AD as AutodiffBackend>::Gradients,
    out: Vec<Vec<f64>>,
}

impl ModuleVisitor<AD> for Grads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AD, D>>) {
        let g = param
            .val()
            .grad(self.grads)
            .map(|g| g.into_data().to_vec::<f64>().unwrap())
            .unwrap_or_default();
        self.out.push(g);
    }
}

fn gradients(model: &PixelModel<AD>, loss: Tensor<AD, 1>) -> Vec<Vec<f64>> {
    let grads = loss.sum().backward();
    let mut v = Grads {
        grads: &grads,
        out: Vec::new(),
    };
    model.visit(&mut v);
    v.out
}

#[test]
fn row_gradients_equal_the_convolution_form() {
    let dev = Default::default();
    for (name, spec) in all_variants() {
        let model = PixelModel::<AD>::new(&spec, 9, &dev);
        let (images, targets, cond) = inputs::<AD>(&spec, 2, &dev);
        let rows = gradients(&model, model.nll(images.clone(), targets.clone(), &cond));
        let reference = gradients(&model, nll_nats(model.forward_reference(images, &cond), targets));
        assert_eq!(rows.len(), reference.len());
        let mut nonzero = 0;
        for (k, (a, b)) in rows.into_iter().zip(reference).enumerate() {
            nonzero += a.iter().filter(|v| v.abs() > 1e-12).count();
            let d = max_diff(a, b);
            assert!(d < 1e-9, "{name}: gradient of parameter {k} differs by {d}");
        }
        assert!(nonzero > 0, "{name}: no gradient reached the parameters");
    }
}
