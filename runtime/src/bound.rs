//! Cached sampling on ONNX Runtime with IoBinding: the per-layer states (`present_*` ->
//! `past_*`) and `v_ctx` stay where the execution provider put them (GPU memory with
//! CUDA/TensorRT) and are bound as the next call's inputs without a host round trip;
//! only the logits come back to the host (pinned memory on a GPU), because sampling
//! happens there. On the CPU provider the same code runs with CPU memory, which is how
//! the tests check it against the plain cached sampler.

use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
use ort::session::Session;
use ort::value::{DynValue, Tensor};
use pixelcnn_core::contract::GraphContract;
use pixelcnn_core::{Conditioning, ModelSpec, LEVELS};

use crate::engine::ort::environment;
use crate::engine::EngineKind;
use crate::export::Export;
use crate::sampler::{SampleRequest, Sampler};
use pixelcnn_core::rng::{sample_logits, SplitMix64};

/// Takes an output the binding will overwrite on its next run, as an independent copy
/// on the same device (ONNX Runtime reuses bound output buffers across runs).
fn take(outs: &mut ort::session::SessionOutputs<'_>, name: &str) -> anyhow::Result<DynValue> {
    let v = outs
        .remove(name)
        .ok_or_else(|| anyhow::anyhow!("missing output {name}"))?;
    let t = v.downcast::<ort::value::DynTensorValueType>().map_err(err("output"))?;
    Ok(t.clone().into_dyn())
}

fn err(what: &str) -> impl FnOnce(ort::Error) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("ONNX Runtime ({what}): {e}")
}

pub struct BoundCachedSampler {
    spec: ModelSpec,
    batch: usize,
    row: Session,
    pixel: Session,
    row_contract: GraphContract,
    pixel_contract: GraphContract,
    /// Where states live, and where host-read outputs go.
    device: MemoryInfo<'static>,
    host: MemoryInfo<'static>,
}

fn session(kind: &EngineKind, path: &Path, single_thread: bool) -> anyhow::Result<Session> {
    let mut b = Session::builder(environment(kind)?).map_err(err("session builder"))?;
    b = crate::gpu::register_providers(b, kind)?;
    if single_thread {
        b = b
            .with_intra_threads(1)
            .map_err(|e| anyhow::anyhow!("ONNX Runtime threads: {e}"))?;
    }
    b.commit_from_file(path)
        .map_err(|e| anyhow::anyhow!("ONNX Runtime: loading {}: {e}", path.display()))
}

impl BoundCachedSampler {
    pub fn new(export: &Export, kind: &EngineKind, batch: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !matches!(kind, EngineKind::Tract),
            "IoBinding is an ONNX Runtime feature: use --backend ort*"
        );
        let (row_contract, row_path) = export.graph("step_row")?;
        let (pixel_contract, pixel_path) = export.graph("step_pixel")?;
        // sessions first: they load the ONNX Runtime library (or say why it cannot be
        // loaded); any other ort call before that would panic inside ort
        let row = session(kind, &row_path, false)?;
        let pixel = session(kind, &pixel_path, true)?;
        let (device, host) = if kind.is_gpu() {
            (
                MemoryInfo::new(AllocationDevice::CUDA, 0, AllocatorType::Device, MemoryType::Default)
                    .map_err(err("memory"))?,
                MemoryInfo::new(
                    AllocationDevice::CUDA_PINNED,
                    0,
                    AllocatorType::Device,
                    MemoryType::CPUOutput,
                )
                .map_err(err("memory"))?,
            )
        } else {
            (MemoryInfo::default(), MemoryInfo::default())
        };
        Ok(Self {
            spec: export.spec.clone(),
            batch,
            row,
            pixel,
            row_contract,
            pixel_contract,
            device,
            host,
        })
    }

    fn zeros(&self, contract: &GraphContract, name: &str) -> anyhow::Result<DynValue> {
        let t = contract.inputs.iter().find(|t| t.name == name).expect("state input");
        let a = ArrayD::<f32>::zeros(IxDyn(&t.concrete_shape(self.batch)));
        Ok(Tensor::from_array(a).map_err(err("state"))?.into_dyn())
    }
}

impl Sampler for BoundCachedSampler {
    fn batch(&self) -> usize {
        self.batch
    }

