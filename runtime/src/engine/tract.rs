//! tract: pure-Rust inference. The batch axis is fixed at load time so tract can fully
//! optimise; one `SimpleState` is kept and reused across calls (a fresh plan per call
//! would re-allocate everything).

use std::path::Path;

use anyhow::Context;
use pixelcnn_core::contract::{Dtype, GraphContract};
use tract_onnx::prelude::*;

use super::{Engine, Input, Value};

pub struct TractEngine {
    state: TypedSimpleState,
    /// The state refers to the plan's symbol scope: keep the plan alive with it.
    _plan: std::sync::Arc<TypedRunnableModel>,
}

fn datum(dtype: Dtype) -> DatumType {
    match dtype {
        Dtype::U8 => u8::datum_type(),
        Dtype::I64 => i64::datum_type(),
        Dtype::F32 => f32::datum_type(),
    }
}

impl TractEngine {
    pub fn load(path: &Path, contract: &GraphContract, batch: usize) -> anyhow::Result<Self> {
        let mut model = tract_onnx::onnx()
            .model_for_path(path)
            .map_err(|e| anyhow::anyhow!("tract: loading {}: {e:#}", path.display()))?;
        for (i, spec) in contract.inputs.iter().enumerate() {
            let shape: Vec<usize> = spec.concrete_shape(batch);
            model
                .set_input_fact(i, InferenceFact::dt_shape(datum(spec.dtype), shape))
                .map_err(|e| anyhow::anyhow!("tract: input {}: {e:#}", spec.name))?;
        }
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| anyhow::anyhow!("tract: optimising {}: {e:#}", path.display()))?;
        let state = TypedSimpleState::new(&plan).context("tract state")?;
        Ok(Self { state, _plan: plan })
    }
}

impl Engine for TractEngine {
    fn upload(&self, input: &Input<'_>) -> anyhow::Result<Value> {
        Ok(Value::Tract(match input {
            Input::U8(a) => a.to_owned().into_tensor().into_tvalue(),
            Input::I64(a) => a.to_owned().into_tensor().into_tvalue(),
            Input::F32(a) => a.to_owned().into_tensor().into_tvalue(),
        }))
    }

    fn run(&mut self, inputs: &[&Value]) -> anyhow::Result<Vec<Value>> {
        // tract values are shared, not copied: a state passes from one call to the next as is
        let values = inputs
            .iter()
            .map(|v| match v {
                Value::Tract(t) => Ok(t.clone()),
                Value::Ort(_) => anyhow::bail!("an ONNX Runtime value was given to tract"),
            })
            .collect::<anyhow::Result<TVec<TValue>>>()?;
        let outs = self
            .state
            .run(values)
            .map_err(|e| anyhow::anyhow!("tract run: {e:#}"))?;
        Ok(outs.into_iter().map(Value::Tract).collect())
    }
}
