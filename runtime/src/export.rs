//! An exported model directory: the spec and the contract, read from `model.onnx`'s
//! metadata, and the paths of its graphs.

use std::path::{Path, PathBuf};

use anyhow::Context;
use onnx_protobuf::{Message, ModelProto};
use pixelcnn_core::contract::{Contract, GraphContract, CONTRACT_KEY, SPEC_KEY};
use pixelcnn_core::ModelSpec;

#[derive(Debug, Clone)]
pub struct Export {
    pub dir: PathBuf,
    pub spec: ModelSpec,
    pub contract: Contract,
}

/// Reads `pixelcnn.spec` and `pixelcnn.contract` from an ONNX file's metadata.
pub fn read_metadata(path: &Path) -> anyhow::Result<(ModelSpec, Contract)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let model = ModelProto::parse_from_bytes(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not an ONNX model: {e}", path.display()))?;
    let at = |e: String| anyhow::anyhow!("{}: {e}", path.display());
    let get = |key: &str| {
        let prop = model.metadata_props.iter().find(|p| p.key == key);
        let hint = "(was it written by `exporter --to onnx`?)";
        prop.map(|p| p.value.as_str())
            .ok_or_else(|| at(format!("metadata has no `{key}` {hint}")))
    };
    let spec = ModelSpec::from_json(get(SPEC_KEY)?).map_err(at)?;
    let contract = Contract::from_json(get(CONTRACT_KEY)?).map_err(at)?;
    Ok((spec, contract))
}

impl Export {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let model = dir.join("model.onnx");
        anyhow::ensure!(
            model.exists(),
            "{}: no model.onnx here (expected the output directory of `exporter --to onnx`)",
            dir.display()
        );
        let (spec, contract) = read_metadata(&model)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            spec,
            contract,
        })
    }

    /// The contract and file path of a graph role (`model`, `encoder`, `step_row`, ...).
    pub fn graph(&self, role: &str) -> anyhow::Result<(GraphContract, PathBuf)> {
        let g = self
            .contract
            .graph(role)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.dir.display()))?;
        Ok((g.clone(), self.dir.join(&g.file)))
    }
}
