//! Every (variant x engine x mode x task) combination of the runtime's samplers is its
//! own test, so `cargo test` names exactly what fails: `gated_c3_class::tract::cached::complete`.
//!
//! - `sample`: the variant's own conditioning (label, vector, spatial vector, auto-encoder
//!   code) drawn with a fixed seed must equal burn's full-network sampler with the same
//!   seed (a different seed must not), so every engine and mode draws the same image.
//! - `complete`: the top rows are kept exactly and the rest equals ONNX Runtime's naive
//!   completion (the auto-encoder, which has no naive decoder graph: ONNX Runtime's cached
//!   one, and on ONNX Runtime itself a check that the rest was drawn).
//! - Combinations a model does not have (cached sampling of the plain PixelCNN, naive
//!   sampling of the auto-encoder's decoder) must be a clear error saying which mode to use.
//!
//! The cached sampler is one loop over engine-owned values: on ONNX Runtime its states
//! stay where the execution provider keeps them (IoBinding), which on a GPU provider is
//! device memory; these tests run that same code on the CPU provider.

use pixelcnn_models::backend::Cpu;
use pixelcnn_models::{Arch, Condition, Conditioning, ModelSpec, PixelModel};
use pixelcnn_runtime::sampler::{self, CondInput, Mode, SampleRequest};
use pixelcnn_runtime::{EngineKind, Export};
use pixelcnn_tests::{all_variants, inputs};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Task {
    Sample,
    Complete,
}

const N: usize = 2;
const SEED: u64 = 41;
const KEPT_ROWS: usize = 3;

fn spec_of(name: &str) -> ModelSpec {
    all_variants()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no variant {name}"))
        .1
}

fn seeds(base: u64) -> Vec<u64> {
    (0..N).map(|k| pixelcnn_core::rng::image_seed(base, k)).collect()
}

fn draw(export: &Export, engine: &EngineKind, mode: Mode, req: &SampleRequest) -> anyhow::Result<Vec<u8>> {
    let mut s = sampler::open(export, engine, mode, N)?;
    s.sample(req, &mut |_, _| {})
}

fn check(variant: &str, engine: EngineKind, mode: Mode, task: Task) {
    let spec = spec_of(variant);
    let dev = Default::default();
    let model = PixelModel::<Cpu>::new(&spec, 23, &dev);
    let dir = tempfile::tempdir().unwrap();
    pixelcnn_exporter::export(&model, dir.path(), 17).unwrap();
    let export = Export::open(dir.path()).unwrap();
    let x = inputs(&spec, N, 5);
    let dim = match spec.decoder_conditioning() {
        Conditioning::Vector { dim } | Conditioning::Spatial { dim, .. } => dim,
        _ => 0,
    };
    let vectors: Vec<f32> = (0..N * dim).map(|k| ((k * 7 % 11) as f32 - 5.0) / 4.0).collect();
    let mut req = SampleRequest {
        cond: match dim {
            0 => x.cond(),
            _ => CondInput::Vectors(vectors, dim),
        },
        seeds: seeds(SEED),
        prefix: None,
        temperature: 1.0,
    };
    if task == Task::Complete {
        req.prefix = Some((x.images.clone(), KEPT_ROWS));
    }
    let unsupported = match mode {
        Mode::Cached => (spec.arch == Arch::Pixelcnn).then_some("use --mode naive"),
        Mode::Naive => (spec.arch == Arch::Autoencoder).then_some("use --mode cached"),
    };
    if let Some(hint) = unsupported {
        let e = draw(&export, &engine, mode, &req).expect_err("an unsupported mode must fail");
        assert!(format!("{e:#}").contains(hint), "{variant} {mode:?}: {e:#}");
        return;
    }
    let got = draw(&export, &engine, mode, &req).unwrap();
    assert_eq!(got.len(), N * spec.dims());
    match task {
        Task::Sample => {
            let cond = Condition::from_host(&req.cond, &dev);
            let want = model.sample(&cond, &req.seeds, 1.0, Mode::Naive, &dev).unwrap();
            assert!(
                got == want,
                "{variant} {engine}/{mode:?}: differs from burn's sampler with the same seed"
            );
            req.seeds = seeds(SEED + 1);
            let other = draw(&export, &engine, mode, &req).unwrap();
            assert!(
                other != got,
                "{variant} {engine}/{mode:?}: another seed drew the same images"
            );
        }
        Task::Complete => {
            let (c, h, w) = (spec.channels, spec.height, spec.width);
            for b in 0..N {
                for ch in 0..c {
                    let at = (b * c + ch) * h * w;
                    assert_eq!(
                        got[at..at + KEPT_ROWS * w],
                        x.images[at..at + KEPT_ROWS * w],
                        "{variant} {engine}/{mode:?}: kept rows changed"
                    );
                }
            }
            let reference = if spec.arch == Arch::Autoencoder {
                (&engine, mode) != (&EngineKind::Ort, Mode::Cached)
            } else {
                (&engine, mode) != (&EngineKind::Ort, Mode::Naive)
            };
            if reference {
                let ref_mode = if spec.arch == Arch::Autoencoder {
                    Mode::Cached
                } else {
                    Mode::Naive
                };
                let want = draw(&export, &EngineKind::Ort, ref_mode, &req).unwrap();
                assert!(
                    got == want,
                    "{variant} {engine}/{mode:?}: completion differs from ort/{ref_mode:?}"
                );
            } else {
                assert!(
                    got != x.images,
                    "{variant}: the rows below the kept ones were not drawn"
                );
            }
        }
    }
}

