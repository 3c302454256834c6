//! Execution engines behind one trait: ONNX Runtime (`ort`) and `tract`. A `Graph` wraps
//! an engine with its contract and checks every call's inputs (names, dtypes, shapes)
//! so a bad call is a clear error instead of a runtime crash deep in an engine.

pub mod ort;
pub mod tract;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use ndarray::{ArrayD, ArrayViewD};
use pixelcnn_core::contract::GraphContract;

/// A borrowed input tensor.
#[derive(Debug, Clone)]
pub enum Input<'a> {
    U8(ArrayViewD<'a, u8>),
    I64(ArrayViewD<'a, i64>),
    F32(ArrayViewD<'a, f32>),
}

impl Input<'_> {
    pub fn dtype(&self) -> &'static str {
        match self {
            Input::U8(_) => "uint8",
            Input::I64(_) => "int64",
            Input::F32(_) => "float32",
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

/// Runs one ONNX graph. Inputs and outputs are in the order of the graph's contract.
pub trait Engine: Send {
    fn run(&mut self, inputs: &[Input<'_>]) -> anyhow::Result<Vec<ArrayD<f32>>>;
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
        match self {
            Self::OrtCuda { fallback } | Self::OrtTensorRt { fallback, .. } => *fallback,
            Self::Ort | Self::Tract => false,
        }
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

/// A loaded graph with its contract; `batch` fixes the dynamic axis.
pub struct Graph {
    pub contract: GraphContract,
    pub batch: usize,
    engine: Box<dyn Engine>,
}

impl Graph {
    pub fn load(kind: &EngineKind, path: &Path, contract: GraphContract, batch: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(batch > 0, "batch size must be positive");
        let engine: Box<dyn Engine> = match kind {
            EngineKind::Tract => Box::new(tract::TractEngine::load(path, &contract, batch)?),
            _ => Box::new(ort::OrtEngine::load(kind, path, &contract)?),
        };
        Ok(Self {
            contract,
            batch,
            engine,
        })
    }

    /// Runs the graph with named inputs; checks them against the contract first.
    pub fn run(&mut self, inputs: &[(&str, Input<'_>)]) -> anyhow::Result<Vec<ArrayD<f32>>> {
        let file = &self.contract.file;
        for (name, _) in inputs {
            anyhow::ensure!(
                self.contract.inputs.iter().any(|t| t.name == *name),
                "{file}: unexpected input `{name}` (inputs are {:?})",
                self.contract.inputs.iter().map(|t| &t.name).collect::<Vec<_>>()
            );
        }
        let mut ordered = Vec::with_capacity(self.contract.inputs.len());
        for spec in &self.contract.inputs {
            let (_, value) = inputs.iter().find(|(n, _)| *n == spec.name).ok_or_else(|| {
                anyhow::anyhow!(
                    "{file}: missing input `{}` ({} {:?})",
                    spec.name,
                    spec.dtype,
                    spec.concrete_shape(self.batch)
                )
            })?;
            anyhow::ensure!(
                value.dtype() == spec.dtype,
                "{file}: input `{}` must be {}, got {}",
                spec.name,
                spec.dtype,
                value.dtype()
            );
            let want = spec.concrete_shape(self.batch);
            anyhow::ensure!(
                value.shape() == want.as_slice(),
                "{file}: input `{}` must have shape {want:?} (batch {}), got {:?}",
                spec.name,
                self.batch,
                value.shape()
            );
            ordered.push(value.clone());
        }
        self.engine.run(&ordered)
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
