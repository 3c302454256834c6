//! Weights beside a graph, in ONNX external data files: for a graph whose weights would
//! make its file larger than an export's largest file (a repository that limits file
//! sizes, a server that limits uploads). Each moved initializer gets `data_location:
//! EXTERNAL` and `external_data` {`location` (relative to the graph file), `offset`,
//! `length`}, the convention every ONNX runtime reads when it loads the graph from its
//! path (ONNX Runtime, tract, TensorRT's parser, `onnx.load`).

use anyhow::Context;
use onnx_protobuf::tensor_proto::DataLocation;
use onnx_protobuf::{ModelProto, StringStringEntryProto};

/// Initializers smaller than this (shapes, scalars) stay in the graph file.
const INLINE_BYTES: usize = 1024;

/// The name of data file `k` of the graph `file`: `model.onnx.data-000`.
pub fn data_name(file: &str, k: usize) -> String {
    format!("{file}.data-{k:03}")
}

/// Moves the weights of `proto` (the graph written as `file`) into data files of at most
/// `max_bytes` each, initializers in graph order, each whole in one file. Returns the
/// files' names and contents.
pub fn externalize(proto: &mut ModelProto, file: &str, max_bytes: usize) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let graph = proto.graph.as_mut().context("the model has no graph")?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for t in graph
        .initializer
        .iter_mut()
        .filter(|t| t.raw_data.len() >= INLINE_BYTES)
    {
        let len = t.raw_data.len();
        anyhow::ensure!(
            len <= max_bytes,
            "{file}: the initializer `{}` has {len} bytes, more than the largest file allowed ({max_bytes} bytes)",
            t.name
        );
        if files.last().is_none_or(|(_, bytes)| bytes.len() + len > max_bytes) {
            files.push((data_name(file, files.len()), Vec::new()));
        }
        let (location, bytes) = files.last_mut().expect("a file was just pushed");
        let offset = bytes.len();
        bytes.append(&mut t.raw_data);
        t.data_location = DataLocation::EXTERNAL.into();
        t.external_data = [
            ("location", location.clone()),
            ("offset", offset.to_string()),
            ("length", len.to_string()),
        ]
        .into_iter()
        .map(|(key, value)| {
            let mut e = StringStringEntryProto::new();
            (e.key, e.value) = (key.to_string(), value);
            e
        })
        .collect();
    }
    Ok(files)
}
