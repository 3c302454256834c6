//! The burn backends this project runs on, by name. `cpu` is the fastest CPU backend
//! measured for these models (burn-flex: gemm-based, multi-threaded; see
//! `scripts/bench-train.sh`); `ndarray` (f32, and f64 in the tests) stays selectable for comparison;
//! `cuda` exists with the `cuda` cargo feature.

use std::fmt;
use std::str::FromStr;

/// Flex CPU backend (the default).
pub type Cpu = burn::backend::Flex;
/// Pure-Rust ndarray backend.
pub type NdArray = burn::backend::NdArray<f32>;
#[cfg(feature = "cuda")]
/// CUDA through burn-cuda (CubeCL).
pub type Cuda = burn::backend::Cuda<f32, i32>;

/// A backend name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Cpu,
    NdArray,
    Cuda,
}

impl FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" | "flex" => Ok(Self::Cpu),
            "ndarray" => Ok(Self::NdArray),
            "cuda" => Ok(Self::Cuda),
            other => Err(format!("unknown backend `{other}`: expected cpu, ndarray or cuda")),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::NdArray => "ndarray",
            Self::Cuda => "cuda",
        })
    }
}
