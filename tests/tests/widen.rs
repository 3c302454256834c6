//! Widening a trained Gated PixelCNN (`PixelModel::widened`): for every Gated variant, the
//! wider model computes the same logits as the narrow one; fresh weights write its new maps
//! and nothing old reads them yet.

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
