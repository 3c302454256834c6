//! `Sampler`: draws images from an exported model, on any engine, in two modes:
//! `cached` (step graphs: the vertical stack once per row, the horizontal stack and head
//! once per sub-pixel) and `naive` (`model.onnx` once per sub-pixel, the baseline).
//! Values are drawn on the host with the documented RNG of [`pixelcnn_core::rng`], so the same
//! seed gives the same image on every engine and in both modes.

use ndarray::{s, Array4, ArrayD, ArrayView4, ArrayViewD, IxDyn};
use pixelcnn_core::contract::names;
use pixelcnn_core::{ModelSpec, LEVELS};

use crate::engine::{EngineKind, Graph, Input, Value};
use crate::export::Export;
use pixelcnn_core::rng::{sample_logits, SplitMix64};

pub use pixelcnn_core::rng::Mode;
pub use pixelcnn_core::CondInput;

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

/// Builds a sampler for `batch` images per call.
pub fn open(export: &Export, engine: &EngineKind, mode: Mode, batch: usize) -> anyhow::Result<Box<dyn Sampler>> {
    Ok(match mode {
        Mode::Cached => Box::new(CachedSampler::new(export, engine, batch)?),
        Mode::Naive => Box::new(NaiveSampler::new(export, engine, batch)?),
    })
}

/// The conditioning of a batch of `n`, checked against the spec, as a value of `graph`
/// (`label` `[n]` or `cond` `[n, D]`; none for an unconditional model).
fn cond_value(
    graph: &Graph,
    spec: &ModelSpec,
    cond: &CondInput,
    n: usize,
) -> anyhow::Result<Option<(&'static str, Value)>> {
    cond.check(&spec.decoder_conditioning(), n)?;
    let (name, input) = match cond {
        CondInput::None => return Ok(None),
        CondInput::Labels(l) => (names::LABEL, Input::I64(ArrayViewD::from_shape(IxDyn(&[n]), l)?)),
        CondInput::Vectors(v, dim) => (names::COND, Input::F32(ArrayViewD::from_shape(IxDyn(&[n, *dim]), v)?)),
    };
    Ok(Some((name, graph.upload(name, &input)?)))
}

/// Checks a request for a batch of `n` and starts one RNG stream per image.
fn start_request(spec: &ModelSpec, req: &SampleRequest, n: usize) -> anyhow::Result<Vec<SplitMix64>> {
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
    Ok(req.seeds.iter().map(|&s| SplitMix64::new(s)).collect())
}

