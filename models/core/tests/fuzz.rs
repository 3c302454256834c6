//! Property tests over every reader in this crate: valid files mutated at random
//! (truncations, bit flips, bytes overwritten, oversized header counts) and random bytes
//! give an `Err` or a value, never a panic. `PROPTEST_CASES=100000 cargo test -p
//! pixelcnn-core --test fuzz` runs a longer campaign (CI: proptest's default, 256 cases
//! per property).

use std::path::Path;

use pixelcnn_core::contract::Contract;
use pixelcnn_core::{idx, npy, ModelSpec};
use proptest::prelude::*;

/// A mutation of a valid file: cut it, flip bits, overwrite bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    Set(usize, u8),
    Extend(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, v)| Mutation::Set(at, v)),
        prop::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Extend),
    ]
}

fn mutate(mut b: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        match m {
            Mutation::Truncate(n) => b.truncate(n % (b.len() + 1)),
            Mutation::Flip(at, bit) if !b.is_empty() => {
                let i = at % b.len();
                b[i] ^= 1 << bit;
            }
            Mutation::Set(at, v) if !b.is_empty() => {
                let i = at % b.len();
                b[i] = *v;
            }
            Mutation::Extend(more) => b.extend_from_slice(more),
            _ => {}
        }
    }
    b
}

fn idx_images(n: u32, r: u32, c: u32) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 3];
    for v in [n, r, c] {
        b.extend(v.to_be_bytes());
    }
    b.extend((0..n * r * c).map(|k| k as u8));
    b
}

const SPEC: &str = r#"{"arch":"gated","channels":1,"height":8,"width":8,"layers":2,"hidden":8,"first_kernel":5,"kernel":3,"head_hidden":8,"conditioning":{"kind":"none"}}"#;

proptest! {
    #[test]
    fn idx_images_never_panic(ms in prop::collection::vec(mutation(), 0..6), header in prop::collection::vec(any::<u8>(), 0..12)) {
        let mut b = mutate(idx_images(3, 4, 5), &ms);
        // sometimes an arbitrary (possibly huge) count/size header
        if b.len() >= 16 && !header.is_empty() {
            let k = header.len().min(12);
            b[4..4 + k].copy_from_slice(&header[..k]);
        }
        if let Ok(imgs) = idx::parse_images(Path::new("f"), &b) {
            prop_assert_eq!(imgs.pixels.len(), imgs.count * imgs.rows * imgs.cols);
        }
        let _ = idx::parse_labels(Path::new("f"), &b);
    }

    #[test]
    fn npy_readers_never_panic(ms in prop::collection::vec(mutation(), 0..6), images in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        if images {
            npy::write_images(&p, &[7u8; 2 * 9], [2, 1, 3, 3]).unwrap();
        } else {
            npy::write_matrix(&p, &[0.5f32; 6], 2, 3).unwrap();
        }
        let b = mutate(std::fs::read(&p).unwrap(), &ms);
        std::fs::write(&p, &b).unwrap();
        if let Ok(v) = npy::read_images(&p, [1, 3, 3]) {
            prop_assert_eq!(v.len() % 9, 0);
        }
        if let Ok((v, r, c)) = npy::read_matrix(&p) {
            prop_assert_eq!(v.len(), r * c);
        }
    }

    #[test]
    fn spec_and_contract_json_never_panic(ms in prop::collection::vec(mutation(), 0..6)) {
        let b = mutate(SPEC.as_bytes().to_vec(), &ms);
        let text = String::from_utf8_lossy(&b);
        if let Ok(spec) = ModelSpec::from_json(&text) {
            // whatever parses has been validated
            prop_assert!(spec.validate().is_ok());
        }
        let _ = Contract::from_json(&text);
    }

    #[test]
    fn random_bytes_are_never_a_panic(b in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = idx::parse_images(Path::new("f"), &b);
        let _ = idx::parse_labels(Path::new("f"), &b);
        let _ = ModelSpec::from_json(&String::from_utf8_lossy(&b));
    }
}
