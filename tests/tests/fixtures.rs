//! The tiny exported models the runtime's CLI tests run on (`runtime/tests/fixtures/`,
//! committed so those tests need no burn) are byte for byte what the exporter writes
//! today. After a deliberate export change, rewrite them with
//! `UPDATE_FIXTURES=1 cargo test -p pixelcnn-tests --test pixelcnn fixtures::`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pixelcnn_models::backend::Cpu;
use pixelcnn_models::{Arch, Conditioning, PixelModel};
use pixelcnn_tests::tiny_spec;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/fixtures")
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
                .map(|p| {
                    (
                        p.file_name().unwrap().to_string_lossy().to_string(),
                        std::fs::read(&p).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn runtime_cli_fixtures_are_todays_exports() {
    let update = std::env::var_os("UPDATE_FIXTURES").is_some();
    for (name, arch, cond) in [
        ("gated", Arch::Gated, Conditioning::None),
        ("vector", Arch::Gated, Conditioning::Vector { dim: 5 }),
        ("ae", Arch::Autoencoder, Conditioning::None),
    ] {
        let model = PixelModel::<Cpu>::new(&tiny_spec(arch, 1, cond), 1, &Default::default());
        let tmp = tempfile::tempdir().unwrap();
        pixelcnn_exporter::export(&model, tmp.path(), 17).unwrap();
        let want = files(tmp.path());
        let dir = fixtures().join(name);
        if update {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for (file, bytes) in &want {
                std::fs::write(dir.join(file), bytes).unwrap();
            }
        }
        let got = files(&dir);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{}: other files than an export (UPDATE_FIXTURES=1 rewrites them)",
            dir.display()
        );
        for (file, bytes) in &want {
            assert!(
                &got[file] == bytes,
                "{}/{file} differs from today's export (UPDATE_FIXTURES=1 rewrites it)",
                dir.display()
            );
        }
    }
}
