//! `OUT_DIR/reference/`: inputs and the burn model's outputs as `.npy` files, so any
//! deployment (e.g. `scripts/check_onnx.py` in Python) can check that its runtime
//! reproduces the trained model's numbers.

use std::path::Path;

use burn::tensor::{Int, Tensor, TensorData};
use pixelcnn_models::fused::FusedOps;
use pixelcnn_models::{bits_per_dim, nll_nats, CondInput, Condition, Conditioning, PixelModel};

fn write<T: npyz::AutoSerialize + Copy>(path: &Path, shape: &[usize], data: &[T]) -> anyhow::Result<()> {
    Ok(pixelcnn_core::npy::write_array(path, shape, data)?)
}

/// Writes `n` deterministic pseudo-random inputs and the burn outputs for them.
pub fn write_reference<B: FusedOps>(
    model: &PixelModel<B>,
    out: &Path,
    n: usize,
    device: &B::Device,
) -> anyhow::Result<()> {
    let dir = out.join("reference");
    std::fs::create_dir_all(&dir)?;
    let s = &model.spec;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let shape = [n, s.channels, s.height, s.width];
    let images: Vec<u8> = (0..n * s.dims()).map(|_| (next() % 256) as u8).collect();
    write(&dir.join("image.npy"), &shape, &images)?;
    let f: Vec<f32> = images.iter().map(|&v| v as f32).collect();
    let t: Vec<i64> = images.iter().map(|&v| v as i64).collect();
    let x = Tensor::<B, 4>::from_data(TensorData::new(f, shape), device);
    let targets = Tensor::<B, 4, Int>::from_data(TensorData::new(t, shape), device);
    let cond = if s.encoder.is_some() {
        CondInput::None
    } else {
        match &s.conditioning {
            Conditioning::None => CondInput::None,
            Conditioning::Class { classes } => {
                let labels: Vec<i64> = (0..n).map(|_| (next() % *classes as u64) as i64).collect();
                write(&dir.join("label.npy"), &[n], &labels)?;
                CondInput::Labels(labels)
            }
            Conditioning::Vector { dim } | Conditioning::Spatial { dim, .. } => {
                let v: Vec<f32> = (0..n * dim).map(|_| (next() % 2001) as f32 / 1000.0 - 1.0).collect();
                write(&dir.join("cond.npy"), &[n, *dim], &v)?;
                CondInput::Vectors(v, *dim)
            }
        }
    };
    let logits = model.forward(x, &Condition::from_host(&cond, device));
    let bpd = bits_per_dim(nll_nats(logits.clone(), targets), s);
    let ldims = logits.dims();
    let lv: Vec<f32> = logits.into_data().convert::<f32>().to_vec().expect("f32");
    write(&dir.join("logits.npy"), &ldims, &lv)?;
    let bv: Vec<f32> = bpd.into_data().convert::<f32>().to_vec().expect("f32");
    write(&dir.join("bits_per_dim.npy"), &[n], &bv)?;
    Ok(())
}
