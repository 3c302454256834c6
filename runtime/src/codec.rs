//! Lossless image compression with a trained PixelCNN: every sub-pixel is entropy-coded
//! with the probabilities the cached step graphs give it, using `constriction`'s range
//! coder. Decoding runs the same graphs in the same batch layout, one sub-pixel at a time,
//! so it recomputes bit-identical probabilities.
//!
//! From logits to a coding distribution (documented in docs/compression.md, implemented
//! identically by `scripts/decompress.py`): `p_k = exp_portable(logit_k - max)` in f64
//! (f32 logits widened exactly), then `constriction`'s
//! `ContiguousCategoricalEntropyModel::from_floating_point_probabilities_fast` (24-bit
//! fixed point, every value keeps a nonzero probability). [`exp_portable`] uses only
//! IEEE-754 `+ - * floor` and a power of two, so every language computes the same bits.
//!
//! File layout (`.pcnn`), little-endian: 8-byte magic `PCNNCODE`, u32 header length, the
//! header as JSON ([`Header`]), the range coder's u32 words, and a CRC-32 of everything
//! before it.

use std::path::Path;

use constriction::stream::model::DefaultContiguousCategoricalEntropyModel;
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};
use pixelcnn_core::{Conditioning, ModelSpec, LEVELS};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::EngineKind;
use crate::export::Export;
use crate::sampler::{CachedSampler, CondInput, Sampler};

pub const MAGIC: [u8; 8] = *b"PCNNCODE";
/// Version of the file layout and of the probability rule.
pub const FORMAT: u32 = 1;
/// What the words hold; stored in the header and checked on decoding.
pub const CODER: &str =
    "constriction range coder (queue), u32 words, categorical from_floating_point_probabilities_fast, 24-bit";
/// Headers longer than this are refused before anything is allocated for them.
const MAX_HEADER: usize = 1 << 16;

/// What a `.pcnn` file says about its contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: u32,
    pub count: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// Images per step-graph call; the last call takes the remainder.
    pub batch: usize,
    /// The engine whose float32 logits were coded (`ort` or `tract`).
    pub engine: String,
    /// SHA-256 of `step_row.onnx` and `step_pixel.onnx`, in that order.
    pub model_sha256: String,
    /// CRC-32 of the decoded pixels `[count, C, H, W]`.
    pub pixels_crc32: u32,
    pub coder: String,
    /// Number of u32 words of coded data after the header.
    pub words: usize,
}

/// A `.pcnn` file that cannot be read, or does not fit the model or engine given.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("not a .pcnn file (no PCNNCODE magic)")]
    Magic,
    #[error("truncated: {0}")]
    Truncated(String),
    #[error("corrupted: {0}")]
    Corrupted(String),
    #[error("written with format {found}; this build reads format {FORMAT}")]
    Format { found: u32 },
    #[error("{0}")]
    Mismatch(String),
}

