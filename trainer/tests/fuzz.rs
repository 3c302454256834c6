//! Property tests over the trainer's readers: YAML configs, CIFAR-10 batches, image
//! folders and checkpoints (manifest, spec, burn record), mutated at random, give an error
//! naming the problem or a value, never a panic. `PROPTEST_CASES=N` runs longer.

use std::path::Path;

use pixelcnn_models::backend::NdArray;
use pixelcnn_models::{checkpoint, PixelModel};
use pixelcnn_trainer::datasets::{cifar, folder, Dataset};
use pixelcnn_trainer::TrainConfig;
use proptest::prelude::*;

fn mutate(mut b: Vec<u8>, flips: &[(usize, u8)], truncate: Option<usize>) -> Vec<u8> {
    for &(at, v) in flips {
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

const YAML: &str =
    "model: {arch: gated, channels: 1, height: 8, width: 8, layers: 2, hidden: 8, first_kernel: 5, head_hidden: 8}
data: {format: idx, path: data/mnist}
optimizer: {lr: 0.001, grad_clip: 1.0}
batch_size: 4
epochs: 1
seed: 3
";

fn flips() -> impl Strategy<Value = Vec<(usize, u8)>> {
    prop::collection::vec((any::<usize>(), any::<u8>()), 0..4)
}

proptest! {
    #[test]
    fn configs_never_panic(f in flips(), t in prop::option::of(any::<usize>())) {
        let b = mutate(YAML.as_bytes().to_vec(), &f, t);
        let _ = TrainConfig::from_yaml(Path::new("c.yaml"), &String::from_utf8_lossy(&b));
    }

    #[test]
    fn cifar_batches_never_panic(f in flips(), t in prop::option::of(any::<usize>()), records in 0usize..3) {
        let b = mutate(vec![3u8; records * cifar::RECORD], &f, t);
        let mut ds = Dataset {
            channels: 3, height: 32, width: 32, images: vec![], labels: vec![], vectors: None,
            source: "x".into(),
        };
        if cifar::parse_batch(Path::new("x.bin"), &b, &mut ds).is_ok() {
            prop_assert_eq!(ds.images.len(), ds.labels.len() * 3072);
        }
    }

    #[test]
    fn image_folders_never_panic(f in flips(), t in prop::option::of(any::<usize>())) {
        let dir = tempfile::tempdir().unwrap();
        let class = dir.path().join("a");
        std::fs::create_dir(&class).unwrap();
        let png = class.join("x.png");
        pixelcnn_core::grid::write_image(&png, &[9u8; 64], 1, 8, 8).unwrap();
        let b = mutate(std::fs::read(&png).unwrap(), &f, t);
        std::fs::write(&png, b).unwrap();
        let _ = folder::load(dir.path(), 1, 8, 8);
    }

    #[test]
    fn checkpoints_never_panic(f in flips(), t in prop::option::of(any::<usize>()), which in 0usize..3) {
        let cfg = TrainConfig::from_yaml(Path::new("c.yaml"), YAML).unwrap();
        let model = PixelModel::<NdArray>::new(&cfg.model, 1, &Default::default());
        let dir = tempfile::tempdir().unwrap();
        let ck = checkpoint::write_atomic(dir.path(), "step-000000001", &checkpoint::model_files(&model)).unwrap();
        let file = ck.join([checkpoint::MANIFEST_FILE, checkpoint::SPEC_FILE, checkpoint::MODEL_FILE][which]);
        let b = mutate(std::fs::read(&file).unwrap(), &f, t);
        std::fs::write(&file, b).unwrap();
        let _ = checkpoint::read_spec(&ck);
        let _ = checkpoint::load_model::<NdArray>(&ck, &Default::default());
    }
}
