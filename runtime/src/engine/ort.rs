//! ONNX Runtime through `ort` (`load-dynamic`): the shared library comes from the PyPI
//! wheel, fetched by `scripts/setup-ort.sh` into `.ort/`, found there without any
//! environment variable (`ORT_DYLIB_PATH` overrides).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;
use ndarray::ArrayD;
use ort::environment::Environment;
use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;
use pixelcnn_core::contract::GraphContract;

use super::{Engine, EngineKind, Input};

pub const ORT_VERSION: &str = "1.31.1";

/// Candidate locations of libonnxruntime.so, in order.
pub fn library_candidates(gpu: bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(p) = std::env::var("ORT_DYLIB_PATH") {
        // an explicit choice is the only candidate: never silently load another library
        return vec![PathBuf::from(p)];
    }
    let sub = if gpu { "gpu" } else { "cpu" };
    let file = format!("libonnxruntime.so.{ORT_VERSION}");
    let mut roots = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")];
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/exe -> repository root; or a carried bundle next to the binary
        for up in exe.ancestors().skip(1).take(4) {
            roots.push(up.to_path_buf());
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    for r in roots {
        out.push(r.join(".ort").join(sub).join(&file));
    }
    out
}

static ENV: OnceLock<Result<Environment, String>> = OnceLock::new();

/// The process-wide ONNX Runtime environment (the library loads once, for the first
/// engine kind asked for). A GPU engine needs the GPU build (`.ort/gpu`); with
/// `--fallback` the CPU build is the second choice, on which the GPU provider then fails
/// to register and the session runs on CPU. Errors say what to install; never a panic.
pub fn environment(kind: &EngineKind) -> anyhow::Result<&'static Environment> {
    let gpu = kind.is_gpu();
    let env = ENV.get_or_init(|| {
        let mut cands = library_candidates(gpu);
        if gpu && kind.allows_fallback() && std::env::var_os("ORT_DYLIB_PATH").is_none() {
            cands.extend(library_candidates(false));
        }
        let lib = cands.iter().find(|p| p.exists()).cloned().ok_or_else(|| {
            format!(
                "ONNX Runtime library not found; run scripts/setup-ort.sh{} (looked in: {})",
                if gpu { " --gpu" } else { "" },
                cands
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        ort::init_from(&lib)
            .map_err(|e| format!("{}: could not load ONNX Runtime: {e}", lib.display()))?
            .with_name("pixelcnn")
            .build()
            .map_err(|e| format!("{}: ONNX Runtime environment: {e}", lib.display()))
    });
    env.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
}

pub struct OrtEngine {
    session: Session,
    inputs: Vec<String>,
    outputs: Vec<String>,
}

impl OrtEngine {
    pub fn load(kind: &EngineKind, path: &Path, contract: &GraphContract) -> anyhow::Result<Self> {
        let env = environment(kind)?;
        let mut builder = Session::builder(env).context("ONNX Runtime session builder")?;
        builder = crate::gpu::register_providers(builder, kind)?;
        if contract.file == "step_pixel.onnx" {
            // a pixel step is a chain of tiny ops: thread-pool hand-offs cost more than they save
            builder = builder
                .with_intra_threads(1)
                .map_err(|e| anyhow::anyhow!("ONNX Runtime threads: {e}"))?;
        }
        let session = builder
            .commit_from_file(path)
            .map_err(|e| anyhow::anyhow!("ONNX Runtime: loading {}: {e}", path.display()))?;
        Ok(Self {
            session,
            inputs: contract.inputs.iter().map(|t| t.name.clone()).collect(),
            outputs: contract.outputs.iter().map(|t| t.name.clone()).collect(),
        })
    }
}

impl Engine for OrtEngine {
    fn run(&mut self, inputs: &[Input<'_>]) -> anyhow::Result<Vec<ArrayD<f32>>> {
        let mut values: Vec<(std::borrow::Cow<'_, str>, SessionInputValue<'_>)> = Vec::with_capacity(inputs.len());
        for (name, input) in self.inputs.iter().zip(inputs) {
            let v: SessionInputValue<'_> = match input {
                Input::U8(a) => TensorRef::from_array_view(a.view())?.into(),
                Input::I64(a) => TensorRef::from_array_view(a.view())?.into(),
                Input::F32(a) => TensorRef::from_array_view(a.view())?.into(),
            };
            values.push((name.as_str().into(), v));
        }
        let outs = self
            .session
            .run(values)
            .map_err(|e| anyhow::anyhow!("ONNX Runtime run: {e}"))?;
        self.outputs
            .iter()
            .map(|n| {
                let a = outs[n.as_str()]
                    .try_extract_array::<f32>()
                    .map_err(|e| anyhow::anyhow!("output {n}: {e}"))?;
                Ok(a.to_owned())
            })
            .collect()
    }
}