/// `exp(x)` for `x <= 0` (clamped below at -700) from IEEE-754 `+ - * floor` and an exact
/// power of two: `x = k ln2 + r`, `|r| <= ln2/2`, `e^r` by its Taylor series to degree 11
/// (relative error < 1e-14), times `2^k`. Bit-identical in every language that rounds
/// these operations as IEEE-754 requires (no fused multiply-add).
pub fn exp_portable(x: f64) -> f64 {
    const INV_LN2: f64 = std::f64::consts::LOG2_E; // 1.4426950408889634
    const LN2_HI: f64 = 0.6931471803691238;
    const LN2_LO: f64 = 1.9082149292705877e-10;
    const C: [f64; 12] = [
        1.0,
        1.0,
        0.5,
        0.16666666666666666,
        0.041666666666666664,
        0.008333333333333333,
        0.001388888888888889,
        0.0001984126984126984,
        2.48015873015873e-05,
        2.7557319223985893e-06,
        2.755731922398589e-07,
        2.505210838544172e-08,
    ];
    let x = x.clamp(-700.0, 0.0);
    let k = (x * INV_LN2 + 0.5).floor();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = C[11];
    for c in C[..11].iter().rev() {
        p = p * r + c;
    }
    p * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

/// Unnormalised probabilities of one sub-pixel's 256 values from its logits:
/// `exp_portable(l - max)` in f64.
pub fn probabilities(logits: &[f32]) -> anyhow::Result<Vec<f64>> {
    let max = logits.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    anyhow::ensure!(
        max.is_finite() && !logits.iter().any(|v| v.is_nan()),
        "the model produced non-finite logits"
    );
    Ok(logits.iter().map(|&l| exp_portable(l as f64 - max)).collect())
}

/// The coding distribution for [`probabilities`]: constriction's 24-bit quantization.
pub fn entropy_model(p: &[f64]) -> anyhow::Result<DefaultContiguousCategoricalEntropyModel> {
    DefaultContiguousCategoricalEntropyModel::from_floating_point_probabilities_fast(p, None)
        .map_err(|()| anyhow::anyhow!("logits give no valid distribution"))
}

/// SHA-256 (hex) of the step graphs, which fix every probability: each graph file, then
/// the files holding its weights when they are kept beside it (external data).
pub fn model_hash(export: &Export) -> anyhow::Result<String> {
    let mut h = Sha256::new();
    for role in ["step_row", "step_pixel"] {
        let (contract, path) = export.graph(role)?;
        let data = contract.external_data.iter().map(|f| export.dir.join(f));
        for path in std::iter::once(path).chain(data) {
            h.update(std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?);
        }
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn check_model(export: &Export, engine: &EngineKind) -> anyhow::Result<()> {
    let spec = &export.spec;
    anyhow::ensure!(
        export.contract.graphs.contains_key("step_row"),
        "{}: compression needs the cached step graphs (a Gated PixelCNN)",
        export.dir.display()
    );
    anyhow::ensure!(
        spec.decoder_conditioning() == Conditioning::None,
        "{}: compression needs an unconditional model (this one is conditioned on {:?})",
        export.dir.display(),
        spec.decoder_conditioning()
    );
    anyhow::ensure!(
        matches!(engine, EngineKind::Ort | EngineKind::Tract),
        "compression runs on the CPU engines (ort, tract), not {engine}"
    );
    Ok(())
}

/// Runs the cached step loop over `count` images in batches of `batch`; `code` sees every
/// sub-pixel's value slot and logits (per image) and returns the value to feed on.
fn run_batches(
    export: &Export,
    engine: &EngineKind,
    count: usize,
    batch: usize,
    mut code: impl FnMut(usize, (usize, usize, usize), &[f32]) -> anyhow::Result<u8>,
    progress: &mut dyn FnMut(usize),
) -> anyhow::Result<Vec<u8>> {
    let s = &export.spec;
    let (c, d) = (s.channels, s.dims());
    let mut out = Vec::with_capacity(count.min(1 << 20) * d);
    let mut sampler: Option<CachedSampler> = None;
    for start in (0..count).step_by(batch) {
        let n = batch.min(count - start);
        let smp = match &mut sampler {
            Some(s) if s.batch() == n => s,
            slot => slot.insert(CachedSampler::new(export, engine, n)?),
        };
        let mut choose = |i: usize, j: usize, ch: usize, logits: &[f32]| -> anyhow::Result<Vec<u8>> {
            // logits [n, C, 256]: image b's are chunk b * C + ch
            let per_image = logits.chunks_exact(LEVELS).skip(ch).step_by(c).enumerate();
            per_image.map(|(b, l)| code(start + b, (i, j, ch), l)).collect()
        };
        out.extend(smp.drive(&CondInput::None, None, 0, &mut choose, &mut |_, _| {})?);
        progress(start + n);
    }
    Ok(out)
}

/// A compressed file and what the model itself says the images cost.
#[derive(Debug, Clone)]
pub struct Compressed {
    /// The `.pcnn` file's bytes.
    pub file: Vec<u8>,
    /// The model's cross-entropy on these images in bits per sub-pixel (its bits/dim,
    /// from the same logits, before quantization): what an ideal coder would reach.
    pub model_bits_per_subpixel: f64,
}

/// Compresses `images` (`[count, C, H, W]` values) into a `.pcnn` file.
pub fn compress(
    export: &Export,
    engine: &EngineKind,
    images: &[u8],
    batch: usize,
    progress: &mut dyn FnMut(usize),
) -> anyhow::Result<Compressed> {
    let s = &export.spec;
    check_model(export, engine)?;
    anyhow::ensure!(batch > 0, "batch must be positive");
    let (c, h, w, d) = (s.channels, s.height, s.width, s.dims());
    anyhow::ensure!(
        !images.is_empty() && images.len().is_multiple_of(d),
        "{} bytes are not a whole number of {c}x{h}x{w} images",
        images.len()
    );
    let count = images.len() / d;
    let mut enc = DefaultRangeEncoder::new();
    let mut nats = 0f64;
    let code = |k: usize, (i, j, ch): (usize, usize, usize), logits: &[f32]| {
        let v = images[k * d + (ch * h + i) * w + j];
        let p = probabilities(logits)?;
        nats -= (p[v as usize] / p.iter().sum::<f64>()).ln();
        enc.encode_symbol(v as usize, entropy_model(&p)?)
            .map_err(|e| anyhow::anyhow!("range coder: {e:?}"))?;
        Ok(v)
    };
    let fed = run_batches(export, engine, count, batch, code, progress)?;
    debug_assert_eq!(fed, images);
    let words = enc
        .into_compressed()
        .map_err(|e| anyhow::anyhow!("range coder: {e:?}"))?;
    let header = Header {
        format: FORMAT,
        count,
        channels: c,
        height: h,
        width: w,
        batch,
        engine: engine.to_string(),
        model_sha256: model_hash(export)?,
        pixels_crc32: crc32fast::hash(images),
        coder: CODER.into(),
        words: words.len(),
    };
    Ok(Compressed {
        file: write_container(&header, &words),
        model_bits_per_subpixel: nats / std::f64::consts::LN_2 / images.len() as f64,
    })
}

/// Decompresses a `.pcnn` file's bytes: `(header, images [count, C, H, W])`.
pub fn decompress(
    export: &Export,
    engine: &EngineKind,
    file: &[u8],
    progress: &mut dyn FnMut(usize),
) -> anyhow::Result<(Header, Vec<u8>)> {
    let (header, words) = read_container(file)?;
    let s = &export.spec;
    check_model(export, engine)?;
    if (header.channels, header.height, header.width) != (s.channels, s.height, s.width) {
        return Err(CodecError::Mismatch(format!(
            "the file holds {}x{}x{} images, the model makes {}x{}x{}",
            header.channels, header.height, header.width, s.channels, s.height, s.width
        ))
        .into());
    }
    let hash = model_hash(export)?;
    if header.model_sha256 != hash {
        return Err(CodecError::Mismatch(format!(
            "written with another model (step graphs sha256 {}, this model's {hash}): decode with the model it was compressed with",
            header.model_sha256
        ))
        .into());
    }
    if header.engine != engine.to_string() {
        return Err(CodecError::Mismatch(format!(
            "compressed with --backend {}; decoding needs the same engine's logits bit for bit: pass --backend {}",
            header.engine, header.engine
        ))
        .into());
    }
    let mut dec = DefaultRangeDecoder::from_compressed(words)
        .map_err(|_| CodecError::Corrupted("the coded data does not start a range coder stream".into()))?;
    let code = |_, _, logits: &[f32]| {
        let v = dec
            .decode_symbol(entropy_model(&probabilities(logits)?)?)
            .map_err(|e| anyhow::anyhow!("range decoder: {e:?}"))?;
        Ok(v as u8)
    };
    let images = run_batches(export, engine, header.count, header.batch, code, progress)?;
    if crc32fast::hash(&images) != header.pixels_crc32 {
        return Err(CodecError::Mismatch(
            "the decoded pixels fail the file's checksum: the probabilities differ from the encoder's (another engine build or settings)".into(),
        )
        .into());
    }
    Ok((header, images))
}

fn write_container(header: &Header, words: &[u32]) -> Vec<u8> {
    let json = serde_json::to_vec(header).expect("header serialises");
    let mut out = Vec::with_capacity(16 + json.len() + 4 * words.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Parses and checks a container: magic, header size and fields, word count, checksum.
pub fn read_container(file: &[u8]) -> Result<(Header, Vec<u32>), CodecError> {
    if file.len() < 8 || file[..8] != MAGIC {
        return Err(CodecError::Magic);
    }
    if file.len() < 16 {
        return Err(CodecError::Truncated(format!(
            "{} bytes, the smallest file has 16",
            file.len()
        )));
    }
    let len = u32::from_le_bytes(file[8..12].try_into().expect("4 bytes")) as usize;
    if len > MAX_HEADER {
        return Err(CodecError::Corrupted(format!(
            "header length {len} exceeds {MAX_HEADER}"
        )));
    }
    if file.len() < 12 + len + 4 {
        return Err(CodecError::Truncated(format!("the header needs {len} bytes")));
    }
    let body = &file[..file.len() - 4];
    let crc = u32::from_le_bytes(file[file.len() - 4..].try_into().expect("4 bytes"));
    let header: Header =
        serde_json::from_slice(&file[12..12 + len]).map_err(|e| CodecError::Corrupted(format!("header: {e}")))?;
    if header.format != FORMAT {
        return Err(CodecError::Format { found: header.format });
    }
    let data = &body[12 + len..];
    if data.len() != header.words.saturating_mul(4) {
        return Err(CodecError::Truncated(format!(
            "{} bytes of coded data, the header says {} words",
            data.len(),
            header.words
        )));
    }
    if crc32fast::hash(body) != crc {
        return Err(CodecError::Corrupted("the file checksum does not match".into()));
    }
    if header.coder != CODER {
        return Err(CodecError::Mismatch(format!("unknown coder `{}`", header.coder)));
    }
    let dims = [header.count, header.channels, header.height, header.width, header.batch];
    if dims.contains(&0) || dims.iter().try_fold(1usize, |a, &v| a.checked_mul(v)).is_none() {
        return Err(CodecError::Corrupted(format!("impossible shape {dims:?}")));
    }
    let words = data
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    Ok((header, words))
}

/// The lower-case file extension ("" if none): it picks the image format.
fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Reads images for a model: IDX (raw or gzipped, gray models), `.npy` uint8
/// `[N, C, H, W]` (or one `[C, H, W]` / `[H, W]` image), or one PNG/JPEG.
pub fn read_images(path: &Path, spec: &ModelSpec) -> anyhow::Result<Vec<u8>> {
    let (c, h, w) = (spec.channels, spec.height, spec.width);
    match extension(path).as_str() {
        "png" | "jpg" | "jpeg" => Ok(pixelcnn_core::grid::read_image(path, c, h, w)?),
        "npy" => Ok(pixelcnn_core::npy::read_images(path, [c, h, w])?),
        _ => {
            let idx = pixelcnn_core::idx::read_images(path)?;
            anyhow::ensure!(
                c == 1 && (idx.rows, idx.cols) == (h, w),
                "{}: IDX images are 1x{}x{}, the model expects {c}x{h}x{w}",
                path.display(),
                idx.rows,
                idx.cols
            );
            Ok(idx.pixels)
        }
    }
}

/// How [`write_images`] stores images, picked by the output path's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    /// `.png`: exactly one image.
    Png,
    /// `.npy`: uint8 `[N, C, H, W]`.
    Npy,
    /// IDX (gray images): a name without an extension, `.idx`, or ending in `ubyte`.
    Idx,
}

impl ImageFormat {
    /// The format to write `path` in. Anything else (a lossy `.jpg`, a `.gz` that would hold
    /// raw bytes) is refused here, so a command can check its output before any work.
    pub fn for_output(path: &Path) -> anyhow::Result<Self> {
        match extension(path).as_str() {
            "png" => Ok(Self::Png),
            "npy" => Ok(Self::Npy),
            e if e.is_empty() || e == "idx" || e.ends_with("ubyte") => Ok(Self::Idx),
            e => anyhow::bail!(
                "{}: cannot write `.{e}` images; expected .png (one image), .npy, or an IDX file name \
                 (no extension, .idx, or ending in ubyte; written uncompressed)",
                path.display()
            ),
        }
    }
}

/// Writes images as [`read_images`] reads them, in [`ImageFormat::for_output`]'s format.
pub fn write_images(path: &Path, images: &[u8], spec: &ModelSpec) -> anyhow::Result<()> {
    let (c, h, w) = (spec.channels, spec.height, spec.width);
    let n = images.len() / spec.dims();
    match ImageFormat::for_output(path)? {
        ImageFormat::Png => {
            anyhow::ensure!(
                n == 1,
                "{}: a PNG holds one image, not {n} (use .npy or IDX)",
                path.display()
            );
            Ok(pixelcnn_core::grid::write_image(path, images, c, h, w)?)
        }
        ImageFormat::Npy => Ok(pixelcnn_core::npy::write_images(path, images, [n, c, h, w])?),
        ImageFormat::Idx => {
            anyhow::ensure!(c == 1, "{}: IDX holds gray images; write RGB as .npy", path.display());
            Ok(pixelcnn_core::idx::write_images(path, images, n, h, w)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_formats_follow_the_extension_and_lossy_or_gzip_names_are_refused() {
        let f = |p: &str| ImageFormat::for_output(Path::new(p));
        assert_eq!(f("a.PNG").unwrap(), ImageFormat::Png);
        assert_eq!(f("a.npy").unwrap(), ImageFormat::Npy);
        for idx in ["decoded-idx3-ubyte", "a.idx", "b.idx3-ubyte", "plain"] {
            assert_eq!(f(idx).unwrap(), ImageFormat::Idx, "{idx}");
        }
        for bad in ["a.jpg", "a.jpeg", "t10k-images-idx3-ubyte.gz", "a.bmp"] {
            let e = f(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains(".png") && e.contains(".npy"), "{e}");
        }
    }

    #[test]
    fn portable_exp_is_close_to_libm_everywhere_it_is_used() {
        let mut worst = 0f64;
        let mut x = 0.0;
        while x > -745.0 {
            let (a, b) = (exp_portable(x), x.max(-700.0).exp());
            worst = worst.max(((a - b) / b).abs());
            x -= 0.0137;
        }
        assert!(worst < 1e-13, "{worst}");
        assert_eq!(exp_portable(0.0), 1.0);
        assert!(exp_portable(f64::NEG_INFINITY) > 0.0);
    }

    #[test]
    fn containers_round_trip_and_reject_damage() {
        let header = Header {
            format: FORMAT,
            count: 2,
            channels: 1,
            height: 2,
            width: 2,
            batch: 2,
            engine: "ort".into(),
            model_sha256: "ab".into(),
            pixels_crc32: 7,
            coder: CODER.into(),
            words: 3,
        };
        let file = write_container(&header, &[1, 2, 3]);
        assert_eq!(read_container(&file).unwrap(), (header, vec![1, 2, 3]));
        assert!(matches!(read_container(b"PNG"), Err(CodecError::Magic)));
        for cut in [9, 15, 20, file.len() - 5, file.len() - 1] {
            assert!(read_container(&file[..cut]).is_err(), "cut at {cut}");
        }
        for at in 12..file.len() {
            let mut bad = file.clone();
            bad[at] ^= 0x10;
            assert!(read_container(&bad).is_err(), "flip at {at}");
        }
        let mut huge = file.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(read_container(&huge), Err(CodecError::Corrupted(_))));
    }
}
