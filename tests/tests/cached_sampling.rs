//! The step graphs reproduce model.onnx at every step (teacher forcing), for every
//! variant that has them, on ONNX Runtime and tract; bad calls fail clearly. Same-seed
//! images and completion on every engine and mode: `sampling_matrix.rs`.

use ndarray::{ArrayD, IxDyn};
use pixelcnn_core::rng::image_seed;
use pixelcnn_models::backend::Cpu;
use pixelcnn_models::{Arch, Conditioning, ModelSpec, PixelModel, LEVELS};
use pixelcnn_runtime::sampler::{self, CachedSampler, CondInput, Mode, SampleRequest};
use pixelcnn_runtime::{EngineKind, Export, Graph, Input};
use pixelcnn_tests::{all_variants, inputs, tiny_spec, Inputs};

/// model.onnx logits for images + condition; for the auto-encoder, the decoder's
/// logits given `x.vectors` are not reachable through model.onnx, so its reference is
/// the burn decoder.
fn reference_logits(dir: &std::path::Path, model: &PixelModel<Cpu>, x: &Inputs) -> Vec<f32> {
    if model.spec.encoder.is_some() {
        use burn::tensor::{Tensor, TensorData};
        let s = &model.spec;
        let dev = Default::default();
        let f: Vec<f32> = x.images.iter().map(|&v| v as f32).collect();
        let img = Tensor::<Cpu, 4>::from_data(TensorData::new(f, [x.n, s.channels, s.height, s.width]), &dev);
        return model
            .forward(img, &pixelcnn_models::Condition::from_host(&x.cond(), &dev))
            .into_data()
            .to_vec()
            .unwrap();
    }
    pixelcnn_tests::onnx_outputs(dir, &EngineKind::Ort, x).0
}

#[test]
fn step_graphs_reproduce_the_full_network_at_every_step() {
    let dev = Default::default();
    let mut checked = 0;
    for (name, spec) in all_variants().into_iter().filter(|(_, s)| s.arch != Arch::Pixelcnn) {
        let model = PixelModel::<Cpu>::new(&spec, 21, &dev);
        let dir = tempfile::tempdir().unwrap();
        pixelcnn_exporter::export(&model, dir.path(), 17).unwrap();
        let x = inputs(&spec, 2, 4);
        let full = reference_logits(dir.path(), &model, &x);
        let export = Export::open(dir.path()).unwrap();
        let (c, h, w) = (spec.channels, spec.height, spec.width);
        for engine in [EngineKind::Ort, EngineKind::Tract] {
            let mut s = CachedSampler::new(&export, &engine, 2).unwrap();
            let mut worst = 0f32;
            let mut steps = 0;
            let mut choose = |i: usize, j: usize, ch: usize, logits: &[f32]| -> anyhow::Result<Vec<u8>> {
                for b in 0..2 {
                    let at = (((b * c + ch) * h + i) * w + j) * LEVELS;
                    let step = &logits[(b * c + ch) * LEVELS..(b * c + ch + 1) * LEVELS];
                    for (a, r) in step.iter().zip(&full[at..at + LEVELS]) {
                        worst = worst.max((a - r).abs());
                    }
                }
                steps += 1;
                Ok((0..2).map(|b| x.images[((b * c + ch) * h + i) * w + j]).collect())
            };
            let images = s.drive(&x.cond(), None, 0, &mut choose, &mut |_, _| {}).unwrap();
            assert_eq!(steps, c * h * w, "{name}: every sub-pixel is one step");
            assert_eq!(images, x.images, "{name}: teacher forcing reproduces the image");
            assert!(
                worst <= 1e-4,
                "{name} on {engine}: step logits differ from the full network by {worst}"
            );
            checked += 1;
        }
    }
    // gated x {gray, rgb} x 4 conditionings + 3 auto-encoders + 5 geometries, 2 engines
    assert_eq!(checked, 2 * 16);
}

fn request(spec: &ModelSpec, n: usize, seed: u64) -> SampleRequest {
    let x = inputs(spec, n, 3);
    SampleRequest {
        cond: x.cond(),
        seeds: (0..n).map(|b| image_seed(seed, b)).collect(),
        prefix: None,
        temperature: 1.0,
    }
}

#[test]
fn bad_sampling_calls_are_clear_errors() {
    let spec = tiny_spec(Arch::Gated, 1, Conditioning::Class { classes: 3 });
    let model = PixelModel::<Cpu>::new(&spec, 8, &Default::default());
    let dir = tempfile::tempdir().unwrap();
    pixelcnn_exporter::export(&model, dir.path(), 17).unwrap();
    let export = Export::open(dir.path()).unwrap();
    let mut s = sampler::open(&export, &EngineKind::Ort, Mode::Cached, 2).unwrap();
    let mut req = request(&spec, 2, 1);
    req.cond = CondInput::Labels(vec![0, 3]);
    let e = s.sample(&req, &mut |_, _| {}).unwrap_err().to_string();
    assert!(e.contains("label 3 is out of range 0..=2"), "{e}");
    req.cond = CondInput::None;
    let e = s.sample(&req, &mut |_, _| {}).unwrap_err().to_string();
    assert!(e.contains("conditioned on Class"), "{e}");
    // every engine validates the same way: ONNX Gather would read label -1 as the last class
    let mut tract = sampler::open(&export, &EngineKind::Tract, Mode::Cached, 2).unwrap();
    for (labels, want) in [
        (vec![0, -1], "label -1 is out of range 0..=2"),
        (vec![3, 0], "label 3 is out of range"),
    ] {
        req.cond = CondInput::Labels(labels);
        let e = tract.sample(&req, &mut |_, _| {}).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
    req.cond = CondInput::Labels(vec![0, 1]);
    req.temperature = 0.0;
    let e = tract.sample(&req, &mut |_, _| {}).unwrap_err().to_string();
    assert!(e.contains("temperature"), "{e}");
    req.temperature = 1.0;
    // wrong state shapes and missing inputs on the step graph itself
    let (contract, path) = export.graph("step_pixel").unwrap();
    let mut g = Graph::load(&EngineKind::Ort, &path, contract, 2).unwrap();
    let row = ArrayD::<u8>::zeros(IxDyn(&[2, 1, 8]));
    let col = ndarray::arr0(0i64).into_dyn();
    let ctx = ArrayD::<f32>::zeros(IxDyn(&[2, 7, 48]));
    let e = g
        .run(&[
            ("row", Input::U8(row.view())),
            ("col", Input::I64(col.view())),
            ("v_ctx", Input::F32(ctx.view())),
        ])
        .unwrap_err()
        .to_string();
    assert!(e.contains("`v_ctx` must have shape [2, 8, 48]"), "{e}");
    let ctx = ArrayD::<f32>::zeros(IxDyn(&[2, 8, 48]));
    let e = g
        .run(&[
            ("row", Input::U8(row.view())),
            ("col", Input::I64(col.view())),
            ("v_ctx", Input::F32(ctx.view())),
        ])
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing input `past_h.1`"), "{e}");
    // baseline models have no step graphs
    let base = PixelModel::<Cpu>::new(
        &tiny_spec(Arch::Pixelcnn, 1, Conditioning::None),
        1,
        &Default::default(),
    );
    let d2 = tempfile::tempdir().unwrap();
    pixelcnn_exporter::export(&base, d2.path(), 17).unwrap();
    let e = sampler::open(&Export::open(d2.path()).unwrap(), &EngineKind::Ort, Mode::Cached, 1)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("--mode naive"), "{e}");
}
