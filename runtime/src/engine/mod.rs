//! Execution engines behind one trait: ONNX Runtime (`ort`) and `tract`. A `Graph` wraps
//! an engine with its contract and checks every call's inputs (names, dtypes, shapes)
//! so a bad call is a clear error instead of a runtime crash deep in an engine.

pub mod ort;
#[cfg(feature = "tract")]
pub mod tract;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use pixelcnn_core::contract::{Dtype, GraphContract, TensorSpec};

/// A borrowed input tensor.
#[derive(Debug, Clone)]
pub enum Input<'a> {
    U8(ArrayViewD<'a, u8>),
    I64(ArrayViewD<'a, i64>),
    F32(ArrayViewD<'a, f32>),
}

impl Input<'_> {
    pub fn dtype(&self) -> Dtype {
        match self {
            Input::U8(_) => Dtype::U8,
            Input::I64(_) => Dtype::I64,
            Input::F32(_) => Dtype::F32,
        }
    }
    pub fn shape(&self) -> &[usize] {
        match self {
            Input::U8(a) => a.shape(),
            Input::I64(a) => a.shape(),
            Input::F32(a) => a.shape(),
        }
    }
}

/// A tensor where its engine keeps it: an ONNX Runtime value (host memory, or device memory
/// under a GPU provider) or a tract value. Step-graph states pass from one call to the next
/// as `Value`s and never visit the host; outputs the caller reads (logits) are placed in
/// host memory by the engine.
pub enum Value {
    Ort(::ort::value::DynTensor),
    #[cfg(feature = "tract")]
    Tract(tract_onnx::prelude::TValue),
}

impl Value {
    /// A float32 value in host memory, as an array view (no copy).
    fn host_view(&self) -> anyhow::Result<ArrayViewD<'_, f32>> {
        match self {
            Value::Ort(v) => {
                anyhow::ensure!(
                    v.memory_info().is_cpu_accessible(),
                    "an ONNX Runtime value in device memory was read as a host array"
                );
                v.try_extract_array::<f32>()
                    .map_err(|e| anyhow::anyhow!("ONNX Runtime output: {e}"))
            }
            #[cfg(feature = "tract")]
            Value::Tract(v) => v
                .to_plain_array_view::<f32>()
                .map_err(|e| anyhow::anyhow!("tract output: {e:#}")),
        }
    }

    /// The float32 data of a value in host memory, without a copy.
    pub fn host_f32(&self) -> anyhow::Result<&[f32]> {
        self.host_view()?
            .to_slice()
            .ok_or_else(|| anyhow::anyhow!("engine output is not contiguous"))
    }

    /// A float32 value as a host array (copied from device memory where it lives there).
    pub fn to_host(&self) -> anyhow::Result<ArrayD<f32>> {
        match self {
            Value::Ort(v) if !v.memory_info().is_cpu_accessible() => {
                let t = v
                    .to(::ort::memory::AllocationDevice::CPU, 0)
                    .map_err(|e| anyhow::anyhow!("ONNX Runtime device-to-host copy: {e}"))?;
                Value::Ort(t).to_host()
            }
            _ => Ok(self.host_view()?.to_owned()),
        }
    }
}

/// Runs one ONNX graph on values it owns. Inputs and outputs are in the order of the
/// graph's contract.
pub trait Engine: Send {
    /// A host tensor as a value this engine can take as input.
    fn upload(&self, input: &Input<'_>) -> anyhow::Result<Value>;
    /// Runs the graph; state outputs stay where the engine computed them.
    fn run(&mut self, inputs: &[&Value]) -> anyhow::Result<Vec<Value>>;
}

/// Which engine to run graphs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineKind {
    /// ONNX Runtime, CPU execution provider.
    Ort,
    /// ONNX Runtime with the CUDA execution provider.
    OrtCuda {
        fallback: bool,
    },
    /// ONNX Runtime with TensorRT (CUDA after it for unsupported nodes).
    OrtTensorRt {
        fallback: bool,
        fp16: bool,
        cache_dir: Option<std::path::PathBuf>,
    },
    Tract,
}

impl EngineKind {
    /// ONNX Runtime with a GPU execution provider (CUDA or TensorRT).
    pub fn is_gpu(&self) -> bool {
        matches!(self, Self::OrtCuda { .. } | Self::OrtTensorRt { .. })
    }

    /// A GPU engine asked to run on CPU when its provider or library is missing.
    pub fn allows_fallback(&self) -> bool {
        matches!(
            self,
            Self::OrtCuda { fallback: true } | Self::OrtTensorRt { fallback: true, .. }
        )
    }

    /// The same engine with the GPU fallback on or off (CPU engines have none).
    pub fn with_fallback(mut self, on: bool) -> Self {
        if let Self::OrtCuda { fallback } | Self::OrtTensorRt { fallback, .. } = &mut self {
            *fallback = on;
        }
        self
    }
}

