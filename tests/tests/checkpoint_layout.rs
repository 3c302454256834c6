//! Checkpoints in the older weights layouts (`model.bin`: the decoder as two options;
//! `weights.bin`: each conditioning projection as two options), the shipped ones among
//! them, load into today's `PixelModel` with the same values and the same parameter ids
//! (so their optimizer state still applies on `--resume`) and score as the code that
//! wrote them did; weights that do not fit their `spec.json` are an error, never a panic.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use burn::backend::Autodiff;
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::AdamConfig;
use burn::tensor::Tensor;
use pixelcnn_models::backend::Cpu;
use pixelcnn_models::checkpoint::{self, MODEL_FILE, MODEL_FILE_V1, MODEL_FILE_V2};
use pixelcnn_models::{Arch, Conditioning, Decoder, PixelModel};
use pixelcnn_runtime::EngineKind;
use pixelcnn_tests::{burn_outputs, inputs, max_abs_diff, onnx_outputs, tiny_spec, Inputs};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The latest checkpoint of every committed run under `models/pretrained`.
fn shipped() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for model in std::fs::read_dir(root().join("models/pretrained")).unwrap() {
        for run in std::fs::read_dir(model.unwrap().path()).unwrap() {
            let run = run.unwrap().path();
            if run.join(checkpoint::CHECKPOINTS).is_dir() {
                out.push(checkpoint::latest(&run).unwrap());
            }
        }
    }
    out.sort();
    out
}

#[derive(Default)]
struct Params {
    ids: Vec<ParamId>,
    values: Vec<Vec<f32>>,
}

impl<B: burn::tensor::backend::Backend> ModuleVisitor<B> for Params {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.ids.push(param.id);
        self.values
            .push(param.val().into_data().convert::<f32>().to_vec().unwrap());
    }
}

fn params<B: burn::tensor::backend::Backend>(m: &PixelModel<B>) -> Params {
    let mut p = Params::default();
    m.visit(&mut p);
    p
}

#[test]
fn shipped_checkpoints_load_with_their_optimizer_state() {
    let found = shipped();
    assert!(found.len() >= 5, "expected the shipped runs, found {found:?}");
    type AD = Autodiff<Cpu>;
    let dev = Default::default();
    // in any weights layout (the older ones through pixelcnn_models::legacy)
    for ckpt in found {
        let model = checkpoint::load_model::<AD>(&ckpt, &dev).unwrap();
        let arch = model.spec.arch;
        assert_eq!(
            matches!(model.decoder, Decoder::Gated(_)),
            arch != Arch::Pixelcnn,
            "{}: decoder does not match {arch:?}",
            ckpt.display()
        );
        // every parameter keeps the id the optimizer state is keyed by
        let optim = AdamConfig::new().init::<AD, PixelModel<AD>>();
        let bytes = checkpoint::read_file(&ckpt, "optim.bin").unwrap();
        let optim = burn::optim::Optimizer::load_record(optim, checkpoint::record_from_bytes(bytes, &dev).unwrap());
        let keys: HashSet<ParamId> = burn::optim::Optimizer::to_record(&optim).into_keys().collect();
        let ids: HashSet<ParamId> = params(&model).ids.into_iter().collect();
        assert_eq!(keys, ids, "{}: optimizer state for other parameters", ckpt.display());
    }
}

/// The shipped `name`'s checkpoint, in the layout of `file`, scores as its `model.onnx`
/// (exported by that layout's code) and, written again, is in today's layout with the
/// same parameters.
fn scores_as_its_export_and_resaves_in_todays_layout(name: &str, file: &str) {
    let ckpt = checkpoint::latest(&root().join("models/pretrained").join(name).join("run")).unwrap();
    assert!(
        ckpt.join(file).exists(),
        "the shipped {name} checkpoint is the {file} fixture"
    );
    let dev = Default::default();
    let model = checkpoint::load_model::<Cpu>(&ckpt, &dev).unwrap();
    let x = inputs(&model.spec, 2, 3);
    let (want, _) = onnx_outputs(&root().join("models/pretrained").join(name), &EngineKind::Ort, &x);
    let (got, _) = burn_outputs(&model, &x);
    let diff = max_abs_diff(&got, &want);
    assert!(diff <= 1e-4, "{name}: logits differ from the export by {diff}");
    let tmp = tempfile::tempdir().unwrap();
    let again = checkpoint::write_atomic(tmp.path(), "step-000000001", &checkpoint::model_files(&model)).unwrap();
    assert!(again.join(MODEL_FILE).exists() && !again.join(file).exists());
    let reloaded = checkpoint::load_model::<Cpu>(&again, &dev).unwrap();
    let (a, b) = (params(&model), params(&reloaded));
    assert!(
        a.values == b.values && a.ids == b.ids,
        "{name}: parameters changed on resave"
    );
}

