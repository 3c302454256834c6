//! The cached steps in burn (`GatedPixelCnn::step_row` / `step_pixel`) are the full
//! network, one row or sub-pixel at a time: in f64, with teacher forcing, every
//! sub-pixel's logits equal the full forward's; and sampling through them draws the same
//! images as the naive sampler (the full network once per sub-pixel) for the same seeds.
//! One test per variant, so a failure names it.

use burn::tensor::{Tensor, TensorData};
use pixelcnn_core::rng::Mode;
use pixelcnn_models::{Arch, CondInput, Condition, Conditioning, ModelSpec, PixelModel, LEVELS};
use pixelcnn_tests::tiny_spec;

type B = burn::backend::NdArray<f64>;

/// Deterministic images and a condition for `batch` images (the auto-encoder's decoder
/// takes a given bottleneck, as when sampling).
fn inputs(spec: &ModelSpec, batch: usize, salt: usize) -> (Vec<u8>, Condition<B>) {
    let dev = Default::default();
    let images = (0..batch * spec.dims())
        .map(|k| ((k * 97 + 13 + salt * 31) % 256) as u8)
        .collect();
    let cond = match spec.decoder_conditioning() {
        Conditioning::None => CondInput::None,
        Conditioning::Class { classes } => {
            CondInput::Labels((0..batch).map(|k| ((k + salt) % classes) as i64).collect())
        }
        Conditioning::Vector { dim } | Conditioning::Spatial { dim, .. } => CondInput::Vectors(
            (0..batch * dim)
                .map(|k| ((k * 7 + salt) % 11) as f32 / 5.0 - 1.0)
                .collect(),
            dim,
        ),
    };
    (images, Condition::from_host(&cond, &dev))
}

fn full_logits(model: &PixelModel<B>, images: &[u8], cond: &Condition<B>) -> Vec<f64> {
    let s = &model.spec;
    let n = images.len() / s.dims();
    let v: Vec<f64> = images.iter().map(|&x| x as f64).collect();
    let x = Tensor::<B, 4>::from_data(
        TensorData::new(v, [n, s.channels, s.height, s.width]),
        &Default::default(),
    );
    model.forward(x, cond).into_data().convert::<f64>().to_vec().unwrap()
}

fn cached_equals_full(spec: ModelSpec) {
    let dev = Default::default();
    let model = PixelModel::<B>::new(&spec, 5, &dev);
    let (images, cond) = inputs(&spec, 2, 0);
    let full = full_logits(&model, &images, &cond);
    let cached = model
        .cached_logits(&images, &cond, &dev)
        .expect("gated models have steps");
    assert_eq!(cached.len(), full.len());
    assert_eq!(full.len(), images.len() * LEVELS);
    let (worst, at) = full
        .iter()
        .zip(&cached)
        .enumerate()
        .map(|(k, (a, b))| ((a - b).abs(), k))
        .fold((0.0, 0), |m, d| if d.0 > m.0 { d } else { m });
    assert!(
        worst < 1e-9,
        "cached logits differ from the full forward by {worst} at {at}"
    );
    // the check can fail: another image's logits differ
    let (other, _) = inputs(&spec, 2, 1);
    let moved = model.cached_logits(&other, &cond, &dev).unwrap();
    assert!(moved.iter().zip(&cached).any(|(a, b)| (a - b).abs() > 1e-6));
}

fn cached_sampling_equals_naive(spec: ModelSpec) {
    let dev = Default::default();
    let model = PixelModel::<B>::new(&spec, 6, &dev);
    let (_, cond) = inputs(&spec, 2, 2);
    let seeds = [11, 12];
    let cached = model.sample(&cond, &seeds, 1.0, Mode::Cached, &dev).unwrap();
    let naive = model.sample(&cond, &seeds, 1.0, Mode::Naive, &dev).unwrap();
    assert_eq!(cached.len(), 2 * spec.dims());
    assert!(cached == naive, "cached and naive sampling drew different images");
    assert!(model.sample(&cond, &[13, 12], 1.0, Mode::Cached, &dev).unwrap()[..spec.dims()] != cached[..spec.dims()]);
    assert!(model.sample(&cond, &seeds, 0.0, Mode::Cached, &dev).is_err());
}

