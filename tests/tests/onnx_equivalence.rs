//! model.onnx equals the burn model on ONNX Runtime and tract, for every variant, with
//! random and with trained weights; the exported graph is causal; bad calls are clear.

use ndarray::{ArrayD, IxDyn};
use pixelcnn_models::backend::Cpu;
use pixelcnn_models::{Arch, Conditioning, PixelModel};
use pixelcnn_runtime::{EngineKind, Export, Graph, Input};
use pixelcnn_tests::{all_variants, burn_outputs, inputs, max_abs_diff, onnx_outputs, tiny_spec, Inputs};

const TOL: f32 = 1e-4;

#[test]
fn every_variant_matches_burn_on_ort_and_tract() {
    let dev = Default::default();
    for (name, spec) in all_variants() {
        let model = PixelModel::<Cpu>::new(&spec, 11, &dev);
        let dir = tempfile::tempdir().unwrap();
        pixelcnn_exporter::export(&model, dir.path(), 17).unwrap();
        let x = inputs(&spec, 3, 5);
        let (bl, bb) = burn_outputs(&model, &x);
        for engine in [EngineKind::Ort, EngineKind::Tract] {
            let (ol, ob) = onnx_outputs(dir.path(), &engine, &x);
            let dl = max_abs_diff(&bl, &ol);
            let db = max_abs_diff(&bb, &ob);
            assert!(dl <= TOL, "{name} on {engine}: logits differ by {dl}");
            assert!(db <= TOL, "{name} on {engine}: bits_per_dim differ by {db}");
        }
    }
}

#[test]
fn exported_graph_is_causal_and_gated_has_no_blind_spot() {
    for (arch, channels) in [(Arch::Gated, 1), (Arch::Gated, 3), (Arch::Pixelcnn, 1)] {
        let mut spec = tiny_spec(arch, channels, Conditioning::Class { classes: 3 });
        spec.height = 6;
        spec.width = 6;
        spec.layers = 6;
        spec.first_kernel = 3;
        let model = PixelModel::<Cpu>::new(&spec, 2, &Default::default());
        let dir = tempfile::tempdir().unwrap();
        pixelcnn_exporter::export(&model, dir.path(), 17).unwrap();
        let d = spec.dims();
        let base = inputs(&spec, 1, 9);
        let mut x = inputs(&spec, d + 1, 9);
        x.labels = vec![base.labels[0]; d + 1];
        for t in 0..=d {
            x.images[t * d..(t + 1) * d].copy_from_slice(&base.images);
            if t > 0 {
                x.images[t * d + t - 1] = base.images[t - 1].wrapping_add(128);
            }
        }
        let (logits, _) = onnx_outputs(dir.path(), &EngineKind::Ort, &x);
        let (h, w) = (spec.height, spec.width);
        let order = |k: usize| ((k / w) % h * w + k % w) * channels + k / (h * w);
        let per = d * 256;
        let diff = |t: usize, s: usize| {
            (0..256)
                .map(|v| (logits[s * 256 + v] - logits[(t + 1) * per + s * 256 + v]).abs())
                .fold(0.0f32, f32::max)
        };
        for t in 0..d {
            for s in 0..d {
                if order(s) <= order(t) {
                    assert!(
                        diff(t, s) == 0.0,
                        "{arch:?} c{channels}: output {s} depends on input {t}"
                    );
                }
            }
        }
        if channels == 1 {
            let target = 4 * w + 1;
            let blind: Vec<usize> = (0..target).filter(|&t| diff(t, target) == 0.0).collect();
            match arch {
                Arch::Gated => assert!(blind.is_empty(), "gated graph blind to {blind:?}"),
                _ => assert!(
                    blind.contains(&(3 * w + 3)),
                    "baseline should be blind to (3,3): {blind:?}"
                ),
            }
        }
    }
}