impl FromStr for EngineKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ort" => Ok(Self::Ort),
            "ort-cuda" => Ok(Self::OrtCuda { fallback: false }),
            "ort-tensorrt" => Ok(Self::OrtTensorRt {
                fallback: false,
                fp16: false,
                cache_dir: None,
            }),
            "tract" => Ok(Self::Tract),
            other => Err(format!(
                "unknown backend `{other}`: expected ort, ort-cuda, ort-tensorrt or tract"
            )),
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ort => "ort",
            Self::OrtCuda { .. } => "ort-cuda",
            Self::OrtTensorRt { .. } => "ort-tensorrt",
            Self::Tract => "tract",
        })
    }
}

/// A loaded graph with its contract; `batch` fixes the dynamic axis. Every value that
/// enters from the host is checked against the contract (name, dtype, shape) first, so a
/// bad call is a clear error instead of a crash deep in an engine.
pub struct Graph {
    pub contract: GraphContract,
    pub batch: usize,
    engine: Box<dyn Engine>,
}

impl Graph {
    pub fn load(kind: &EngineKind, path: &Path, contract: GraphContract, batch: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(batch > 0, "batch size must be positive");
        let engine: Box<dyn Engine> = match kind {
            #[cfg(feature = "tract")]
            EngineKind::Tract => Box::new(tract::TractEngine::load(path, &contract, batch)?),
            #[cfg(not(feature = "tract"))]
            EngineKind::Tract => anyhow::bail!(
                "this build has no tract engine: rebuild with `cargo build -p pixelcnn-runtime --features tract`, or use --backend ort"
            ),
            _ => Box::new(ort::OrtEngine::load(kind, path, &contract)?),
        };
        Ok(Self {
            contract,
            batch,
            engine,
        })
    }

    fn input_spec(&self, name: &str) -> anyhow::Result<&TensorSpec> {
        let inputs = &self.contract.inputs;
        inputs.iter().find(|t| t.name == name).ok_or_else(|| {
            let names: Vec<_> = inputs.iter().map(|t| &t.name).collect();
            anyhow::anyhow!(
                "{}: unexpected input `{name}` (inputs are {names:?})",
                self.contract.file
            )
        })
    }

    /// Whether the graph takes an input of this name.
    pub fn has_input(&self, name: &str) -> bool {
        self.contract.inputs.iter().any(|t| t.name == name)
    }

    /// A host tensor for input `name`, checked against the contract.
    pub fn upload(&self, name: &str, value: &Input<'_>) -> anyhow::Result<Value> {
        let file = &self.contract.file;
        let spec = self.input_spec(name)?;
        anyhow::ensure!(
            value.dtype() == spec.dtype,
            "{file}: input `{name}` must be {}, got {}",
            spec.dtype,
            value.dtype()
        );
        let want = spec.concrete_shape(self.batch);
        anyhow::ensure!(
            value.shape() == want.as_slice(),
            "{file}: input `{name}` must have shape {want:?} (batch {}), got {:?}",
            self.batch,
            value.shape()
        );
        self.engine.upload(value)
    }

    /// Zeros for float32 input `name` (a state's start value).
    pub fn zeros(&self, name: &str) -> anyhow::Result<Value> {
        let a = ArrayD::<f32>::zeros(IxDyn(&self.input_spec(name)?.concrete_shape(self.batch)));
        self.upload(name, &Input::F32(a.view()))
    }

    /// Runs the graph on named values (from [`Graph::upload`], [`Graph::zeros`] or an
    /// earlier run's outputs); outputs in the contract's order.
    pub fn run_values(&mut self, inputs: &[(&str, &Value)]) -> anyhow::Result<Vec<Value>> {
        for (name, _) in inputs {
            self.input_spec(name)?;
        }
        let mut ordered = Vec::with_capacity(self.contract.inputs.len());
        for spec in &self.contract.inputs {
            let Some((_, value)) = inputs.iter().find(|(n, _)| *n == spec.name) else {
                let (file, shape) = (&self.contract.file, spec.concrete_shape(self.batch));
                anyhow::bail!("{file}: missing input `{}` ({} {shape:?})", spec.name, spec.dtype);
            };
            ordered.push(*value);
        }
        self.engine.run(&ordered)
    }

    /// Runs the graph on host tensors and returns host arrays.
    pub fn run(&mut self, inputs: &[(&str, Input<'_>)]) -> anyhow::Result<Vec<ArrayD<f32>>> {
        let values = inputs
            .iter()
            .map(|(name, v)| Ok((*name, self.upload(name, v)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let named: Vec<(&str, &Value)> = values.iter().map(|(n, v)| (*n, v)).collect();
        self.run_values(&named)?.iter().map(Value::to_host).collect()
    }

    /// Index of an output by name.
    pub fn output_index(&self, name: &str) -> anyhow::Result<usize> {
        self.contract
            .outputs
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| anyhow::anyhow!("{}: no output `{name}`", self.contract.file))
    }
}
