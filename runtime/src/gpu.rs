//! GPU execution providers for ONNX Runtime: CUDA and TensorRT. Requesting a provider
//! that cannot be registered is an error saying why, unless the caller asked for a
//! fallback to CPU.

use ort::ep;
use ort::session::builder::SessionBuilder;

use crate::engine::EngineKind;

/// Registers the providers `kind` asks for (none for CPU).
pub fn register_providers(builder: SessionBuilder, kind: &EngineKind) -> anyhow::Result<SessionBuilder> {
    match kind {
        EngineKind::Ort | EngineKind::Tract => Ok(builder),
        EngineKind::OrtCuda { fallback } => {
            let cuda = ep::CUDA::default().build();
            let cuda = if *fallback { cuda } else { cuda.error_on_failure() };
            builder.with_execution_providers([cuda]).map_err(|e| {
                anyhow::anyhow!(
                    "CUDA execution provider could not be registered: {e} (pass --fallback to run on CPU instead)"
                )
            })
        }
        EngineKind::OrtTensorRt {
            fallback,
            fp16,
            cache_dir,
        } => {
            let mut trt = ep::TensorRT::default().with_fp16(*fp16);
            if let Some(dir) = cache_dir {
                trt = trt
                    .with_engine_cache(true)
                    .with_engine_cache_path(dir.display().to_string());
            }
            let trt = trt.build();
            let trt = if *fallback { trt } else { trt.error_on_failure() };
            // CUDA after TensorRT so nodes TensorRT rejects still run on the GPU
            builder
                .with_execution_providers([trt, ep::CUDA::default().build()])
                .map_err(|e| anyhow::anyhow!("TensorRT execution provider could not be registered: {e} (needs libnvinfer 10; pass --fallback to continue without it)"))
        }
    }
}
