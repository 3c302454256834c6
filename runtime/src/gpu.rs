//! GPU execution providers for ONNX Runtime: CUDA and TensorRT. Requesting a provider
//! that cannot be registered is an error saying why, unless the caller asked for a
//! fallback to CPU.

use ort::ep;
use ort::session::builder::SessionBuilder;
use ort::session::Session;

use crate::engine::EngineKind;

/// Settles which engine really runs before any work starts: a GPU engine whose library
/// or provider cannot be loaded is an error saying what to install, or, when it allows
/// fallback, plain ONNX Runtime on CPU plus a note saying why (for the caller to show).
pub fn resolve(kind: &EngineKind) -> anyhow::Result<(EngineKind, Option<String>)> {
    if !kind.is_gpu() {
        return Ok((kind.clone(), None));
    }
    let strict = kind.clone().with_fallback(false);
    let probe = crate::engine::ort::environment(kind).and_then(|env| {
        let b = Session::builder(env).map_err(|e| anyhow::anyhow!("ONNX Runtime session builder: {e}"))?;
        register_providers(b, &strict)
    });
    match probe {
        Ok(_) => Ok((strict, None)),
        Err(e) if kind.allows_fallback() => {
            crate::engine::ort::environment(&EngineKind::Ort)?;
            let note = format!("{e:#}; running on CPU instead (--fallback)");
            Ok((EngineKind::Ort, Some(note)))
        }
        Err(e) => Err(e),
    }
}

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