macro_rules! variants {
    ($($name:ident: $arch:expr, $channels:expr, $cond:expr;)*) => {
        mod logits { use super::*; $(#[test] fn $name() { cached_equals_full(tiny_spec($arch, $channels, $cond)) })* }
        mod sampling { use super::*; $(#[test] fn $name() { cached_sampling_equals_naive(tiny_spec($arch, $channels, $cond)) })* }
    };
}

const SPATIAL: Conditioning = Conditioning::Spatial {
    dim: 5,
    map_channels: 4,
};

variants! {
    gated_gray_none: Arch::Gated, 1, Conditioning::None;
    gated_gray_class: Arch::Gated, 1, Conditioning::Class { classes: 3 };
    gated_gray_vector: Arch::Gated, 1, Conditioning::Vector { dim: 5 };
    gated_gray_spatial: Arch::Gated, 1, SPATIAL;
    gated_rgb_none: Arch::Gated, 3, Conditioning::None;
    gated_rgb_class: Arch::Gated, 3, Conditioning::Class { classes: 3 };
    gated_rgb_vector: Arch::Gated, 3, Conditioning::Vector { dim: 5 };
    gated_rgb_spatial: Arch::Gated, 3, SPATIAL;
    autoencoder_gray: Arch::Autoencoder, 1, Conditioning::None;
    autoencoder_rgb: Arch::Autoencoder, 3, Conditioning::None;
    autoencoder_gray_spatial: Arch::Autoencoder, 1, SPATIAL;
}

#[test]
fn kernel_five_layers_and_a_single_layer_model() {
    // kernel 5 after the first layer: past_h holds two columns, past_v two rows
    let mut spec = tiny_spec(Arch::Gated, 3, Conditioning::Class { classes: 3 });
    spec.kernel = 5;
    cached_equals_full(spec.clone());
    spec.layers = 1;
    cached_equals_full(spec);
}

#[test]
fn non_square_images() {
    let mut spec = tiny_spec(Arch::Gated, 1, Conditioning::Vector { dim: 5 });
    spec.height = 5;
    spec.width = 7;
    cached_equals_full(spec.clone());
    cached_sampling_equals_naive(spec);
}

#[test]
fn conditioning_changes_the_logits_and_spatial_maps_depend_on_location() {
    for cond in [
        Conditioning::Class { classes: 3 },
        Conditioning::Vector { dim: 5 },
        SPATIAL,
    ] {
        let spec = tiny_spec(Arch::Gated, 1, cond.clone());
        let model = PixelModel::<B>::new(&spec, 9, &Default::default());
        let (images, a) = inputs(&spec, 2, 0);
        let (_, b) = inputs(&spec, 2, 1);
        let (la, lb) = (full_logits(&model, &images, &a), full_logits(&model, &images, &b));
        let diff: Vec<f64> = la.iter().zip(&lb).map(|(x, y)| x - y).collect();
        assert!(
            diff.iter().any(|d| d.abs() > 1e-6),
            "{cond:?}: the condition changes nothing"
        );
        // dense conditioning adds the same term everywhere in layer 0; a spatial map's term
        // depends on the location: compare the change at the first sub-pixel (which sees no
        // pixels) of two positions through an image of zeros
        let zeros = vec![0u8; images.len()];
        let (za, zb) = (full_logits(&model, &zeros, &a), full_logits(&model, &zeros, &b));
        let at = |l: &[f64], i: usize, j: usize| l[(i * spec.width + j) * LEVELS];
        let (d00, d35) = (at(&za, 0, 0) - at(&zb, 0, 0), at(&za, 3, 5) - at(&zb, 3, 5));
        if cond == SPATIAL {
            assert!(
                (d00 - d35).abs() > 1e-9,
                "spatial conditioning does not depend on location"
            );
        }
    }
}
