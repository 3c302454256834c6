//! Widening a trained Gated PixelCNN (`PixelModel::widened`): for every Gated variant, the
//! wider model computes the same logits as the narrow one; fresh weights write its new maps
//! and nothing old reads them yet. A vector code given a spatial map computes the same
//! logits too.

use pixelcnn_models::{Arch, Conditioning, PixelModel};
use pixelcnn_tests::{all_variants, burn_outputs, inputs, max_abs_diff, tiny_spec};

/// f64, so that an equality up to rounding cannot hide a misplaced weight.
type B = burn::backend::NdArray<f64>;

#[test]
fn a_widened_model_computes_the_same_logits() {
    let dev = Default::default();
    let mut checked = 0;
    for (name, spec) in all_variants().into_iter().filter(|(_, s)| s.arch != Arch::Pixelcnn) {
        let narrow = PixelModel::<B>::new(&spec, 5, &dev);
        // RGB groups grow unevenly (9 -> 14 maps: 3,3,3 -> 5,5,4)
        let wide = narrow
            .widened(spec.hidden + 5, spec.head_hidden + 7, 9, &dev)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (wide.spec.hidden, wide.spec.head_hidden),
            (spec.hidden + 5, spec.head_hidden + 7),
            "{name}"
        );
        let x = inputs(&spec, 2, 3);
        let (a, bpd_a) = burn_outputs(&narrow, &x);
        let (b, bpd_b) = burn_outputs(&wide, &x);
        assert!(
            max_abs_diff(&a, &b) < 1e-9,
            "{name}: logits moved by {}",
            max_abs_diff(&a, &b)
        );
        assert!(max_abs_diff(&bpd_a, &bpd_b) < 1e-9, "{name}");
        // nothing old reads a new map (exactly zero), fresh weights write the new maps
        let g = wide.gated().unwrap();
        let h_out: Vec<f64> = g.layers[0].h_out.weight.val().into_data().to_vec().unwrap();
        let zeros = h_out.iter().filter(|&&w| w == 0.0).count();
        assert_eq!(zeros, spec.hidden * 5, "{name}: zero weights of the residual's 1x1");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} variants");
}

#[test]
fn widening_refuses_what_it_cannot_do() {
    let dev = Default::default();
    let spec = tiny_spec(Arch::Gated, 1, Conditioning::None);
    let model = PixelModel::<B>::new(&spec, 1, &dev);
    let msg = model.widened(spec.hidden - 1, spec.head_hidden, 1, &dev).unwrap_err();
    assert!(msg.contains("hidden 8") && msg.contains("hidden 7"), "{msg}");
    let same = model.widened(spec.hidden, spec.head_hidden, 1, &dev).unwrap();
    let x = inputs(&spec, 1, 1);
    assert_eq!(burn_outputs(&model, &x).0, burn_outputs(&same, &x).0);
    let plain = PixelModel::<B>::new(&tiny_spec(Arch::Pixelcnn, 1, Conditioning::None), 1, &dev);
    let msg = plain.widened(spec.hidden + 1, spec.head_hidden, 1, &dev).unwrap_err();
    assert!(msg.contains("Gated"), "{msg}");
}

/// A vector code given a spatial map (`PixelModel::spatialized`): the map starts as the
/// code at every pixel, so the logits stay, for the auto-encoders and vector-conditioned
/// Gated models; spare map channels are read with zero weights.
#[test]
fn a_vector_code_given_a_spatial_map_computes_the_same_logits() {
    let dev = Default::default();
    let mut checked = 0;
    for (name, spec) in all_variants() {
        let dim = match spec.decoder_conditioning() {
            Conditioning::Vector { dim } if spec.arch != Arch::Pixelcnn => dim,
            _ => continue,
        };
        let vector = PixelModel::<B>::new(&spec, 5, &dev);
        if spec.height % 4 != 0 || spec.width % 4 != 0 {
            // the map upsamples by 4
            let msg = vector.spatialized(2 * dim, 9, &dev).unwrap_err();
            assert!(msg.contains("multiples of 4"), "{name}: {msg}");
            continue;
        }
        let spatial = vector
            .spatialized(2 * dim + 3, 9, &dev)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            matches!(spatial.spec.decoder_conditioning(), Conditioning::Spatial { map_channels, .. } if map_channels == 2 * dim + 3),
            "{name}: {:?}",
            spatial.spec
        );
        let x = inputs(&spec, 2, 3);
        let (a, bpd_a) = burn_outputs(&vector, &x);
        let (b, bpd_b) = burn_outputs(&spatial, &x);
        assert!(
            max_abs_diff(&a, &b) < 1e-9,
            "{name}: logits moved by {}",
            max_abs_diff(&a, &b)
        );
        assert!(max_abs_diff(&bpd_a, &bpd_b) < 1e-9, "{name}");
        // the code reaches the decoder through the map: a map that ignores it changes the logits
        let mut blind = spatial.clone();
        let map = blind.spatial_map.as_mut().unwrap();
        map.linear_w = burn::module::Param::from_tensor(map.linear_w.val().zeros_like());
        assert!(max_abs_diff(&a, &burn_outputs(&blind, &x).0) > 1e-3, "{name}");
        checked += 1;
    }
    assert!(
        checked >= 4,
        "only {checked} variants (Gated-c1/c3-vector, Autoencoder-c1/c3)"
    );
}

#[test]
fn a_spatial_map_is_refused_where_it_cannot_start_as_the_code() {
    let dev = Default::default();
    let ae = PixelModel::<B>::new(&tiny_spec(Arch::Autoencoder, 1, Conditioning::None), 1, &dev);
    let msg = ae.spatialized(7, 1, &dev).unwrap_err();
    assert!(msg.contains("4-dim code") && msg.contains("at least 8"), "{msg}");
    for cond in [
        Conditioning::None,
        Conditioning::Class { classes: 3 },
        Conditioning::Spatial {
            dim: 4,
            map_channels: 8,
        },
    ] {
        let model = PixelModel::<B>::new(&tiny_spec(Arch::Gated, 1, cond.clone()), 1, &dev);
        assert!(model.spatialized(8, 1, &dev).is_err(), "{cond:?}");
    }
    let plain = PixelModel::<B>::new(&tiny_spec(Arch::Pixelcnn, 1, Conditioning::Vector { dim: 4 }), 1, &dev);
    let msg = plain.spatialized(8, 1, &dev).unwrap_err();
    assert!(msg.contains("Gated"), "{msg}");
}
