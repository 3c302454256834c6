//! Samplers used from many threads at once (one sampler per thread, one process-wide ONNX
//! Runtime environment) give exactly the images the same requests give one after another.

use std::path::Path;

use pixelcnn_core::rng::image_seed;
use pixelcnn_runtime::sampler::{self, CondInput, Mode, SampleRequest};
use pixelcnn_runtime::{EngineKind, Export};

fn request(seed: u64, n: usize) -> SampleRequest {
    SampleRequest {
        cond: CondInput::None,
        seeds: (0..n).map(|b| image_seed(seed, b)).collect(),
        prefix: None,
        temperature: 1.0,
    }
}

#[test]
fn eight_concurrent_requests_equal_the_same_requests_in_sequence() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/pretrained/mnist-gated"));
    let export = Export::open(dir).unwrap();
    for engine in [EngineKind::Ort, EngineKind::Tract] {
        let sequential: Vec<Vec<u8>> = (0..8u64)
            .map(|k| {
                let mut s = sampler::open(&export, &engine, Mode::Cached, 2).unwrap();
                s.sample(&request(100 + k, 2), &mut |_, _| {}).unwrap()
            })
            .collect();
        let concurrent: Vec<Vec<u8>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8u64)
                .map(|k| {
                    let (export, engine) = (&export, &engine);
                    scope.spawn(move || {
                        let mut s = sampler::open(export, engine, Mode::Cached, 2).unwrap();
                        s.sample(&request(100 + k, 2), &mut |_, _| {}).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(concurrent, sequential, "{engine}: concurrent sampling differs");
        // and the requests really differ from each other
        assert!(sequential.windows(2).all(|w| w[0] != w[1]));
    }
}
