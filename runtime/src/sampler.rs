//! `Sampler`: draws images from an exported model, on any engine, in two modes:
//! `cached` (step graphs: the vertical stack once per row, the horizontal stack and head
//! once per sub-pixel) and `naive` (`model.onnx` once per sub-pixel, the baseline).
//! Values are drawn on the host with the documented RNG of [`pixelcnn_core::rng`], so the same
//! seed gives the same image on every engine and in both modes.

use ndarray::{ArrayD, IxDyn};
use pixelcnn_core::contract::GraphContract;
use pixelcnn_core::{Conditioning, ModelSpec, LEVELS};

use crate::engine::{EngineKind, Graph, Input};
use crate::export::Export;
use pixelcnn_core::rng::{sample_logits, SplitMix64};

/// What the images are conditioned on.
#[derive(Debug, Clone, PartialEq)]
pub enum CondInput {
    None,
    /// One label per image.
    Labels(Vec<i64>),
    /// One `dim`-vector per image, row-major `[n, dim]`.
    Vectors(Vec<f32>, usize),
}

/// One sampling call.
#[derive(Debug, Clone)]
pub struct SampleRequest {
    pub cond: CondInput,
    /// One RNG stream seed per image (see [`pixelcnn_core::rng::image_seed`]).
    pub seeds: Vec<u64>,
    /// Completion: images `[n, C, H, W]` whose top `rows` rows are kept as given.
    pub prefix: Option<(Vec<u8>, usize)>,
    pub temperature: f64,
}

/// Draws images `[n, C, H, W]` (uint8, row-major).
pub trait Sampler {
    /// Images per call (fixed when the sampler is built).
    fn batch(&self) -> usize;
    /// `progress(done, total)` is called after every pixel.
    fn sample(&mut self, req: &SampleRequest, progress: &mut dyn FnMut(usize, usize)) -> anyhow::Result<Vec<u8>>;
}

/// Which sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Cached,
    Naive,
    /// Cached, on ONNX Runtime with IoBinding (states stay on the device). `cached` on
    /// a GPU backend uses this automatically.
    Bound,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cached" => Ok(Self::Cached),
            "naive" => Ok(Self::Naive),
            "bound" => Ok(Self::Bound),
            o => Err(format!("unknown mode `{o}`: expected cached, naive or bound")),
        }
    }
}

/// Builds a sampler for `batch` images per call.
pub fn open(export: &Export, engine: &EngineKind, mode: Mode, batch: usize) -> anyhow::Result<Box<dyn Sampler>> {
    Ok(match mode {
        Mode::Bound => Box::new(crate::bound::BoundCachedSampler::new(export, engine, batch)?),
        Mode::Cached if engine.is_gpu() => Box::new(crate::bound::BoundCachedSampler::new(export, engine, batch)?),
        Mode::Cached => Box::new(CachedSampler::new(export, engine, batch)?),
        Mode::Naive => Box::new(NaiveSampler::new(export, engine, batch)?),
    })
}

/// Conditioning arrays for a batch, checked against the spec.
pub(crate) struct CondArrays {
    pub(crate) label: Option<ArrayD<i64>>,
    pub(crate) cond: Option<ArrayD<f32>>,
}

pub(crate) fn cond_arrays(spec: &ModelSpec, cond: &CondInput, n: usize) -> anyhow::Result<CondArrays> {
    let mut out = CondArrays {
        label: None,
        cond: None,
    };
    match (spec.decoder_conditioning(), cond) {
        (Conditioning::None, CondInput::None) => {}
        (Conditioning::Class { classes }, CondInput::Labels(l)) => {
            anyhow::ensure!(l.len() == n, "{} labels for {n} images", l.len());
            if let Some(bad) = l.iter().find(|&&v| v < 0 || v as usize >= classes) {
                anyhow::bail!("label {bad} is out of range 0..{classes}");
            }
            out.label = Some(ArrayD::from_shape_vec(IxDyn(&[n]), l.clone())?);
        }
        (Conditioning::Vector { dim } | Conditioning::Spatial { dim, .. }, CondInput::Vectors(v, d)) => {
            anyhow::ensure!(
                *d == dim,
                "conditioning vectors have {d} columns, the model expects {dim}"
            );
            anyhow::ensure!(
                v.len() == n * dim,
                "{} conditioning rows for {n} images",
                v.len() / dim.max(1)
            );
            out.cond = Some(ArrayD::from_shape_vec(IxDyn(&[n, dim]), v.clone())?);
        }
        (want, got) => {
            anyhow::bail!("the model is conditioned on {want:?}, the request gives {got:?}")
        }
    }
    Ok(out)
}

