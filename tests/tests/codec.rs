//! `compress` then `decompress` gives back every byte, on ONNX Runtime and on tract, with
//! the shipped models on real test images; a file never decodes silently with another
//! model or engine, and damage is a clear error.

use std::path::{Path, PathBuf};

use pixelcnn_runtime::codec::{self, CodecError};
use pixelcnn_runtime::{EngineKind, Export};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn export(name: &str) -> Export {
    Export::open(&root().join("models/pretrained").join(name)).unwrap()
}

/// The first `n` test images of an IDX data set.
fn test_images(dir: &str, n: usize) -> Vec<u8> {
    let mut p = root().join(dir).join("t10k-images-idx3-ubyte");
    if !p.exists() {
        p.set_extension("gz");
        p = root().join(dir).join("t10k-images-idx3-ubyte.gz");
    }
    let idx = pixelcnn_core::idx::read_images(&p).expect("run scripts/fetch-data.sh");
    idx.pixels[..n * idx.rows * idx.cols].to_vec()
}

#[test]
fn mnist_round_trips_on_onnx_runtime_and_tract() {
    let e = export("mnist-gated");
    let images = test_images("data/mnist", 20);
    for engine in [EngineKind::Ort, EngineKind::Tract] {
        // batches of 8: two full ones and a remainder of 4
        let c = codec::compress(&e, &engine, &images, 8, &mut |_| {}).unwrap();
        let (header, back) = codec::decompress(&e, &engine, &c.file, &mut |_| {}).unwrap();
        assert_eq!(back, images, "{engine}: round trip");
        assert_eq!(
            (header.count, header.batch, header.engine.as_str()),
            (20, 8, engine.to_string().as_str())
        );
        // the coded size tracks the model's own cross-entropy on these images
        let bits = c.file.len() as f64 * 8.0 / images.len() as f64;
        assert!(
            bits < c.model_bits_per_subpixel * 1.02 + 0.2,
            "{engine}: {bits} vs {}",
            c.model_bits_per_subpixel
        );
        assert!(c.model_bits_per_subpixel > 0.3 && c.model_bits_per_subpixel < 3.0);
    }
}

#[test]
fn fashion_round_trips_one_batch() {
    let e = export("fashion-gated");
    let images = test_images("data/fashion-mnist", 6);
    let c = codec::compress(&e, &EngineKind::Ort, &images, 64, &mut |_| {}).unwrap();
    assert_eq!(
        codec::decompress(&e, &EngineKind::Ort, &c.file, &mut |_| {}).unwrap().1,
        images
    );
}

#[test]
fn another_engine_or_model_and_damaged_files_are_clear_errors() {
    let e = export("mnist-gated");
    let images = test_images("data/mnist", 2);
    let file = codec::compress(&e, &EngineKind::Ort, &images, 2, &mut |_| {})
        .unwrap()
        .file;
    let msg = |r: anyhow::Result<(codec::Header, Vec<u8>)>| format!("{:#}", r.unwrap_err());
    let m = msg(codec::decompress(&e, &EngineKind::Tract, &file, &mut |_| {}));
    assert!(m.contains("--backend ort"), "{m}");
    let m = msg(codec::decompress(
        &export("fashion-gated"),
        &EngineKind::Ort,
        &file,
        &mut |_| {},
    ));
    assert!(m.contains("another model"), "{m}");
    for cut in [0, 7, 12, 40, file.len() - 1] {
        assert!(
            codec::decompress(&e, &EngineKind::Ort, &file[..cut], &mut |_| {}).is_err(),
            "cut {cut}"
        );
    }
    for at in (0..file.len()).step_by(7) {
        let mut bad = file.clone();
        bad[at] ^= 0x04;
        assert!(
            codec::decompress(&e, &EngineKind::Ort, &bad, &mut |_| {}).is_err(),
            "flip at {at}"
        );
    }
    assert!(matches!(codec::read_container(b"GIF89a.."), Err(CodecError::Magic)));
    // a class-conditional model cannot code images without their labels
    let class = export("mnist-class");
    let m = format!(
        "{:#}",
        codec::compress(&class, &EngineKind::Ort, &images, 2, &mut |_| {}).unwrap_err()
    );
    assert!(m.contains("unconditional"), "{m}");
}