fn load(export: &Export, role: &str, engine: &EngineKind, batch: usize) -> anyhow::Result<Graph> {
    let (contract, path) = export.graph(role)?;
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
        let logits = model.output_index(names::LOGITS)?;
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
        let mut rngs = start_request(&self.spec, req, n)?;
        let s = &self.spec;
        let (c, h, w) = (s.channels, s.height, s.width);
        let cond = cond_value(&self.model, s, &req.cond, n)?;
        let (mut img, start) = match &req.prefix {
            Some((p, rows)) => (ArrayD::from_shape_vec(IxDyn(&[n, c, h, w]), p.clone())?, *rows),
            None => (ArrayD::<u8>::zeros(IxDyn(&[n, c, h, w])), 0),
        };
        // the rows to sample start from zeros, as without a prefix
        img.slice_mut(s![.., .., start.., ..]).fill(0);
        for i in start..h {
            for j in 0..w {
                for ch in 0..c {
                    let image = self.model.upload(names::IMAGE, &Input::U8(img.view()))?;
                    let mut inputs = vec![(names::IMAGE, &image)];
                    inputs.extend(cond.iter().map(|(k, v)| (*k, v)));
                    let out = self.model.run_values(&inputs)?;
                    let logits = out[self.logits].host_f32()?;
                    for (b, rng) in rngs.iter_mut().enumerate() {
                        let at = (((b * c + ch) * h + i) * w + j) * LEVELS;
                        img[[b, ch, i, j]] = sample_logits(&logits[at..at + LEVELS], req.temperature, rng)?;
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

/// Cached sampling with the step graphs, on any engine: the states (`past_*`/`present_*`,
/// `v_ctx`) pass between calls as engine values (device memory under a GPU provider);
/// only the row goes in and the logits come out through the host.
pub struct CachedSampler {
    spec: ModelSpec,
    row: Graph,
    pixel: Graph,
    /// Output indices: step_pixel `logits` and `present_h.{l}` (l >= 1); step_row `v_ctx`
    /// then `present_v.{l}`.
    logits: usize,
    present_h: Vec<usize>,
    row_outputs: Vec<usize>,
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
        let logits = pixel.output_index(names::LOGITS)?;
        let present_h = (1..s.layers)
            .map(|l| pixel.output_index(&names::present_h(l)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut row_outputs = vec![row.output_index(names::V_CTX)?];
        for l in 0..s.layers {
            row_outputs.push(row.output_index(&names::present_v(l))?);
        }
        Ok(Self {
            spec: s.clone(),
            row,
            pixel,
            logits,
            present_h,
            row_outputs,
        })
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
        anyhow::ensure!(
            start == 0 || given.is_some_and(|g| g.len() == n * s.dims()),
            "completion needs {n} given images of {} values",
            s.dims()
        );
        // conditioning enters once per call of `drive`, as a value both graphs take
        let cond = cond_value(&self.row, &s, cond, n)?;
        let past_h_names: Vec<String> = (1..s.layers).map(names::past_h).collect();
        let past_v_names: Vec<String> = (0..s.layers).map(names::past_v).collect();
        let mut past_v: Vec<Value> = past_v_names
            .iter()
            .map(|name| self.row.zeros(name))
            .collect::<anyhow::Result<_>>()?;
        let mut v_ctx = self.pixel.zeros(names::V_CTX)?;
        let spatial = self.pixel.has_input(names::ROW_INDEX);
        let mut images = Array4::<u8>::zeros((n, c, h, w));
        let scalar = |k: usize| ndarray::arr0(k as i64).into_dyn();
        let mut row = ArrayD::<u8>::zeros(IxDyn(&[n, c, w]));
        for i in 0..h {
            row.fill(0);
            let row_index = if spatial {
                Some(self.pixel.upload(names::ROW_INDEX, &Input::I64(scalar(i).view()))?)
            } else {
                None
            };
            let mut extra: Vec<(&str, &Value)> = cond.iter().map(|(k, v)| (*k, v)).collect();
            extra.extend(row_index.iter().map(|r| (names::ROW_INDEX, r)));
            if i < start {
                let given = ArrayView4::from_shape((n, c, h, w), given.unwrap_or_default())?;
                row.assign(&given.slice(s![.., .., i, ..]));
            } else {
                let mut past_h: Vec<Value> = past_h_names
                    .iter()
                    .map(|name| self.pixel.zeros(name))
                    .collect::<anyhow::Result<_>>()?;
                for j in 0..w {
                    let col = self.pixel.upload(names::COL, &Input::I64(scalar(j).view()))?;
                    for ch in 0..c {
                        let row_value = self.pixel.upload(names::ROW, &Input::U8(row.view()))?;
                        let mut inputs = vec![(names::ROW, &row_value), (names::COL, &col), (names::V_CTX, &v_ctx)];
                        inputs.extend(past_h_names.iter().map(String::as_str).zip(&past_h));
                        inputs.extend(extra.iter().copied());
                        let out = self.pixel.run_values(&inputs)?;
                        let values = choose(i, j, ch, out[self.logits].host_f32()?)?;
                        for (b, v) in values.into_iter().enumerate() {
                            row[[b, ch, j]] = v;
                        }
                        if ch == c - 1 {
                            past_h = take(out, &self.present_h);
                        }
                    }
                    progress(i * w + j + 1, h * w);
                }
            }
            images.slice_mut(s![.., .., i, ..]).assign(&row);
            if i + 1 < h {
                let row_value = self.row.upload(names::ROW, &Input::U8(row.view()))?;
                let mut inputs = vec![(names::ROW, &row_value)];
                inputs.extend(past_v_names.iter().map(String::as_str).zip(&past_v));
                inputs.extend(extra.iter().copied());
                let out = self.row.run_values(&inputs)?;
                let mut taken = take(out, &self.row_outputs).into_iter();
                v_ctx = taken.next().ok_or_else(|| anyhow::anyhow!("step_row: no v_ctx"))?;
                past_v = taken.collect();
            }
        }
        Ok(images.into_raw_vec_and_offset().0)
    }
}

/// The outputs at `indices`, in that order.
fn take(out: Vec<Value>, indices: &[usize]) -> Vec<Value> {
    let mut slots: Vec<Option<Value>> = out.into_iter().map(Some).collect();
    indices
        .iter()
        .filter_map(|&k| slots.get_mut(k).and_then(Option::take))
        .collect()
}

impl Sampler for CachedSampler {
    fn batch(&self) -> usize {
        self.row.batch
    }

    fn sample(&mut self, req: &SampleRequest, progress: &mut dyn FnMut(usize, usize)) -> anyhow::Result<Vec<u8>> {
        let mut rngs = start_request(&self.spec, req, self.batch())?;
        let (c, t) = (self.spec.channels, req.temperature);
        let mut choose = |_i: usize, _j: usize, ch: usize, logits: &[f32]| -> anyhow::Result<Vec<u8>> {
            // logits [n, C, 256]: image b's are chunk b * C + ch
            let per_image = logits.chunks_exact(LEVELS).skip(ch).step_by(c);
            rngs.iter_mut()
                .zip(per_image)
                .map(|(rng, l)| Ok(sample_logits(l, t, rng)?))
                .collect()
        };
        let given = req.prefix.as_ref().map(|(img, _)| img.as_slice());
        let start = req.prefix.as_ref().map_or(0, |(_, rows)| *rows);
        self.drive(&req.cond, given, start, &mut choose, progress)
    }
}