#[test]
fn a_v1_checkpoint_scores_as_its_export_and_resaves_in_todays_layout() {
    scores_as_its_export_and_resaves_in_todays_layout("mnist-gated", MODEL_FILE_V1);
}

#[test]
fn a_v2_class_checkpoint_scores_as_its_export_and_resaves_in_todays_layout() {
    scores_as_its_export_and_resaves_in_todays_layout("mnist-class", MODEL_FILE_V2);
}

/// Spatial projections (1x1 convolutions) of the V2 layout: a tiny spatially conditioned
/// checkpoint written by that layout's trainer scores the bits/dim its `trainer eval` gave.
#[test]
fn a_v2_spatial_checkpoint_scores_as_the_code_that_wrote_it() {
    let dir = root().join("tests/fixtures/checkpoint-v2-spatial");
    let ckpt = checkpoint::latest(&dir).unwrap();
    assert!(ckpt.join(MODEL_FILE_V2).exists());
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let n = expected["images"].as_u64().unwrap() as usize;
    let model = checkpoint::load_model::<Cpu>(&ckpt, &Default::default()).unwrap();
    assert!(matches!(model.spec.conditioning, Conditioning::Spatial { .. }));
    let mnist = pixelcnn_core::idx::read_images(&root().join("data/mnist/t10k-images-idx3-ubyte")).unwrap();
    let (vectors, rows, dim) = pixelcnn_core::npy::read_matrix(&dir.join("test-vectors.npy")).unwrap();
    assert_eq!(rows, n);
    let mut x = Inputs {
        n,
        images: mnist.pixels[..n * model.spec.dims()].to_vec(),
        labels: vec![],
        vectors,
        dim,
    };
    let mean = |x: &Inputs| burn_outputs(&model, x).1.iter().map(|&b| b as f64).sum::<f64>() / n as f64;
    let (got, want) = (mean(&x), expected["bits_per_dim"].as_f64().unwrap());
    assert!(
        (got - want).abs() <= 1e-5,
        "bits/dim {got}, the V2 code's trainer eval gave {want}"
    );
    // the conditioning is live in this comparison: other vectors score otherwise
    x.vectors.iter_mut().for_each(|v| *v = -*v);
    let other = mean(&x);
    assert!(
        (other - want).abs() > 1e-3,
        "negated vectors score {other}, the same as {want}"
    );
}

#[test]
fn weights_that_do_not_fit_the_spec_are_an_error() {
    let dev = Default::default();
    let gated = PixelModel::<Cpu>::new(&tiny_spec(Arch::Gated, 1, Conditioning::None), 1, &dev);
    let tmp = tempfile::tempdir().unwrap();
    let files = checkpoint::model_files(&gated);
    let with_spec = |name: &str, spec: &pixelcnn_models::ModelSpec| {
        let mut files = files.clone();
        files[0].1 = spec.to_json().into_bytes();
        checkpoint::write_atomic(tmp.path(), name, &files).unwrap()
    };
    let mut plain = gated.spec.clone();
    plain.arch = Arch::Pixelcnn;
    let err = checkpoint::load_model::<Cpu>(&with_spec("a", &plain), &dev)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(MODEL_FILE) && err.contains("a gated decoder") && err.contains("a plain decoder"),
        "{err}"
    );
    let mut wider = gated.spec.clone();
    wider.hidden *= 2;
    let err = checkpoint::load_model::<Cpu>(&with_spec("b", &wider), &dev)
        .unwrap_err()
        .to_string();
    assert!(err.contains(MODEL_FILE) && err.contains("does not fit"), "{err}");
    let mut deeper = gated.spec.clone();
    deeper.layers += 1;
    let err = checkpoint::load_model::<Cpu>(&with_spec("c", &deeper), &dev)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not fit"), "{err}");
    let class = tiny_spec(Arch::Gated, 1, Conditioning::Class { classes: 3 });
    let err = checkpoint::load_model::<Cpu>(&with_spec("d", &class), &dev)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not fit"), "{err}");
    // a class model's weights (matrix projections) under a spatial spec (1x1 convolutions)
    let class_files = checkpoint::model_files(&PixelModel::<Cpu>::new(&class, 1, &dev));
    let mut spatial = class.clone();
    spatial.conditioning = Conditioning::Spatial {
        dim: 3,
        map_channels: 2,
    };
    let mut files = class_files.clone();
    files[0].1 = spatial.to_json().into_bytes();
    let dir = checkpoint::write_atomic(tmp.path(), "e", &files).unwrap();
    let err = checkpoint::load_model::<Cpu>(&dir, &dev).unwrap_err().to_string();
    assert!(
        err.contains("does not fit") && err.contains("1x1 convolutions"),
        "{err}"
    );
}