pub(crate) fn check_request(spec: &ModelSpec, req: &SampleRequest, n: usize) -> anyhow::Result<()> {
    anyhow::ensure!(req.seeds.len() == n, "{} seeds for a batch of {n}", req.seeds.len());
    pixelcnn_core::rng::check_temperature(req.temperature)?;
    if let Some((img, rows)) = &req.prefix {
        anyhow::ensure!(
            img.len() == n * spec.dims(),
            "completion images: {} bytes for {n} images of {}",
            img.len(),
            spec.dims()
        );
        anyhow::ensure!(*rows <= spec.height, "completion keeps {rows} rows of {}", spec.height);
    }
    Ok(())
}

fn load(export: &Export, role: &str, engine: &EngineKind, batch: usize) -> anyhow::Result<Graph> {
    let (contract, path): (GraphContract, _) = export.graph(role)?;
    Graph::load(engine, &path, contract, batch)
}

/// Full-network sampling: `model.onnx` once per sub-pixel.
pub struct NaiveSampler {
    spec: ModelSpec,
    model: Graph,
    logits: usize,
}

impl NaiveSampler {
    pub fn new(export: &Export, engine: &EngineKind, batch: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(
            export.spec.encoder.is_none(),
            "naive sampling of an auto-encoder's decoder needs a decoder graph: use --mode cached"
        );
        let model = load(export, "model", engine, batch)?;
        let logits = model.output_index("logits")?;
        Ok(Self {
            spec: export.spec.clone(),
            model,
            logits,
        })
    }
}

impl Sampler for NaiveSampler {
    fn batch(&self) -> usize {
        self.model.batch
    }

    fn sample(&mut self, req: &SampleRequest, progress: &mut dyn FnMut(usize, usize)) -> anyhow::Result<Vec<u8>> {
        let n = self.batch();
        check_request(&self.spec, req, n)?;
        let s = &self.spec;
        let (c, h, w) = (s.channels, s.height, s.width);
        let conds = cond_arrays(s, &req.cond, n)?;
        let (mut img, start) = match &req.prefix {
            Some((p, rows)) => (ArrayD::from_shape_vec(IxDyn(&[n, c, h, w]), p.clone())?, *rows),
            None => (ArrayD::<u8>::zeros(IxDyn(&[n, c, h, w])), 0),
        };
        for i in start..h {
            for r in 0..n {
                for ch in 0..c {
                    for j in 0..w {
                        img[[r, ch, i, j]] = 0;
                    }
                }
            }
        }
        let mut rngs: Vec<SplitMix64> = req.seeds.iter().map(|&s| SplitMix64::new(s)).collect();
        for i in start..h {
            for j in 0..w {
                for ch in 0..c {
                    let mut inputs = vec![("image", Input::U8(img.view()))];
                    if let Some(l) = &conds.label {
                        inputs.push(("label", Input::I64(l.view())));
                    }
                    if let Some(v) = &conds.cond {
                        inputs.push(("cond", Input::F32(v.view())));
                    }
                    let out = self.model.run(&inputs)?;
                    let logits = out[self.logits].as_slice().expect("contiguous logits");
                    for (b, rng) in rngs.iter_mut().enumerate() {
                        let at = (((b * c + ch) * h + i) * w + j) * LEVELS;
                        let v = sample_logits(&logits[at..at + LEVELS], req.temperature, rng)?;
                        img[[b, ch, i, j]] = v;
                    }
                }
                progress(i * w + j + 1, h * w);
            }
        }
        Ok(img.into_raw_vec_and_offset().0)
    }
}

