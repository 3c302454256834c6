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

/// The latest checkpoint of every committed run: `models/pretrained/NAME/run` and the runs in
/// progress, `models/training/NAME`, that carry one.
fn shipped() -> Vec<PathBuf> {
    let mut runs = Vec::new();
    for model in std::fs::read_dir(root().join("models/pretrained")).unwrap() {
        for run in std::fs::read_dir(model.unwrap().path()).unwrap() {
            runs.push(run.unwrap().path());
        }
    }
    for run in std::fs::read_dir(root().join("models/training")).unwrap() {
        runs.push(run.unwrap().path());
    }
    let mut out: Vec<PathBuf> = runs
        .into_iter()
        .filter(|run| run.join(checkpoint::CHECKPOINTS).is_dir())
        .map(|run| checkpoint::latest(&run).unwrap())
        .collect();
    out.sort();
    out
}

/// Every float parameter's id and values, in module order.
#[derive(Default)]
pub(crate) struct Params {
    pub(crate) ids: Vec<ParamId>,
    pub(crate) values: Vec<Vec<f32>>,
}

impl<B: burn::tensor::backend::Backend> ModuleVisitor<B> for Params {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.ids.push(param.id);
        self.values
            .push(param.val().into_data().convert::<f32>().to_vec().unwrap());
    }
}

pub(crate) fn params<B: burn::tensor::backend::Backend>(m: &PixelModel<B>) -> Params {
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

/// Written again, a loaded model is in today's layout and loads to the same parameters.
fn resaves_in_todays_layout(model: &PixelModel<Cpu>, what: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let again = checkpoint::write_atomic(tmp.path(), "step-000000001", &checkpoint::model_files(model)).unwrap();
    assert!(
        checkpoint::has_file(&again, MODEL_FILE)
            && !checkpoint::has_file(&again, MODEL_FILE_V1)
            && !checkpoint::has_file(&again, MODEL_FILE_V2),
        "{what}: not in today's layout"
    );
    let reloaded = checkpoint::load_model::<Cpu>(&again, &Default::default()).unwrap();
    let (a, b) = (params(model), params(&reloaded));
    assert!(
        a.values == b.values && a.ids == b.ids,
        "{what}: parameters changed on resave"
    );
}

/// Every shipped checkpoint, whatever its layout, scores as the `model.onnx` exported
/// from it (where the model ships one), and resaves in today's layout.
#[test]
fn shipped_checkpoints_score_as_their_exports_and_resave_in_todays_layout() {
    let mut exports = 0;
    for ckpt in shipped() {
        let model = checkpoint::load_model::<Cpu>(&ckpt, &Default::default()).unwrap();
        let export = ckpt.ancestors().nth(3).unwrap();
        if export.join("model.onnx").exists() {
            let x = inputs(&model.spec, 2, 3);
            let (want, _) = onnx_outputs(export, &EngineKind::Ort, &x);
            let (got, _) = burn_outputs(&model, &x);
            let diff = max_abs_diff(&got, &want);
            assert!(
                diff <= 1e-4,
                "{}: logits differ from the export by {diff}",
                ckpt.display()
            );
            exports += 1;
        }
        resaves_in_todays_layout(&model, &ckpt.display().to_string());
    }
    assert!(exports >= 4, "only {exports} shipped exports compared");
}

/// Checkpoints in each older layout (`tests/fixtures/checkpoint-*`: V1 gated, V2 class,
/// V2 spatial) score the bits/dim that the code of their layout gave on the first MNIST
/// test images (`expected.json` says how it was measured), and resave in today's layout.
#[test]
fn older_layouts_score_as_the_code_that_wrote_them() {
    let mnist = pixelcnn_core::idx::read_images(&root().join("data/mnist/t10k-images-idx3-ubyte")).unwrap();
    let labels = std::fs::read(root().join("data/mnist/t10k-labels-idx1-ubyte")).unwrap();
    let mut layouts = HashSet::new();
    for name in ["checkpoint-v1-gated", "checkpoint-v2-class", "checkpoint-v2-spatial"] {
        let dir = root().join("tests/fixtures").join(name);
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
        let ckpt = checkpoint::latest(&dir).unwrap();
        let layout = expected["layout"].as_str().unwrap();
        assert!(ckpt.join(layout).exists(), "{name}: no {layout}");
        layouts.insert(layout.to_string());
        let n = expected["images"].as_u64().unwrap() as usize;
        let model = checkpoint::load_model::<Cpu>(&ckpt, &Default::default()).unwrap();
        let (vectors, dim) = match model.spec.conditioning {
            Conditioning::Spatial { .. } => {
                let (v, rows, dim) = pixelcnn_core::npy::read_matrix(&dir.join("test-vectors.npy")).unwrap();
                assert_eq!(rows, n);
                (v, dim)
            }
            _ => (vec![], 0),
        };
        let class = matches!(model.spec.conditioning, Conditioning::Class { .. });
        let mut x = Inputs {
            n,
            images: mnist.pixels[..n * model.spec.dims()].to_vec(),
            labels: if class {
                labels[8..8 + n].iter().map(|&l| l as i64).collect()
            } else {
                vec![]
            },
            vectors,
            dim,
        };
        let mean = |x: &Inputs| burn_outputs(&model, x).1.iter().map(|&b| b as f64).sum::<f64>() / n as f64;
        let (got, want) = (mean(&x), expected["bits_per_dim"].as_f64().unwrap());
        assert!(
            (got - want).abs() <= 1e-5,
            "{name}: bits/dim {got}, the code of its layout gave {want}"
        );
        // where there is conditioning, it is live in this comparison: another one scores otherwise
        if model.spec.conditioning != Conditioning::None {
            x.labels.iter_mut().for_each(|l| *l = (*l + 1) % 10);
            x.vectors.iter_mut().for_each(|v| *v = -*v);
            let other = mean(&x);
            assert!(
                (other - want).abs() > 1e-3,
                "{name}: another condition scores {other}, the same as {want}"
            );
        }
        resaves_in_todays_layout(&model, name);
    }
    assert_eq!(
        layouts,
        HashSet::from([MODEL_FILE_V1.to_string(), MODEL_FILE_V2.to_string()])
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
