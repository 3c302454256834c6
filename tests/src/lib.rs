//! Helpers shared by the cross-crate tests: tiny specs for every model variant.

use pixelcnn_models::{Arch, Conditioning, EncoderSpec, ModelSpec};

/// A tiny spec of the given family, colour count and conditioning.
pub fn tiny_spec(arch: Arch, channels: usize, conditioning: Conditioning) -> ModelSpec {
    let ae = arch == Arch::Autoencoder;
    ModelSpec {
        arch,
        channels,
        height: 8,
        width: 8,
        layers: 3,
        hidden: if channels == 3 { 9 } else { 8 },
        first_kernel: 5,
        kernel: 3,
        head_hidden: if channels == 3 { 12 } else { 8 },
        conditioning: if ae { Conditioning::None } else { conditioning },
        encoder: ae.then_some(EncoderSpec {
            bottleneck: 4,
            hidden: 4,
        }),
    }
}

/// Every variant the issues name: gray/RGB x none/class/vector/spatial x
/// gated/baseline, and the auto-encoder's decoder in gray and RGB.
pub fn all_variants() -> Vec<(String, ModelSpec)> {
    let conds = [
        ("none", Conditioning::None),
        ("class", Conditioning::Class { classes: 3 }),
        ("vector", Conditioning::Vector { dim: 5 }),
        (
            "spatial",
            Conditioning::Spatial {
                dim: 5,
                map_channels: 4,
            },
        ),
    ];
    let mut out = Vec::new();
    for arch in [Arch::Gated, Arch::Pixelcnn] {
        for channels in [1, 3] {
            for (name, cond) in &conds {
                out.push((
                    format!("{arch:?}-c{channels}-{name}"),
                    tiny_spec(arch, channels, cond.clone()),
                ));
            }
        }
    }
    for channels in [1, 3] {
        out.push((
            format!("Autoencoder-c{channels}"),
            tiny_spec(Arch::Autoencoder, channels, Conditioning::None),
        ));
    }
    out
}
