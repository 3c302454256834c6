//! The burn backends this project runs on, by name. `cpu` is the fastest CPU backend
//! measured for these models (burn-flex: gemm-based, multi-threaded; see
//! `scripts/bench-train.sh`); `candle` and `ndarray` stay selectable for comparison;
//! `cuda` exists with the `cuda` cargo feature.

use std::fmt;
use std::str::FromStr;

/// Flex CPU backend (the default).
pub type Cpu = burn::backend::Flex;
/// Candle CPU backend.
#[allow(deprecated)]
pub type Candle = burn::backend::Candle<f32, i64>;
/// Pure-Rust ndarray backend.
pub type NdArray = burn::backend::NdArray<f32>;
#[cfg(feature = "cuda")]
/// CUDA through burn-cuda (CubeCL).
pub type Cuda = burn::backend::Cuda<f32, i32>;

/// A backend name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Cpu,
    Candle,
    NdArray,
    Cuda,
}

impl FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" | "flex" => Ok(Self::Cpu),
            "candle" => Ok(Self::Candle),
            "ndarray" => Ok(Self::NdArray),
            "cuda" => Ok(Self::Cuda),
            other => Err(format!(
                "unknown backend `{other}`: expected cpu, candle, ndarray or cuda"
            )),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Candle => "candle",
            Self::NdArray => "ndarray",
            Self::Cuda => "cuda",
        })
    }
}