#[test]
fn bad_calls_are_clear_errors() {
    let spec = tiny_spec(Arch::Gated, 1, Conditioning::Class { classes: 3 });
    let model = PixelModel::<Cpu>::new(&spec, 1, &Default::default());
    let dir = tempfile::tempdir().unwrap();
    pixelcnn_exporter::export(&model, dir.path(), 17).unwrap();
    let export = Export::open(dir.path()).unwrap();
    let (contract, path) = export.graph("model").unwrap();
    let mut g = Graph::load(&EngineKind::Ort, &path, contract, 2).unwrap();
    let img = ArrayD::<u8>::zeros(IxDyn(&[2, 1, 8, 8]));
    let err = g.run(&[("image", Input::U8(img.view()))]).unwrap_err().to_string();
    assert!(err.contains("missing input `label`"), "{err}");
    let lbl = ArrayD::<f32>::zeros(IxDyn(&[2]));
    let err = g
        .run(&[("image", Input::U8(img.view())), ("label", Input::F32(lbl.view()))])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`label` must be int64"), "{err}");
    let lbl = ArrayD::<i64>::zeros(IxDyn(&[3]));
    let err = g
        .run(&[("image", Input::U8(img.view())), ("label", Input::I64(lbl.view()))])
        .unwrap_err()
        .to_string();
    assert!(err.contains("shape [2]"), "{err}");
    let err = g
        .run(&[("image", Input::U8(img.view())), ("cond", Input::I64(lbl.view()))])
        .unwrap_err()
        .to_string();
    assert!(err.contains("unexpected input `cond`"), "{err}");
    let err = Export::open(tempfile::tempdir().unwrap().path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no model.onnx"), "{err}");
    let err = pixelcnn_exporter::export(&model, dir.path(), 9)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--opset 9"), "{err}");
}

#[test]
fn trained_checkpoint_matches_and_eval_agrees_with_onnx_bits_per_dim() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    assert!(
        root.join("data/mnist").exists(),
        "MNIST missing: run scripts/fetch-data.sh"
    );
    let mut cfg = pixelcnn_trainer::TrainConfig::load(&root.join("models/configs/tiny-class.yaml")).unwrap();
    cfg.data.path = root.join(&cfg.data.path);
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let opts = pixelcnn_trainer::FitOptions {
        out: run.clone(),
        resume: false,
        progress: false,
        workers: None,
        stop: Default::default(),
    };
    pixelcnn_trainer::fit::<burn::backend::Autodiff<Cpu>>(&cfg, &opts, &Default::default()).unwrap();
    let dev = Default::default();
    let model =
        pixelcnn_models::checkpoint::load_model::<Cpu>(&pixelcnn_models::checkpoint::latest(&run).unwrap(), &dev)
            .unwrap();
    let out = tmp.path().join("onnx");
    pixelcnn_exporter::export(&model, &out, 17).unwrap();

    // the same 24 test images through trainer eval and through model.onnx
    let test = cfg.load_split(false).unwrap();
    let n = 24;
    let eval = pixelcnn_trainer::eval::evaluate(&model, &test, Some(n), 8, &dev);
    let x = Inputs {
        n,
        images: test.images[..n * model.spec.dims()].to_vec(),
        labels: test.labels[..n].iter().map(|&l| l as i64).collect(),
        vectors: vec![],
        dim: 0,
    };
    let (bl, _) = burn_outputs(&model, &x);
    for engine in [EngineKind::Ort, EngineKind::Tract] {
        let (ol, ob) = onnx_outputs(&out, &engine, &x);
        let d = max_abs_diff(&bl, &ol);
        assert!(d <= TOL, "trained model on {engine}: logits differ by {d}");
        let mean = ob.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        assert!(
            (mean - eval.bits_per_dim).abs() <= 1e-4,
            "{engine}: ONNX mean bits/dim {mean} vs trainer eval {}",
            eval.bits_per_dim
        );
    }
}

#[test]
fn encoder_graph_equals_burns_encoder_on_both_engines() {
    let spatial = Conditioning::Spatial {
        dim: 4,
        map_channels: 2,
    };
    for (channels, cond) in [(1, Conditioning::None), (3, Conditioning::None), (1, spatial)] {
        let spec = tiny_spec(Arch::Autoencoder, channels, cond);
        let model = PixelModel::<Cpu>::new(&spec, 4, &Default::default());
        let dir = tempfile::tempdir().unwrap();
        pixelcnn_exporter::export(&model, dir.path(), 17).unwrap();
        let x = inputs(&spec, 3, 21);
        let shape = [3, spec.channels, spec.height, spec.width];
        let f: Vec<f32> = x.images.iter().map(|&v| v as f32).collect();
        let images =
            burn::tensor::Tensor::<Cpu, 4>::from_data(burn::tensor::TensorData::new(f, shape), &Default::default());
        let want: Vec<f32> = model.encode(images).unwrap().into_data().to_vec().unwrap();
        let export = Export::open(dir.path()).unwrap();
        for engine in [EngineKind::Ort, EngineKind::Tract] {
            let (contract, path) = export.graph("encoder").unwrap();
            let mut g = Graph::load(&engine, &path, contract, 3).unwrap();
            let img = ArrayD::from_shape_vec(IxDyn(&shape), x.images.clone()).unwrap();
            let got: Vec<f32> = g
                .run(&[("image", Input::U8(img.view()))])
                .unwrap()
                .remove(0)
                .iter()
                .copied()
                .collect();
            assert_eq!(got.len(), 3 * 4);
            let d = max_abs_diff(&got, &want);
            assert!(d < 1e-4, "c{channels} {engine}: encoder differs by {d}");
        }
    }
}