macro_rules! matrix {
    ($($variant:ident => $name:literal,)*) => {
        /// The variants the matrix names.
        const LISTED: &[&str] = &[$($name,)*];
        $(
        mod $variant {
            use super::*;
            macro_rules! engine {
                ($engine:ident, $kind:expr) => {
                    mod $engine {
                        use super::*;
                        mod cached {
                            use super::*;
                            #[test]
                            fn sample() { check($name, $kind, Mode::Cached, Task::Sample) }
                            #[test]
                            fn complete() { check($name, $kind, Mode::Cached, Task::Complete) }
                        }
                        mod naive {
                            use super::*;
                            #[test]
                            fn sample() { check($name, $kind, Mode::Naive, Task::Sample) }
                            #[test]
                            fn complete() { check($name, $kind, Mode::Naive, Task::Complete) }
                        }
                    }
                };
            }
            engine!(ort, EngineKind::Ort);
            engine!(tract, EngineKind::Tract);
        }
    )*};
}

matrix! {
    gated_c1_none => "Gated-c1-none",
    gated_c1_class => "Gated-c1-class",
    gated_c1_vector => "Gated-c1-vector",
    gated_c1_spatial => "Gated-c1-spatial",
    gated_c3_none => "Gated-c3-none",
    gated_c3_class => "Gated-c3-class",
    gated_c3_vector => "Gated-c3-vector",
    gated_c3_spatial => "Gated-c3-spatial",
    pixelcnn_c1_none => "Pixelcnn-c1-none",
    pixelcnn_c1_class => "Pixelcnn-c1-class",
    pixelcnn_c1_vector => "Pixelcnn-c1-vector",
    pixelcnn_c1_spatial => "Pixelcnn-c1-spatial",
    pixelcnn_c3_none => "Pixelcnn-c3-none",
    pixelcnn_c3_class => "Pixelcnn-c3-class",
    pixelcnn_c3_vector => "Pixelcnn-c3-vector",
    pixelcnn_c3_spatial => "Pixelcnn-c3-spatial",
    autoencoder_c1 => "Autoencoder-c1",
    autoencoder_c3 => "Autoencoder-c3",
    autoencoder_c1_spatial => "Autoencoder-c1-spatial",
    gated_c3_class_kernel5 => "Gated-c3-class-kernel5",
    gated_c1_none_1layer => "Gated-c1-none-1layer",
    gated_c3_spatial_8x12 => "Gated-c3-spatial-8x12",
    gated_c1_vector_9x5_kernel5 => "Gated-c1-vector-9x5-kernel5",
    pixelcnn_c3_none_7x5_kernel5 => "Pixelcnn-c3-none-7x5-kernel5",
    autoencoder_c1_12x8 => "Autoencoder-c1-12x8",
}

/// The matrix above names every variant the shared list has.
#[test]
fn matrix_covers_every_variant() {
    for (name, _) in all_variants() {
        assert!(
            LISTED.contains(&name.as_str()),
            "variant {name} has no row in the sampling matrix"
        );
    }
}
