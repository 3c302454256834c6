//! A small ONNX graph builder over `onnx-protobuf`: named inputs/outputs, f32/i64
//! initialisers, nodes with attributes, unique value names. Standard domain only.

use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto, AttributeProto, GraphProto,
    ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};

use pixelcnn_models::contract::{GraphContract, TensorSpec};

/// A dimension of a graph input/output: fixed or a named symbol (the batch), as the
/// contract writes it.
pub use pixelcnn_models::contract::DimSpec as Dim;

/// The symbolic batch dimension every graph input and output starts with.
pub const BATCH: &str = "batch";

/// `[batch, dims...]`: a graph value's shape, the symbolic batch first.
pub fn batched(dims: &[usize]) -> Vec<Dim> {
    std::iter::once(Dim::Named(BATCH.into()))
        .chain(dims.iter().map(|&d| Dim::Fixed(d)))
        .collect()
}

/// Element types of these graphs: the contract's, under the name the graph code uses.
pub use pixelcnn_models::contract::Dtype as Elem;

/// ONNX's `TensorProto.DataType` code of an element type.
pub fn onnx_type(elem: Elem) -> i32 {
    match elem {
        Elem::F32 => DataType::FLOAT as i32,
        Elem::I64 => DataType::INT64 as i32,
        Elem::U8 => DataType::UINT8 as i32,
    }
}

/// An attribute value.
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
}

#[derive(Default)]
pub struct GraphBuilder {
    graph: GraphProto,
    counter: usize,
    /// The interface as declared, for the contract.
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

fn tensor_spec(name: &str, dtype: Elem, dims: &[Dim]) -> TensorSpec {
    TensorSpec {
        name: name.to_string(),
        dtype,
        shape: dims.to_vec(),
    }
}

fn value_info(name: &str, elem: Elem, dims: &[Dim]) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    for d in dims {
        let mut dim = tensor_shape_proto::Dimension::new();
        dim.value = Some(match d {
            Dim::Fixed(n) => tensor_shape_proto::dimension::Value::DimValue(*n as i64),
            Dim::Named(s) => tensor_shape_proto::dimension::Value::DimParam(s.clone()),
        });
        shape.dim.push(dim);
    }
    let mut tt = type_proto::Tensor::new();
    tt.elem_type = onnx_type(elem);
    tt.shape = Some(shape).into();
    let mut tp = TypeProto::new();
    tp.value = Some(type_proto::Value::TensorType(tt));
    let mut vi = ValueInfoProto::new();
    vi.name = name.to_string();
    vi.type_ = Some(tp).into();
    vi
}

impl GraphBuilder {
    pub fn new(name: &str) -> Self {
        let mut b = Self::default();
        b.graph.name = name.to_string();
        b
    }

    pub fn input(&mut self, name: &str, elem: Elem, dims: &[Dim]) -> String {
        self.graph.input.push(value_info(name, elem, dims));
        self.inputs.push(tensor_spec(name, elem, dims));
        name.to_string()
    }

    /// Declares graph output `name` and makes `value` flow into it (via Identity when the
    /// names differ).
    pub fn output(&mut self, name: &str, value: &str, elem: Elem, dims: &[Dim]) {
        if value != name {
            self.node_named("Identity", &[value], name, vec![]);
        }
        self.graph.output.push(value_info(name, elem, dims));
        self.outputs.push(tensor_spec(name, elem, dims));
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.counter += 1;
        format!("{hint}_{}", self.counter)
    }

    fn initializer(&mut self, hint: &str, dtype: DataType, dims: Vec<i64>, raw_data: Vec<u8>) -> String {
        let name = self.fresh(hint);
        let mut t = TensorProto::new();
        (t.name, t.data_type, t.dims, t.raw_data) = (name.clone(), dtype as i32, dims, raw_data);
        self.graph.initializer.push(t);
        name
    }

    /// An f32 initialiser.
    pub fn weight(&mut self, hint: &str, dims: &[usize], data: Vec<f32>) -> String {
        let n = dims.iter().product::<usize>();
        assert_eq!(n, data.len(), "initialiser {hint}: shape and data disagree");
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(hint, DataType::FLOAT, dims.iter().map(|&d| d as i64).collect(), raw)
    }

    /// An i64 initialiser (shapes, axes, indices).
    pub fn ints(&mut self, hint: &str, data: &[i64]) -> String {
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(hint, DataType::INT64, vec![data.len() as i64], raw)
    }

