//! Exports trained PixelCNN checkpoints as standard ONNX graphs (no custom domains):
//! `model.onnx` (whole images: logits and bits/dim), `encoder.onnx` for auto-encoders,
//! and the cached single-step sampling graphs. burn has no ONNX export, so the graphs are
//! written here from the module's weights, masks applied.

pub mod builder;
pub mod full;
pub mod layers;
pub mod lower;
pub mod readme;
pub mod reference;
pub mod step;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::tensor::backend::Backend;
use onnx_protobuf::Message;
use pixelcnn_models::contract::{Contract, CONTRACT_FORMAT, CONTRACT_KEY, SPEC_KEY};
use pixelcnn_models::{Conditioning, PixelModel};

use crate::builder::GraphBuilder;

/// Opsets the exporter can write (the ops used need at least 13).
pub const OPSETS: std::ops::RangeInclusive<i64> = 13..=21;
pub const DEFAULT_OPSET: i64 = 17;

/// What an export wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportReport {
    pub files: Vec<(PathBuf, u64)>,
    pub opset: i64,
    pub ops: Vec<String>,
}

/// Writes every graph of `model` into `out`.
pub fn export<B: Backend>(model: &PixelModel<B>, out: &Path, opset: i64) -> anyhow::Result<ExportReport> {
    anyhow::ensure!(
        OPSETS.contains(&opset),
        "--opset {opset}: supported opsets are {}..={}",
        OPSETS.start(),
        OPSETS.end()
    );
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut graphs: Vec<(&str, &str, GraphBuilder)> = vec![("model", "model.onnx", full::model_graph(model))];
    if let Some(g) = full::encoder_graph(model) {
        graphs.push(("encoder", "encoder.onnx", g));
    }
    let cached = match (step::row_graph(model), step::pixel_graph(model)) {
        (Some(row), Some(pixel)) => {
            graphs.push(("step_row", "step_row.onnx", row));
            graphs.push(("step_pixel", "step_pixel.onnx", pixel));
            true
        }
        _ => false,
    };
    let spec = &model.spec;
    let contract = Contract {
        format: CONTRACT_FORMAT,
        conditioning: match spec.decoder_conditioning() {
            Conditioning::None => "none",
            Conditioning::Class { .. } => "class",
            Conditioning::Vector { .. } => "vector",
            Conditioning::Spatial { .. } => "spatial",
        }
        .to_string(),
        normalization: "x = uint8 / 127.5 - 1".into(),
        graphs: graphs
            .iter()
            .map(|(role, file, g)| (role.to_string(), g.contract(file)))
            .collect::<BTreeMap<_, _>>(),
        sampling: cached.then(|| step::SAMPLING_DOC.to_string()),
    };
    let contract_json = serde_json::to_string(&contract)?;
    let mut report = ExportReport {
        files: Vec::new(),
        opset,
        ops: Vec::new(),
    };
    let mut ops = std::collections::BTreeSet::new();
    for (role, file, g) in graphs {
        let doc = format!(
            "pixelcnn-deploy {role} graph for a {:?} PixelCNN ({}x{}x{}, conditioning {}). See pixelcnn.contract.",
            spec.arch, spec.channels, spec.height, spec.width, contract.conditioning
        );
        let proto = g.finish(
            opset,
            &doc,
            &[(SPEC_KEY, spec.to_json()), (CONTRACT_KEY, contract_json.clone())],
        );
        if let Some(graph) = proto.graph.as_ref() {
            ops.extend(graph.node.iter().map(|n| n.op_type.clone()));
        }
        let bytes = proto.write_to_bytes().context("serialising ONNX")?;
        let path = out.join(file);
        pixelcnn_core::replace_file(&path, &bytes)?;
        report.files.push((path, bytes.len() as u64));
    }
    report.ops = ops.into_iter().collect();
    let readme = readme::render(spec, &contract, opset);
    std::fs::write(out.join("README.md"), readme)
        .with_context(|| format!("writing {}", out.join("README.md").display()))?;
    Ok(report)
}
