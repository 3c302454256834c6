//! Property tests over the runtime's readers: `.pcnn` containers and export directories
//! (the ONNX files and their `pixelcnn.contract` / `pixelcnn.spec` metadata), mutated at
//! random, give a clear error or a value, never a panic. `PROPTEST_CASES=N` runs longer.

use std::path::Path;

use pixelcnn_runtime::codec::{self, Header, CODER, FORMAT};
use pixelcnn_runtime::Export;
use proptest::prelude::*;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn mutate(mut b: Vec<u8>, cuts: &[(usize, u8)], truncate: Option<usize>) -> Vec<u8> {
    for &(at, v) in cuts {
        if !b.is_empty() {
            let i = at % b.len();
            b[i] ^= v.max(1);
        }
    }
    if let Some(n) = truncate {
        b.truncate(n % (b.len() + 1));
    }
    b
}

proptest! {
    #[test]
    fn containers_never_panic(
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        truncate in prop::option::of(any::<usize>()),
        count in any::<usize>(),
    ) {
        // a well-formed container around a possibly absurd header
        let header = Header {
            format: FORMAT, count, channels: 1, height: 28, width: 28, batch: 16,
            engine: "ort".into(), model_sha256: "00".into(), pixels_crc32: 0,
            coder: CODER.into(), words: 2,
        };
        let json = serde_json::to_vec(&header).unwrap();
        let mut b = b"PCNNCODE".to_vec();
        b.extend((json.len() as u32).to_le_bytes());
        b.extend(&json);
        b.extend([0u8; 8]);
        let crc = crc32fast::hash(&b);
        b.extend(crc.to_le_bytes());
        let _ = codec::read_container(&mutate(b, &flips, truncate));
    }

    #[test]
    fn export_directories_never_panic(
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        truncate in prop::option::of(any::<usize>()),
    ) {
        let src = root().join("models/pretrained/mnist-gated");
        let dir = tempfile::tempdir().unwrap();
        for f in ["model.onnx", "step_row.onnx", "step_pixel.onnx"] {
            std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
        }
        let p = dir.path().join("model.onnx");
        let b = mutate(std::fs::read(&p).unwrap(), &flips, truncate);
        std::fs::write(&p, b).unwrap();
        if let Ok(e) = Export::open(dir.path()) {
            let _ = e.graph("step_pixel");
        }
    }
}
