//! Helpers shared by the cross-crate tests: tiny specs for every model variant.

use pixelcnn_models::{Arch, Conditioning, EncoderSpec, ModelSpec};

/// A tiny spec of the given family, colour count and conditioning. An auto-encoder
/// decodes its code as a vector, or through a spatial map when `conditioning` is spatial.
pub fn tiny_spec(arch: Arch, channels: usize, conditioning: Conditioning) -> ModelSpec {
    let ae = arch == Arch::Autoencoder;
    let map_channels = match conditioning {
        Conditioning::Spatial { map_channels, .. } => Some(map_channels),
        _ => None,
    };
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
            map_channels,
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
    out.push((
        "Autoencoder-c1-spatial".to_string(),
        tiny_spec(Arch::Autoencoder, 1, conds[3].1.clone()),
    ));
    out.extend(shape_variants());
    out
}

/// Geometries the tiny specs above do not reach: kernel 5 after layer 0 (the horizontal
/// state holds two columns, the vertical two rows), a single layer (layer 0's type-A
/// masks alone, no residual), and non-square images (rows and columns cannot be
/// swapped unnoticed), across families and conditionings.
pub fn shape_variants() -> Vec<(String, ModelSpec)> {
    let with = |name: &str, mut spec: ModelSpec, edit: &dyn Fn(&mut ModelSpec)| {
        edit(&mut spec);
        (name.to_string(), spec)
    };
    vec![
        with(
            "Gated-c3-class-kernel5",
            tiny_spec(Arch::Gated, 3, Conditioning::Class { classes: 3 }),
            &|s| {
                s.first_kernel = 7;
                s.kernel = 5;
            },
        ),
        with(
            "Gated-c1-none-1layer",
            tiny_spec(Arch::Gated, 1, Conditioning::None),
            &|s| {
                s.layers = 1;
            },
        ),
        with(
            "Gated-c3-spatial-8x12",
            tiny_spec(
                Arch::Gated,
                3,
                Conditioning::Spatial {
                    dim: 5,
                    map_channels: 4,
                },
            ),
            &|s| {
                s.height = 8;
                s.width = 12;
            },
        ),
        with(
            "Gated-c1-vector-9x5-kernel5",
            tiny_spec(Arch::Gated, 1, Conditioning::Vector { dim: 3 }),
            &|s| {
                (s.height, s.width, s.kernel) = (9, 5, 5);
            },
        ),
        with(
            "Pixelcnn-c3-none-7x5-kernel5",
            tiny_spec(Arch::Pixelcnn, 3, Conditioning::None),
            &|s| {
                (s.height, s.width, s.kernel) = (7, 5, 5);
            },
        ),
        with(
            "Autoencoder-c1-12x8",
            tiny_spec(Arch::Autoencoder, 1, Conditioning::None),
            &|s| {
                (s.height, s.width) = (12, 8);
            },
        ),
    ]
}

/// Deterministic pseudo-random test inputs for a spec: images `[n, C, H, W]`, labels
/// `[n]` and conditioning vectors `[n, D]` (whichever the model takes).
pub struct Inputs {
    pub n: usize,
    pub images: Vec<u8>,
    pub labels: Vec<i64>,
    pub vectors: Vec<f32>,
    pub dim: usize,
}

impl Inputs {
    /// The decoder's condition: the labels, the vectors, or none.
    pub fn cond(&self) -> pixelcnn_models::CondInput {
        use pixelcnn_models::CondInput;
        match (self.labels.is_empty(), self.dim) {
            (false, _) => CondInput::Labels(self.labels.clone()),
            (true, 0) => CondInput::None,
            (true, dim) => CondInput::Vectors(self.vectors.clone(), dim),
        }
    }
}

pub fn inputs(spec: &ModelSpec, n: usize, seed: u64) -> Inputs {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 33) as u32
    };
    let images = (0..n * spec.dims()).map(|_| (next() % 256) as u8).collect();
    let (labels, dim) = match spec.decoder_conditioning() {
        Conditioning::Class { classes } => ((0..n).map(|_| (next() as usize % classes) as i64).collect(), 0),
        Conditioning::Vector { dim } | Conditioning::Spatial { dim, .. } => (vec![], dim),
        Conditioning::None => (vec![], 0),
    };
    let vectors = (0..n * dim).map(|_| (next() % 2000) as f32 / 1000.0 - 1.0).collect();
    Inputs {
        n,
        images,
        labels,
        vectors,
        dim,
    }
}

/// burn logits `[n, C, H, W, 256]` flattened, and bits/dim per image, on the CPU backend.
pub fn burn_outputs<B: pixelcnn_models::fused::FusedOps>(
    model: &pixelcnn_models::PixelModel<B>,
    x: &Inputs,
) -> (Vec<f32>, Vec<f32>) {
    use burn::tensor::{Int, Tensor, TensorData};
    use pixelcnn_models::Condition;
    let s = &model.spec;
    let dev = Default::default();
    let shape = [x.n, s.channels, s.height, s.width];
    let f: Vec<f32> = x.images.iter().map(|&v| v as f32).collect();
    let i: Vec<i64> = x.images.iter().map(|&v| v as i64).collect();
    let images = Tensor::<B, 4>::from_data(TensorData::new(f, shape), &dev);
    let targets = Tensor::<B, 4, Int>::from_data(TensorData::new(i, shape), &dev);
    // the auto-encoder scores images through its own encoder
    let cond = match s.encoder {
        Some(_) => Condition::None,
        None => Condition::from_host(&x.cond(), &dev),
    };
    let logits = model.forward(images, &cond);
    let bpd = pixelcnn_models::bits_per_dim(pixelcnn_models::nll_nats(logits.clone(), targets), s);
    (
        logits.into_data().convert::<f32>().to_vec().unwrap(),
        bpd.into_data().convert::<f32>().to_vec().unwrap(),
    )
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Runs model.onnx of `dir` on `engine`: (logits, bits_per_dim).
pub fn onnx_outputs(dir: &std::path::Path, engine: &pixelcnn_runtime::EngineKind, x: &Inputs) -> (Vec<f32>, Vec<f32>) {
    let export = pixelcnn_runtime::Export::open(dir).unwrap();
    let s = &export.spec;
    let (contract, path) = export.graph("model").unwrap();
    let mut g = pixelcnn_runtime::Graph::load(engine, &path, contract, x.n).unwrap();
    let img = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[x.n, s.channels, s.height, s.width]), x.images.clone())
        .unwrap();
    let lbl = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[x.labels.len()]), x.labels.clone()).unwrap();
    let vec = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[x.n, x.dim]), x.vectors.clone()).unwrap();
    let mut named = vec![("image", pixelcnn_runtime::Input::U8(img.view()))];
    if g.contract.inputs.iter().any(|t| t.name == "label") {
        named.push(("label", pixelcnn_runtime::Input::I64(lbl.view())));
    }
    if g.contract.inputs.iter().any(|t| t.name == "cond") {
        named.push(("cond", pixelcnn_runtime::Input::F32(vec.view())));
    }
    let out = g.run(&named).unwrap();
    let li = g.output_index("logits").unwrap();
    let bi = g.output_index("bits_per_dim").unwrap();
    (out[li].iter().copied().collect(), out[bi].iter().copied().collect())
}
