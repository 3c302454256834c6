//! Exports trained PixelCNN checkpoints as standard ONNX graphs (no custom domains):
//! `model.onnx` (whole images: logits and bits/dim), `encoder.onnx` for auto-encoders,
//! and the cached single-step sampling graphs. burn has no ONNX export, so the graphs are
//! written here from the module's weights, masks applied.

pub mod builder;
pub mod external;
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
/// The largest file an export writes by default (4 MiB): a graph whose weights would make
/// it larger keeps them in external data files ([`external`]).
pub const DEFAULT_MAX_FILE_BYTES: usize = 4 << 20;

/// How to export.
#[derive(Debug, Clone, Copy)]
pub struct ExportOptions {
    /// The ONNX opset ([`OPSETS`]).
    pub opset: i64,
    /// The largest file to write: a graph that would be larger keeps its weights in
    /// external data files of at most this size.
    pub max_file_bytes: usize,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            opset: DEFAULT_OPSET,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportReport {
    pub files: Vec<(PathBuf, u64)>,
    pub opset: i64,
    pub ops: Vec<String>,
}

/// Removes the data files that an earlier export into `out` left beside the graphs and
/// this one does not write (a graph now small enough to hold its weights, fewer files).
fn remove_stale_data_files<T>(
    out: &Path,
    graphs: &[(&str, &str, T)],
    written: &[(String, Vec<u8>)],
) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))?;
    for entry in entries {
        let name = entry.with_context(|| format!("reading {}", out.display()))?.file_name();
        let name = name.to_string_lossy();
        let ours = graphs.iter().any(|(_, file, _)| {
            name.strip_prefix(*file)
                .and_then(|rest| rest.strip_prefix(".data-"))
                .is_some_and(|k| k.parse::<u32>().is_ok())
        });
        if ours && !written.iter().any(|(w, _)| *w == name) {
            let path = out.join(name.as_ref());
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

/// Writes every graph of `model` into `out`, in `opset`, with the default largest file.
pub fn export<B: Backend>(model: &PixelModel<B>, out: &Path, opset: i64) -> anyhow::Result<ExportReport> {
    let options = ExportOptions {
        opset,
        ..ExportOptions::default()
    };
    export_with(model, out, &options)
}

/// Writes every graph of `model` into `out`.
pub fn export_with<B: Backend>(
    model: &PixelModel<B>,
    out: &Path,
    options: &ExportOptions,
) -> anyhow::Result<ExportReport> {
    let ExportOptions { opset, max_file_bytes } = *options;
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
    let mut contract = Contract {
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
    let mut protos = Vec::new();
    for (role, file, g) in graphs {
        let doc = format!(
            "pixelcnn-deploy {role} graph for a {:?} PixelCNN ({}x{}x{}, conditioning {}). See pixelcnn.contract.",
            spec.arch, spec.channels, spec.height, spec.width, contract.conditioning
        );
        protos.push((role, file, g.finish(opset, &doc, &[])));
    }
    // a graph that would be larger than the largest file, with the metadata it will carry
    // (and room for the data files' names in it), keeps its weights beside it
    let metadata_bytes = spec.to_json().len() + serde_json::to_string(&contract)?.len() + 1024;
    let mut data_files = Vec::new();
    for (role, file, proto) in &mut protos {
        if proto.compute_size() as usize + metadata_bytes > max_file_bytes {
            let files = external::externalize(proto, file, max_file_bytes)?;
            let entry = contract.graphs.get_mut(*role).expect("every graph has a contract");
            entry.external_data = files.iter().map(|(name, _)| name.clone()).collect();
            data_files.extend(files);
        }
    }
    let contract_json = serde_json::to_string(&contract)?;
    let mut report = ExportReport {
        files: Vec::new(),
        opset,
        ops: Vec::new(),
    };
    // every file serialised and sized before any is written
    let mut ops = std::collections::BTreeSet::new();
    let mut graph_files = Vec::new();
    for (_, file, proto) in &mut protos {
        let metadata = [(SPEC_KEY, spec.to_json()), (CONTRACT_KEY, contract_json.clone())];
        builder::add_metadata(proto, &metadata);
        if let Some(graph) = proto.graph.as_ref() {
            ops.extend(graph.node.iter().map(|n| n.op_type.clone()));
        }
        let bytes = proto.write_to_bytes().context("serialising ONNX")?;
        anyhow::ensure!(
            bytes.len() <= max_file_bytes,
            "{file}: {} bytes without its weights, more than the largest file allowed ({max_file_bytes} bytes)",
            bytes.len()
        );
        graph_files.push((file.to_string(), bytes));
    }
    remove_stale_data_files(out, &protos, &data_files)?;
    for (name, bytes) in data_files.iter().chain(&graph_files) {
        let path = out.join(name);
        pixelcnn_core::replace_file(&path, bytes)?;
        report.files.push((path, bytes.len() as u64));
    }
    report.ops = ops.into_iter().collect();
    let readme = readme::render(spec, &contract, opset);
    std::fs::write(out.join("README.md"), readme)
        .with_context(|| format!("writing {}", out.join("README.md").display()))?;
    Ok(report)
}