    /// A scalar f32 constant.
    pub fn scalar(&mut self, hint: &str, v: f32) -> String {
        self.initializer(hint, DataType::FLOAT, vec![], v.to_le_bytes().to_vec())
    }

    /// `Cast` of `x` to `to`.
    pub fn cast(&mut self, x: &str, to: Elem) -> String {
        self.node("Cast", &[x], vec![("to", Attr::Int(onnx_type(to) as i64))])
    }

    /// Adds a node with one output; returns the output's name.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node_named(op, inputs, &out, attrs);
        out
    }

    /// Adds a node whose single output has a given name.
    pub fn node_named(&mut self, op: &str, inputs: &[&str], output: &str, attrs: Vec<(&str, Attr)>) {
        self.push_node(op, inputs, &[output], attrs);
    }

    /// Adds a node with `outputs` outputs (e.g. Split); returns their names.
    pub fn node_multi(&mut self, op: &str, inputs: &[&str], outputs: usize, attrs: Vec<(&str, Attr)>) -> Vec<String> {
        let names: Vec<String> = (0..outputs).map(|_| self.fresh(&op.to_lowercase())).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        self.push_node(op, inputs, &refs, attrs);
        names
    }

    fn push_node(&mut self, op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<(&str, Attr)>) {
        let mut n = NodeProto::new();
        n.op_type = op.to_string();
        n.name = format!("{op}_{}", self.graph.node.len());
        n.input = inputs.iter().map(|s| s.to_string()).collect();
        n.output = outputs.iter().map(|s| s.to_string()).collect();
        for (name, a) in attrs {
            let mut ap = AttributeProto::new();
            ap.name = name.to_string();
            match a {
                Attr::Int(i) => {
                    ap.type_ = AttributeType::INT.into();
                    ap.i = i;
                }
                Attr::Ints(v) => {
                    ap.type_ = AttributeType::INTS.into();
                    ap.ints = v;
                }
                Attr::Float(f) => {
                    ap.type_ = AttributeType::FLOAT.into();
                    ap.f = f;
                }
            }
            n.attribute.push(ap);
        }
        self.graph.node.push(n);
    }

    /// Graph outputs are declared through an `Identity` from the value computed; where that
    /// value feeds nothing else, its node writes the output directly instead (a step graph
    /// runs hundreds of times per image: every node costs).
    fn fold_output_identities(&mut self) {
        let outputs: Vec<String> = self.graph.output.iter().map(|o| o.name.clone()).collect();
        let mut k = 0;
        while k < self.graph.node.len() {
            let n = &self.graph.node[k];
            let foldable = n.op_type == "Identity" && n.input.len() == 1 && outputs.contains(&n.output[0]);
            if foldable {
                let (from, to) = (n.input[0].clone(), n.output[0].clone());
                let uses = self.graph.node.iter().filter(|m| m.input.contains(&from)).count();
                let producer = self.graph.node.iter().position(|m| m.output.contains(&from));
                if let (1, Some(p), false) = (uses, producer, outputs.contains(&from)) {
                    for o in self.graph.node[p].output.iter_mut() {
                        if *o == from {
                            o.clone_from(&to);
                        }
                    }
                    self.graph.node.remove(k);
                    continue;
                }
            }
            k += 1;
        }
    }

    pub fn contract(&self, file: &str) -> GraphContract {
        GraphContract {
            file: file.to_string(),
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
            external_data: Vec::new(),
        }
    }

    /// Wraps the graph into a model with an opset, metadata and documentation.
    pub fn finish(mut self, opset: i64, doc: &str, metadata: &[(&str, String)]) -> ModelProto {
        self.fold_output_identities();
        let mut m = ModelProto::new();
        m.ir_version = 8; // ONNX 1.10+: understood by every runtime this project targets
        let mut op = OperatorSetIdProto::new();
        op.domain = String::new();
        op.version = opset;
        m.opset_import.push(op);
        m.producer_name = "pixelcnn-deploy".into();
        m.producer_version = env!("CARGO_PKG_VERSION").into();
        m.doc_string = doc.to_string();
        add_metadata(&mut m, metadata);
        m.graph = Some(self.graph).into();
        m
    }
}

/// Appends `metadata` (key, value) to a model's `metadata_props`.
pub fn add_metadata(m: &mut ModelProto, metadata: &[(&str, String)]) {
    for (k, v) in metadata {
        let mut e = StringStringEntryProto::new();
        e.key = k.to_string();
        e.value = v.clone();
        m.metadata_props.push(e);
    }
}