/// An export whose graphs would be larger than its largest file keeps their weights in
/// ONNX external data files of at most that size, listed in the contract; ONNX Runtime and
/// tract load them from beside the graph and compute exactly what the one-file export
/// does, and the cached samplers draw the same images. Exporting again with room for the
/// weights removes the data files.
#[test]
fn weights_in_external_data_files_give_the_same_outputs_on_every_runtime() {
    use pixelcnn_runtime::sampler::{self, Mode, SampleRequest};
    let spec = tiny_spec(Arch::Gated, 3, Conditioning::Class { classes: 3 });
    let model = PixelModel::<Cpu>::new(&spec, 5, &Default::default());
    let (whole, split) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    pixelcnn_exporter::export(&model, whole.path(), 17).unwrap();
    let max = 40 << 10;
    let options = pixelcnn_exporter::ExportOptions {
        opset: 17,
        max_file_bytes: max,
    };
    pixelcnn_exporter::export_with(&model, split.path(), &options).unwrap();

    let export = Export::open(split.path()).unwrap();
    let mut data_files = 0;
    for (role, g) in &export.contract.graphs {
        let inline = std::fs::metadata(whole.path().join(&g.file)).unwrap().len();
        if inline > max as u64 {
            assert!(!g.external_data.is_empty(), "{role}: {inline} bytes stay in {}", g.file);
        } else if inline < max as u64 / 2 {
            assert!(
                g.external_data.is_empty(),
                "{role}: {inline} bytes, yet {:?}",
                g.external_data
            );
        }
        for f in &g.external_data {
            assert!(f.starts_with(&format!("{}.data-", g.file)), "{role}: {f}");
            assert!(split.path().join(f).exists(), "{role}: {f} not written");
            data_files += 1;
        }
    }
    // this model: model.onnx (72 KB) in two data files, step_pixel.onnx (52 KB) in one,
    // step_row.onnx (22 KB) whole
    assert!(export.contract.graphs["model"].external_data.len() >= 2);
    assert!(export.contract.graphs["step_row"].external_data.is_empty());
    assert!(data_files >= 3, "{data_files} data files");
    for entry in std::fs::read_dir(split.path()).unwrap() {
        let entry = entry.unwrap();
        let len = entry.metadata().unwrap().len();
        assert!(len <= max as u64, "{:?}: {len} bytes", entry.file_name());
    }
    let whole_export = Export::open(whole.path()).unwrap();
    assert!(whole_export
        .contract
        .graphs
        .values()
        .all(|g| g.external_data.is_empty()));

    let x = inputs(&spec, 2, 7);
    for engine in [EngineKind::Ort, EngineKind::Tract] {
        assert_eq!(
            onnx_outputs(whole.path(), &engine, &x),
            onnx_outputs(split.path(), &engine, &x),
            "{engine}: model.onnx"
        );
        let req = SampleRequest {
            cond: x.cond(),
            seeds: vec![3, 4],
            prefix: None,
            temperature: 1.0,
        };
        let draw = |e: &Export| {
            sampler::open(e, &engine, Mode::Cached, 2)
                .unwrap()
                .sample(&req, &mut |_, _| {})
                .unwrap()
        };
        assert_eq!(draw(&whole_export), draw(&export), "{engine}: cached sampling");
    }

    // a limit below a single weight tensor: a clear error, and nothing written
    let small = tempfile::tempdir().unwrap();
    let options = pixelcnn_exporter::ExportOptions {
        opset: 17,
        max_file_bytes: 2048,
    };
    let err = pixelcnn_exporter::export_with(&model, small.path(), &options)
        .unwrap_err()
        .to_string();
    assert!(err.contains("more than the largest file allowed (2048 bytes)"), "{err}");
    assert_eq!(std::fs::read_dir(small.path()).unwrap().count(), 0);

    // room for everything: one file a graph again, no data file left behind
    pixelcnn_exporter::export(&model, split.path(), 17).unwrap();
    let left: Vec<_> = std::fs::read_dir(split.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".data-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(Export::open(split.path())
        .unwrap()
        .contract
        .graphs
        .values()
        .all(|g| g.external_data.is_empty()));
}
