//! ONNX Runtime through `ort` (`load-dynamic`): the shared library comes from the PyPI
//! wheel, fetched by `scripts/setup-ort.sh` into `.ort/`, found there without any
//! environment variable (`ORT_DYLIB_PATH` overrides).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;
use ort::environment::Environment;
use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{IoBinding, Session};
use ort::value::{DynTensorValueType, Tensor};
use pixelcnn_core::contract::{names, GraphContract};

use super::{Engine, EngineKind, Input, Value};

pub const ORT_VERSION: &str = "1.31.1";

/// Candidate locations of libonnxruntime.so, in order.
pub fn library_candidates(gpu: bool) -> Vec<PathBuf> {
    if let Ok(p) = std::env::var("ORT_DYLIB_PATH") {
        // an explicit choice is the only candidate: never silently load another library
        return vec![PathBuf::from(p)];
    }
    let sub = if gpu { "gpu" } else { "cpu" };
    let file = format!("libonnxruntime.so.{ORT_VERSION}");
    let mut roots = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")];
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/exe -> repository root; or a carried bundle next to the binary
        roots.extend(exe.ancestors().skip(1).take(4).map(Path::to_path_buf));
    }
    roots.extend(std::env::current_dir());
    roots
        .into_iter()
        .map(|r| r.join(".ort").join(sub).join(&file))
        .collect()
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
            let looked: Vec<_> = cands.iter().map(|p| p.display().to_string()).collect();
            let flag = if gpu { " --gpu" } else { "" };
            format!(
                "ONNX Runtime library not found; run scripts/setup-ort.sh{flag} (looked in: {})",
                looked.join(", ")
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

/// One session with an IoBinding: inputs are bound as given (host or device values), state
/// outputs (`present_*`, `v_ctx`) are bound to where the execution provider computes (GPU
/// memory under CUDA/TensorRT) and the other outputs (logits) to host memory (pinned on a
/// GPU), so a cached sampling loop moves only the row and the logits across the bus.
pub struct OrtEngine {
    session: Session,
    binding: IoBinding,
    inputs: Vec<String>,
    /// Output names and where each is placed.
    outputs: Vec<(String, MemoryInfo<'static>)>,
}

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("ONNX Runtime ({what}): {e}")
}

impl OrtEngine {
    pub fn load(kind: &EngineKind, path: &Path, contract: &GraphContract) -> anyhow::Result<Self> {
        // the environment first: it loads the ONNX Runtime library (or says why it cannot
        // be loaded); any other ort call before that would panic inside ort
        let env = environment(kind)?;
        let mut builder = Session::builder(env).context("ONNX Runtime session builder")?;
        builder = crate::gpu::register_providers(builder, kind)?;
        if contract.file == "step_pixel.onnx" {
            // a pixel step is a chain of tiny ops: thread-pool hand-offs cost more than they save
            builder = builder.with_intra_threads(1).map_err(err("threads"))?;
        } else if contract.file == "step_row.onnx" {
            // between row steps the pixel steps run on this thread: a spinning pool would
            // take the other core from them (batch 1: +20-25% images/s, A/B on 2 cores)
            builder = builder.with_intra_op_spinning(false).map_err(err("spinning"))?;
        }
        let session = builder
            .commit_from_file(path)
            .map_err(|e| anyhow::anyhow!("ONNX Runtime: loading {}: {e}", path.display()))?;
        let (device, host) = if kind.is_gpu() {
            let cuda = |dev, mem| MemoryInfo::new(dev, 0, AllocatorType::Device, mem).map_err(err("memory"));
            (
                cuda(AllocationDevice::CUDA, MemoryType::Default)?,
                cuda(AllocationDevice::CUDA_PINNED, MemoryType::CPUOutput)?,
            )
        } else {
            (MemoryInfo::default(), MemoryInfo::default())
        };
        let binding = session.create_binding().map_err(err("binding"))?;
        let outputs = contract
            .outputs
            .iter()
            .map(|t| {
                let at = if names::is_state(&t.name) { &device } else { &host };
                (t.name.clone(), at.clone())
            })
            .collect();
        Ok(Self {
            session,
            binding,
            inputs: contract.inputs.iter().map(|t| t.name.clone()).collect(),
            outputs,
        })
    }
}

impl Engine for OrtEngine {
    fn upload(&self, input: &Input<'_>) -> anyhow::Result<Value> {
        let v = match input {
            Input::U8(a) => Tensor::from_array(a.to_owned()).map(|t| t.upcast()),
            Input::I64(a) => Tensor::from_array(a.to_owned()).map(|t| t.upcast()),
            Input::F32(a) => Tensor::from_array(a.to_owned()).map(|t| t.upcast()),
        }
        .map_err(err("input"))?;
        Ok(Value::Ort(v))
    }

    // without tract, ONNX Runtime values are the only kind
    #[cfg_attr(not(feature = "tract"), allow(irrefutable_let_patterns))]
    fn run(&mut self, inputs: &[&Value]) -> anyhow::Result<Vec<Value>> {
        for (name, v) in self.inputs.iter().zip(inputs) {
            let Value::Ort(v) = v else {
                anyhow::bail!("input `{name}` is not an ONNX Runtime value")
            };
            self.binding.bind_input(name.as_str(), v).map_err(err("bind"))?;
        }
        // fresh output buffers every run: ONNX Runtime would write a run's outputs into the
        // buffers of the last run's, which the caller still holds (the next call's states)
        self.binding.clear_outputs();
        for (name, at) in &self.outputs {
            self.binding
                .bind_output_to_device(name.as_str(), at)
                .map_err(err("binding"))?;
        }
        let mut outs = self.session.run_binding(&self.binding).map_err(err("run"))?;
        self.outputs
            .iter()
            .map(|(name, _)| {
                let v = outs
                    .remove(name.as_str())
                    .ok_or_else(|| anyhow::anyhow!("ONNX Runtime: missing output {name}"))?;
                let t = v.downcast::<DynTensorValueType>().map_err(err("output"))?;
                Ok(Value::Ort(t))
            })
            .collect()
    }
}