/// Decides sub-pixel (row, column, colour) of every image from the step's logits
/// `[n, C, 256]`: sampling, or teacher forcing in tests.
pub type Chooser<'a> = dyn FnMut(usize, usize, usize, &[f32]) -> anyhow::Result<Vec<u8>> + 'a;

/// Cached sampling with the step graphs.
pub struct CachedSampler {
    spec: ModelSpec,
    row: Graph,
    pixel: Graph,
    /// Output indices: step_pixel `logits` and `present_h.{l}`; step_row `v_ctx` and
    /// `present_v.{l}`.
    logits: usize,
    present_h: Vec<(usize, usize)>,
    v_ctx: usize,
    present_v: Vec<usize>,
}

impl CachedSampler {
    pub fn new(export: &Export, engine: &EngineKind, batch: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(
            export.contract.graphs.contains_key("step_row"),
            "{}: no step graphs (cached sampling exists for Gated PixelCNNs and auto-encoders): use --mode naive",
            export.dir.display()
        );
        let row = load(export, "step_row", engine, batch)?;
        let pixel = load(export, "step_pixel", engine, batch)?;
        let s = &export.spec;
        let logits = pixel.output_index("logits")?;
        let present_h = (1..s.layers)
            .map(|l| Ok((l, pixel.output_index(&format!("present_h.{l}"))?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let v_ctx = row.output_index("v_ctx")?;
        let present_v = (0..s.layers)
            .map(|l| row.output_index(&format!("present_v.{l}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            spec: s.clone(),
            row,
            pixel,
            logits,
            present_h,
            v_ctx,
            present_v,
        })
    }

    fn zeros(&self, graph: &Graph, name: &str) -> ArrayD<f32> {
        let spec = graph
            .contract
            .inputs
            .iter()
            .find(|t| t.name == name)
            .expect("state input");
        ArrayD::zeros(IxDyn(&spec.concrete_shape(graph.batch)))
    }

    /// Runs the loop. `choose(i, j, c, logits [n, C, 256]) -> values [n]` decides each
    /// sub-pixel (sampling, or teacher forcing in tests); rows before `start` are taken
    /// from `given`.
    pub fn drive(
        &mut self,
        cond: &CondInput,
        given: Option<&[u8]>,
        start: usize,
        choose: &mut Chooser<'_>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> anyhow::Result<Vec<u8>> {
        let n = self.row.batch;
        let s = self.spec.clone();
        let (c, h, w) = (s.channels, s.height, s.width);
        let conds = cond_arrays(&s, cond, n)?;
        let mut images = vec![0u8; n * c * h * w];
        let mut past_v: Vec<ArrayD<f32>> = (0..s.layers)
            .map(|l| self.zeros(&self.row, &format!("past_v.{l}")))
            .collect();
        let mut v_ctx = self.zeros(&self.pixel, "v_ctx");
        let h_zero: Vec<ArrayD<f32>> = (1..s.layers)
            .map(|l| self.zeros(&self.pixel, &format!("past_h.{l}")))
            .collect();
        let h_names: Vec<String> = (1..s.layers).map(|l| format!("past_h.{l}")).collect();
        let v_names: Vec<String> = (0..s.layers).map(|l| format!("past_v.{l}")).collect();
        let mut row = ArrayD::<u8>::zeros(IxDyn(&[n, c, w]));
        for i in 0..h {
            row.fill(0);
            let row_index = ndarray::arr0(i as i64).into_dyn();
            if i < start {
                let g = given.expect("prefix rows");
                for b in 0..n {
                    for ch in 0..c {
                        for j in 0..w {
                            row[[b, ch, j]] = g[((b * c + ch) * h + i) * w + j];
                        }
                    }
                }
            } else {
                let mut past_h = h_zero.clone();
                for j in 0..w {
                    let col = ndarray::arr0(j as i64).into_dyn();
                    for ch in 0..c {
                        let mut inputs = vec![
                            ("row", Input::U8(row.view())),
                            ("col", Input::I64(col.view())),
                            ("v_ctx", Input::F32(v_ctx.view())),
                        ];
                        for (name, a) in h_names.iter().zip(&past_h) {
                            inputs.push((name.as_str(), Input::F32(a.view())));
                        }
                        push_cond(&mut inputs, &conds, &self.pixel, &row_index);
                        let mut out = self.pixel.run(&inputs)?;
                        let logits = out[self.logits].as_slice().expect("contiguous");
                        let values = choose(i, j, ch, logits)?;
                        for (b, v) in values.into_iter().enumerate() {
                            row[[b, ch, j]] = v;
                        }
                        if ch == c - 1 {
                            for (k, (_, idx)) in self.present_h.iter().enumerate() {
                                past_h[k] = std::mem::take(&mut out[*idx]);
                            }
                        }
                    }
                    progress(i * w + j + 1, h * w);
                }
            }
            store_row(&mut images, &row, i, h);
            if i + 1 < h {
                let mut inputs = vec![("row", Input::U8(row.view()))];
                for (name, a) in v_names.iter().zip(&past_v) {
                    inputs.push((name.as_str(), Input::F32(a.view())));
                }
                push_cond(&mut inputs, &conds, &self.row, &row_index);
                let mut out = self.row.run(&inputs)?;
                v_ctx = std::mem::take(&mut out[self.v_ctx]);
                for (l, idx) in self.present_v.iter().enumerate() {
                    past_v[l] = std::mem::take(&mut out[*idx]);
                }
            }
        }
        Ok(images)
    }
}

/// Copies a finished row `[n, C, W]` into row `i` of images `[n, C, H, W]`.
pub(crate) fn store_row(images: &mut [u8], row: &ArrayD<u8>, i: usize, h: usize) {
    let (n, c, w) = (row.shape()[0], row.shape()[1], row.shape()[2]);
    for b in 0..n {
        for ch in 0..c {
            let at = ((b * c + ch) * h + i) * w;
            for j in 0..w {
                images[at + j] = row[[b, ch, j]];
            }
        }
    }
}

fn push_cond<'a>(
    inputs: &mut Vec<(&'a str, Input<'a>)>,
    conds: &'a CondArrays,
    graph: &Graph,
    row_index: &'a ArrayD<i64>,
) {
    if let Some(l) = &conds.label {
        inputs.push(("label", Input::I64(l.view())));
    }
    if let Some(v) = &conds.cond {
        inputs.push(("cond", Input::F32(v.view())));
    }
    if graph.contract.inputs.iter().any(|t| t.name == "row_index") {
        inputs.push(("row_index", Input::I64(row_index.view())));
    }
}

impl Sampler for CachedSampler {
    fn batch(&self) -> usize {
        self.row.batch
    }

    fn sample(&mut self, req: &SampleRequest, progress: &mut dyn FnMut(usize, usize)) -> anyhow::Result<Vec<u8>> {
        let n = self.batch();
        check_request(&self.spec, req, n)?;
        let c = self.spec.channels;
        let mut rngs: Vec<SplitMix64> = req.seeds.iter().map(|&s| SplitMix64::new(s)).collect();
        let t = req.temperature;
        let mut choose = |_i: usize, _j: usize, ch: usize, logits: &[f32]| -> anyhow::Result<Vec<u8>> {
            rngs.iter_mut()
                .enumerate()
                .map(|(b, rng)| {
                    let at = (b * c + ch) * LEVELS;
                    Ok(sample_logits(&logits[at..at + LEVELS], t, rng)?)
                })
                .collect()
        };
        let (given, start) = match &req.prefix {
            Some((img, rows)) => (Some(img.as_slice()), *rows),
            None => (None, 0),
        };
        self.drive(&req.cond, given, start, &mut choose, progress)
    }
}
