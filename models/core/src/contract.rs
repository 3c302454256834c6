//! The `pixelcnn.contract` metadata stored in every exported ONNX graph: which graph
//! files exist, their input/output names, dtypes and shapes ("batch" marks the dynamic
//! axis), and how the cached step graphs are driven. Written by the exporter, read by
//! the runtime and by `scripts/*.py`; docs/onnx-interface.md describes it for people.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of this contract's layout.
pub const CONTRACT_FORMAT: u32 = 1;
/// `metadata_props` key of the contract JSON.
pub const CONTRACT_KEY: &str = "pixelcnn.contract";
/// `metadata_props` key of the ModelSpec JSON.
pub const SPEC_KEY: &str = "pixelcnn.spec";

/// One dimension: a number, or the name of a dynamic axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DimSpec {
    Fixed(usize),
    Named(String),
}

/// Element type of a graph input or output; written as `uint8`, `int64` or `float32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dtype {
    #[serde(rename = "uint8")]
    U8,
    #[serde(rename = "int64")]
    I64,
    #[serde(rename = "float32")]
    F32,
}

impl Dtype {
    /// The name used in the contract and the docs.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::U8 => "uint8",
            Dtype::I64 => "int64",
            Dtype::F32 => "float32",
        }
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<DimSpec>,
}

impl TensorSpec {
    /// The shape with the batch axis set to `batch`.
    pub fn concrete_shape(&self, batch: usize) -> Vec<usize> {
        self.shape
            .iter()
            .map(|d| match d {
                DimSpec::Fixed(n) => *n,
                DimSpec::Named(_) => batch,
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphContract {
    pub file: String,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    /// The files beside `file` that hold its weights (ONNX external data), for a graph
    /// whose weights would make `file` larger than the export's largest file; empty when
    /// `file` holds them all. A runtime loading the graph from a path finds them itself;
    /// one loading it from bytes is handed them (onnxruntime-web's `externalData`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_data: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    pub format: u32,
    /// `none`, `class`, `vector` or `spatial` (auto-encoder decoders: `vector`).
    pub conditioning: String,
    /// How uint8 values enter the network.
    pub normalization: String,
    /// Graphs by role: `model`, `encoder`, `step_row`, `step_pixel`.
    pub graphs: BTreeMap<String, GraphContract>,
    /// How to drive the step graphs (absent if none were exported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<String>,
}

impl Contract {
    pub fn graph(&self, role: &str) -> Result<&GraphContract, String> {
        self.graphs.get(role).ok_or_else(|| {
            format!(
                "the export has no `{role}` graph (has: {:?})",
                self.graphs.keys().collect::<Vec<_>>()
            )
        })
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        let c: Contract = serde_json::from_str(text).map_err(|e| format!("{CONTRACT_KEY}: {e}"))?;
        if c.format != CONTRACT_FORMAT {
            return Err(format!(
                "{CONTRACT_KEY}: format {} is not supported (expected {CONTRACT_FORMAT})",
                c.format
            ));
        }
        Ok(c)
    }
}

/// The tensor names of the ONNX interface (`docs/onnx-interface.md`), generated in this one
/// place for the exporter and every runtime.
pub mod names {
    /// `model.onnx` / encoder input: images `[batch, C, H, W]` uint8.
    pub const IMAGE: &str = "image";
    /// Per-sub-pixel log-probabilities over the 256 levels.
    pub const LOGITS: &str = "logits";
    /// Class conditioning `[batch]` int64.
    pub const LABEL: &str = "label";
    /// Vector (or spatial, or auto-encoder code) conditioning `[batch, dim]` float32.
    pub const COND: &str = "cond";
    /// Step graphs: the current row `[batch, C, W]` uint8.
    pub const ROW: &str = "row";
    /// `step_pixel`: the column being drawn (int64 scalar).
    pub const COL: &str = "col";
    /// Spatial conditioning: the row being drawn (int64 scalar).
    pub const ROW_INDEX: &str = "row_index";
    /// The vertical stack's context for the current row, `step_row` -> `step_pixel`.
    pub const V_CTX: &str = "v_ctx";

    /// Vertical-stack state of layer `l`, fed to `step_row`.
    pub fn past_v(l: usize) -> String {
        format!("past_v.{l}")
    }
    /// Vertical-stack state of layer `l` after a row, from `step_row`.
    pub fn present_v(l: usize) -> String {
        format!("present_v.{l}")
    }
    /// Horizontal-stack state of layer `l` (l >= 1), fed to `step_pixel`.
    pub fn past_h(l: usize) -> String {
        format!("past_h.{l}")
    }
    /// Horizontal-stack state of layer `l` after a pixel, from `step_pixel`.
    pub fn present_h(l: usize) -> String {
        format!("present_h.{l}")
    }

    /// A cached-sampling state: produced by one step graph call and consumed by the next,
    /// so an engine may keep it where it computes (device memory) instead of the host.
    pub fn is_state(name: &str) -> bool {
        name == V_CTX || name.starts_with("past_") || name.starts_with("present_")
    }
}