    fn sample(&mut self, req: &SampleRequest, progress: &mut dyn FnMut(usize, usize)) -> anyhow::Result<Vec<u8>> {
        let n = self.batch;
        let s = self.spec.clone();
        let (c, h, w, l) = (s.channels, s.height, s.width, s.layers);
        crate::sampler::check_request(&s, req, n)?;
        anyhow::ensure!(
            req.prefix.is_none(),
            "bound sampler: completion is not supported (use --mode cached)"
        );
        let mut rngs: Vec<SplitMix64> = req.seeds.iter().map(|&x| SplitMix64::new(x)).collect();
        // the same validation as every sampler: label range, vector sizes
        let arrays = crate::sampler::cond_arrays(&s, &req.cond, n)?;
        let cond: Option<(&str, DynValue)> = match (arrays.label, arrays.cond) {
            (Some(l), _) => Some(("label", Tensor::from_array(l).map_err(err("label"))?.into_dyn())),
            (_, Some(_)) if matches!(s.decoder_conditioning(), Conditioning::Spatial { .. }) => {
                anyhow::bail!("bound sampler: spatial conditioning is not supported (use --mode cached)")
            }
            (_, Some(v)) => Some(("cond", Tensor::from_array(v).map_err(err("cond"))?.into_dyn())),
            (None, None) => None,
        };
        let h_names: Vec<String> = (1..l).map(|k| format!("past_h.{k}")).collect();
        let v_names: Vec<String> = (0..l).map(|k| format!("past_v.{k}")).collect();
        let mut past_v: Vec<DynValue> = v_names
            .iter()
            .map(|n| self.zeros(&self.row_contract, n))
            .collect::<anyhow::Result<_>>()?;
        let mut v_ctx = self.zeros(&self.pixel_contract, "v_ctx")?;
        let mut images = vec![0u8; n * c * h * w];
        let mut pb = self.pixel.create_binding().map_err(err("binding"))?;
        let mut rb = self.row.create_binding().map_err(err("binding"))?;
        if let Some((name, v)) = &cond {
            pb.bind_input(*name, v).map_err(err("bind"))?;
            rb.bind_input(*name, v).map_err(err("bind"))?;
        }
        pb.bind_output_to_device("logits", &self.host).map_err(err("bind"))?;
        for k in 1..l {
            pb.bind_output_to_device(format!("present_h.{k}"), &self.device)
                .map_err(err("bind"))?;
        }
        rb.bind_output_to_device("v_ctx", &self.device).map_err(err("bind"))?;
        for k in 0..l {
            rb.bind_output_to_device(format!("present_v.{k}"), &self.device)
                .map_err(err("bind"))?;
        }
        let mut row = ArrayD::<u8>::zeros(IxDyn(&[n, c, w]));
        for i in 0..h {
            row.fill(0);
            let mut past_h: Vec<DynValue> = h_names
                .iter()
                .map(|n| self.zeros(&self.pixel_contract, n))
                .collect::<anyhow::Result<_>>()?;
            pb.bind_input("v_ctx", &v_ctx).map_err(err("bind"))?;
            for j in 0..w {
                let col = Tensor::from_array(ndarray::arr0(j as i64).into_dyn()).map_err(err("col"))?;
                pb.bind_input("col", &col).map_err(err("bind"))?;
                for (name, v) in h_names.iter().zip(&past_h) {
                    pb.bind_input(name.as_str(), v).map_err(err("bind"))?;
                }
                for ch in 0..c {
                    let rt = Tensor::from_array(row.clone()).map_err(err("row"))?;
                    pb.bind_input("row", &rt).map_err(err("bind"))?;
                    let mut outs = self.pixel.run_binding(&pb).map_err(err("step_pixel"))?;
                    {
                        let logits = outs["logits"].try_extract_array::<f32>().map_err(err("logits"))?;
                        let flat = logits.as_slice().expect("contiguous logits");
                        for (b, rng) in rngs.iter_mut().enumerate() {
                            let at = (b * c + ch) * LEVELS;
                            row[[b, ch, j]] = sample_logits(&flat[at..at + LEVELS], req.temperature, rng)?;
                        }
                    }
                    if ch == c - 1 {
                        for (k, v) in past_h.iter_mut().enumerate() {
                            *v = take(&mut outs, &format!("present_h.{}", k + 1))?;
                        }
                    }
                }
                progress(i * w + j + 1, h * w);
            }
            crate::sampler::store_row(&mut images, &row, i, h);
            if i + 1 < h {
                let rt = Tensor::from_array(row.clone()).map_err(err("row"))?;
                rb.bind_input("row", &rt).map_err(err("bind"))?;
                for (name, v) in v_names.iter().zip(&past_v) {
                    rb.bind_input(name.as_str(), v).map_err(err("bind"))?;
                }
                let mut outs = self.row.run_binding(&rb).map_err(err("step_row"))?;
                v_ctx = take(&mut outs, "v_ctx")?;
                for (k, v) in past_v.iter_mut().enumerate() {
                    *v = take(&mut outs, &format!("present_v.{k}"))?;
                }
            }
        }
        Ok(images)
    }
}
