//! Checkpoint directories: `RUN/checkpoints/step-000123/` holding `spec.json`,
//! `weights-v3.bin` (burn record, full precision; `weights.bin` and `model.bin` in
//! checkpoints of older layouts, still read: [`crate::legacy`]), `ema-weights-v3.bin` (the
//! weights' exponential moving average, when training keeps one) and whatever else the
//! trainer adds (`optim.bin`, `state.json`). A checkpoint is written into a hidden temporary
//! directory, every file fsynced, then renamed into place, so a crash never leaves a
//! half-written checkpoint where a reader would find it. `manifest.json` stores each
//! file's CRC-32, so corruption is reported as such instead of failing deep in a decoder.
//! A file larger than [`PART_BYTES`] (the weights of a wide model, its Adam moments) is
//! stored as numbered parts, `optim.bin.part-000`, `optim.bin.part-001`, ..., each at most
//! that size and with its own CRC-32 in the manifest, so a checkpoint can be committed to a
//! repository that limits the size of a file; readers put the parts back together.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::conditioning::CondProjectionRecord;
use crate::legacy::{PixelModelRecordV1, PixelModelRecordV2};
use crate::model::{DecoderRecord, PixelModel, PixelModelRecord};
use crate::spec::ModelSpec;

/// A checkpoint that can't be read, naming the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn invalid(path: &Path, problem: impl Into<String>) -> CheckpointError {
    CheckpointError::Invalid {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

pub const SPEC_FILE: &str = "spec.json";
pub const MODEL_FILE: &str = "weights-v3.bin";
/// The weights files of older checkpoints, in the layouts of [`PixelModelRecordV2`] and
/// [`PixelModelRecordV1`].
pub const MODEL_FILE_V2: &str = "weights.bin";
pub const MODEL_FILE_V1: &str = "model.bin";
/// The exponential moving average of the weights (Polyak averaging), in the layout of
/// [`MODEL_FILE`]; present when the run was trained with `ema_decay`.
pub const EMA_FILE: &str = "ema-weights-v3.bin";
pub const MANIFEST_FILE: &str = "manifest.json";
pub const CHECKPOINTS: &str = "checkpoints";
/// The largest file a checkpoint writes: a larger one is stored in parts of this size
/// (4 MiB), see [`part_name`].
pub const PART_BYTES: usize = 4 << 20;

/// A checkpoint's table of contents: each file as (name, CRC-32, bytes), and the parts of
/// the files stored in parts, in order, each as (name, CRC-32, bytes).
#[derive(Serialize, Deserialize)]
struct Manifest {
    files: Vec<(String, u32, u64)>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    parts: BTreeMap<String, Vec<(String, u32, u64)>>,
}

/// The name of part `k` of a checkpoint file stored in parts: `optim.bin.part-001`.
pub fn part_name(file: &str, k: usize) -> String {
    format!("{file}.part-{k:03}")
}

/// Whether the checkpoint `dir` holds `file`, whole or in parts.
pub fn has_file(dir: &Path, file: &str) -> bool {
    dir.join(file).exists() || dir.join(part_name(file, 0)).exists()
}

/// Directory name of the checkpoint taken after `step` optimizer steps.
pub fn step_name(step: u64) -> String {
    format!("step-{step:09}")
}

/// Writes `files` as the checkpoint directory `parent/name`, atomically, each file larger
/// than [`PART_BYTES`] in parts. An existing checkpoint of that name is replaced.
pub fn write_atomic(parent: &Path, name: &str, files: &[(&str, Vec<u8>)]) -> Result<PathBuf, CheckpointError> {
    fs::create_dir_all(parent).map_err(io_err(parent))?;
    let tmp = parent.join(format!(".tmp-{name}"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    let mut manifest = Manifest {
        files: Vec::new(),
        parts: BTreeMap::new(),
    };
    for (file, bytes) in files {
        if bytes.len() > PART_BYTES {
            let mut parts = Vec::new();
            for (k, chunk) in bytes.chunks(PART_BYTES).enumerate() {
                let part = part_name(file, k);
                write_synced(&tmp.join(&part), chunk)?;
                parts.push((part, crc32fast::hash(chunk), chunk.len() as u64));
            }
            manifest.parts.insert(file.to_string(), parts);
        } else {
            write_synced(&tmp.join(file), bytes)?;
        }
        manifest
            .files
            .push((file.to_string(), crc32fast::hash(bytes), bytes.len() as u64));
    }
    let text = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    write_synced(&tmp.join(MANIFEST_FILE), &text)?;
    let dest = parent.join(name);
    if dest.exists() {
        replace_dir(&tmp, &dest)?;
    } else {
        fs::rename(&tmp, &dest).map_err(io_err(&dest))?;
    }
    if let Ok(d) = fs::File::open(parent) {
        let _ = d.sync_all();
    }
    Ok(dest)
}

/// Puts the finished directory `new` in place of the existing `dest` so that `dest`
/// always names a complete checkpoint: on Linux one atomic exchange of the two names
/// (renameat2 RENAME_EXCHANGE), then the old contents (now at `new`) are removed.
#[cfg(target_os = "linux")]
fn replace_dir(new: &Path, dest: &Path) -> Result<(), CheckpointError> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, new, CWD, dest, RenameFlags::EXCHANGE).map_err(|e| io_err(dest)(e.into()))?;
    fs::remove_dir_all(new).map_err(io_err(new))
}

/// Elsewhere: the old directory is renamed aside first (a crash between the two renames
/// leaves the older checkpoints and the aside copy, never a partial one).
#[cfg(not(target_os = "linux"))]
fn replace_dir(new: &Path, dest: &Path) -> Result<(), CheckpointError> {
    let aside = new.with_extension("old");
    fs::rename(dest, &aside).map_err(io_err(dest))?;
    fs::rename(new, dest).map_err(io_err(dest))?;
    fs::remove_dir_all(&aside).map_err(io_err(&aside))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let mut f = fs::File::create(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// Reads one file of a checkpoint (putting its parts together if it is stored in parts),
/// checking it against the manifest.
pub fn read_file(dir: &Path, file: &str) -> Result<Vec<u8>, CheckpointError> {
    let mpath = dir.join(MANIFEST_FILE);
    let mtext = fs::read(&mpath).map_err(io_err(&mpath))?;
    let manifest: Manifest =
        serde_json::from_slice(&mtext).map_err(|e| invalid(&mpath, format!("not a checkpoint manifest: {e}")))?;
    let (_, crc, len) = manifest
        .files
        .iter()
        .find(|(name, _, _)| name == file)
        .ok_or_else(|| invalid(&mpath, format!("lists no `{file}`")))?;
    let path = dir.join(file);
    let bytes = match manifest.parts.get(file) {
        None => fs::read(&path).map_err(io_err(&path))?,
        Some(parts) => {
            let mut bytes = Vec::with_capacity(*len as usize);
            for (part, crc, len) in parts {
                let path = dir.join(part);
                let chunk = fs::read(&path).map_err(io_err(&path))?;
                check(&path, &chunk, *crc, *len)?;
                bytes.extend_from_slice(&chunk);
            }
            bytes
        }
    };
    check(&path, &bytes, *crc, *len)?;
    Ok(bytes)
}

/// `bytes`, read from `path`, against their manifest entry.
fn check(path: &Path, bytes: &[u8], crc: u32, len: u64) -> Result<(), CheckpointError> {
    if bytes.len() as u64 != len || crc32fast::hash(bytes) != crc {
        return Err(invalid(
            path,
            format!(
                "corrupt: expected {len} bytes with CRC-32 {crc:08x} (manifest), found {} bytes",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

/// All checkpoints of a run, oldest first, as (step, dir).
pub fn list(run_dir: &Path) -> Result<Vec<(u64, PathBuf)>, CheckpointError> {
    let dir = run_dir.join(CHECKPOINTS);
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
        let entry = entry.map_err(io_err(&dir))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(step) = name.strip_prefix("step-").and_then(|s| s.parse::<u64>().ok()) {
            out.push((step, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The newest checkpoint of a run.
pub fn latest(run_dir: &Path) -> Result<PathBuf, CheckpointError> {
    list(run_dir)?.pop().map(|(_, p)| p).ok_or_else(|| {
        invalid(
            &run_dir.join(CHECKPOINTS),
            "no checkpoint found (expected step-* directories; was `trainer fit` run with this --out?)",
        )
    })
}

/// The spec stored in a checkpoint.
pub fn read_spec(dir: &Path) -> Result<ModelSpec, CheckpointError> {
    let bytes = read_file(dir, SPEC_FILE)?;
    let text = String::from_utf8(bytes).map_err(|_| invalid(&dir.join(SPEC_FILE), "not UTF-8"))?;
    ModelSpec::from_json(&text).map_err(|e| invalid(&dir.join(SPEC_FILE), e))
}

type Rec = BinBytesRecorder<FullPrecisionSettings>;

/// Any burn record (a model's, an optimizer's) as bytes.
pub fn record_bytes<B: Backend, R: burn::record::Record<B>>(record: R) -> Vec<u8> {
    Recorder::<B>::record(&Rec::default(), record, ()).expect("in-memory record")
}

/// A burn record from bytes already checked against the manifest.
pub fn record_from_bytes<B: Backend, R: burn::record::Record<B>>(
    bytes: Vec<u8>,
    device: &B::Device,
) -> Result<R, String> {
    Recorder::<B>::load(&Rec::default(), bytes, device).map_err(|e| e.to_string())
}

/// Which weights of a checkpoint to load (with the `clap` feature, also the binaries'
/// `--weights deployed|trained`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Weights {
    /// The weights to deploy: their moving average when the run keeps one, else the
    /// optimizer's.
    Deployed,
    /// The optimizer's own weights (what `--resume` continues from).
    Trained,
}

impl Weights {
    /// Whether this choice loads the moving average from the checkpoint `dir`: the weights
    /// to deploy of a run that keeps one.
    pub fn averaged(self, dir: &Path) -> bool {
        self == Weights::Deployed && has_ema(dir)
    }
}

/// Loads the model (spec + weights) of a checkpoint directory, in any weights layout: the
/// weights to deploy ([`Weights::Deployed`]).
pub fn load_model<B: Backend>(dir: &Path, device: &B::Device) -> Result<PixelModel<B>, CheckpointError> {
    load_weights(dir, Weights::Deployed, device)
}

/// How logs and the exporter name the weights a score or graph came from: the moving
/// average, or the optimizer's own weights.
pub fn weights_name(averaged: bool) -> &'static str {
    if averaged {
        "moving average"
    } else {
        "trained"
    }
}

/// Whether a checkpoint holds a moving average of its weights.
pub fn has_ema(dir: &Path) -> bool {
    has_file(dir, EMA_FILE)
}

/// Loads the model of a checkpoint directory with the chosen weights.
pub fn load_weights<B: Backend>(
    dir: &Path,
    which: Weights,
    device: &B::Device,
) -> Result<PixelModel<B>, CheckpointError> {
    let spec = read_spec(dir)?;
    let file = if which.averaged(dir) {
        EMA_FILE
    } else {
        [MODEL_FILE, MODEL_FILE_V2, MODEL_FILE_V1]
            .into_iter()
            .find(|f| has_file(dir, f))
            .unwrap_or(MODEL_FILE)
    };
    let weights = dir.join(file);
    let bytes = read_file(dir, file)?;
    let decode = |bytes| -> Result<PixelModelRecord<B>, String> {
        match file {
            MODEL_FILE_V1 => Ok(record_from_bytes::<B, PixelModelRecordV1<B>>(bytes, device)?.upgrade()?),
            MODEL_FILE_V2 => Ok(record_from_bytes::<B, PixelModelRecordV2<B>>(bytes, device)?.upgrade()?),
            _ => record_from_bytes::<B, _>(bytes, device),
        }
    };
    let record = decode(bytes).map_err(|e| invalid(&weights, e))?;
    let fresh = PixelModel::new(&spec, 0, device);
    // what burn's load_record would panic on: another decoder, another layer count, another
    // kind of conditioning projection
    let (have, want) = (
        structure(&record.decoder),
        structure(&fresh.clone().into_record().decoder),
    );
    if have != want {
        let problem = format!("does not fit {SPEC_FILE}: holds {have}; the spec describes {want}");
        return Err(invalid(&weights, problem));
    }
    let want = param_shapes(&fresh);
    let model = fresh.load_record(record);
    let got = param_shapes(&model);
    if got != want {
        let k = got.iter().zip(&want).take_while(|(a, b)| a == b).count();
        let (n, m) = (got.len(), want.len());
        let (g, w) = (got.get(k), want.get(k));
        let problem = format!(
            "does not fit {SPEC_FILE}: {n} parameters, the spec has {m}; parameter {k} is {g:?}, the spec wants {w:?}"
        );
        return Err(invalid(&weights, problem));
    }
    Ok(model)
}

/// A decoder's record as far as burn's `load_record` needs it to match: the decoder,
/// its layer count and the kind of each conditioning projection.
fn structure<B: Backend>(decoder: &DecoderRecord<B>) -> String {
    let kind = |p: &Option<CondProjectionRecord<B>>| match p {
        None => "none",
        Some(CondProjectionRecord::Dense(_)) => "matrices",
        Some(CondProjectionRecord::Map(_)) => "1x1 convolutions",
    };
    let (name, layers, mut projections): (_, _, Vec<_>) = match decoder {
        DecoderRecord::Gated(g) => {
            let p = g.layers.iter().flat_map(|l| [kind(&l.v_cond), kind(&l.h_cond)]);
            ("gated", g.layers.len(), p.collect())
        }
        DecoderRecord::Plain(p) => (
            "plain",
            p.layers.len(),
            p.layers.iter().map(|l| kind(&l.cond)).collect(),
        ),
    };
    projections.dedup();
    let projections = projections.join(", ");
    format!("a {name} decoder of {layers} layers, conditioning projections: {projections}")
}

/// The shape of every parameter, in module order.
fn param_shapes<B: Backend>(model: &PixelModel<B>) -> Vec<Vec<usize>> {
    struct Shapes(Vec<Vec<usize>>);
    impl<B: Backend> ModuleVisitor<B> for Shapes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.push(param.val().dims().to_vec());
        }
    }
    let mut v = Shapes(Vec::new());
    model.visit(&mut v);
    v.0
}

/// The file holding a moving average of a model's weights ([`EMA_FILE`]).
pub fn ema_file<B: Backend>(ema: &PixelModel<B>) -> (&'static str, Vec<u8>) {
    (EMA_FILE, record_bytes::<B, _>(ema.clone().into_record()))
}

/// Files holding a model: its spec and weights.
pub fn model_files<B: Backend>(model: &PixelModel<B>) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (SPEC_FILE, model.spec.to_json().into_bytes()),
        (MODEL_FILE, record_bytes::<B, _>(model.clone().into_record())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn replacing_a_checkpoint_never_leaves_its_name_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let parent = tmp.path().to_path_buf();
        let name = step_name(7);
        write_atomic(&parent, &name, &[("a", vec![0u8; 1 << 16])]).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (stop, dest) = (stop.clone(), parent.join(&name));
            std::thread::spawn(move || {
                let (mut misses, mut looks) = (0, 0);
                while !stop.load(Ordering::Relaxed) {
                    looks += 1;
                    if !dest.join(MANIFEST_FILE).exists() || !dest.join("a").exists() {
                        misses += 1;
                    }
                }
                (misses, looks)
            })
        };
        for k in 1..=100u8 {
            write_atomic(&parent, &name, &[("a", vec![k; 1 << 16])]).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        let (misses, looks) = reader.join().unwrap();
        assert!(looks > 100, "the reader barely ran ({looks} looks)");
        assert_eq!(misses, 0, "{misses} of {looks} looks found no complete checkpoint");
        assert_eq!(read_file(&parent.join(&name), "a").unwrap(), vec![100u8; 1 << 16]);
        // nothing left behind but the checkpoint
        let left: Vec<_> = fs::read_dir(&parent).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from(&name)]);
    }

    #[test]
    fn a_file_over_the_part_size_is_stored_in_parts_and_read_back_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..2 * PART_BYTES + 12345).map(|i| (i * 7 % 251) as u8).collect();
        let small = vec![3u8; 1000];
        let dir = write_atomic(
            tmp.path(),
            "c",
            &[("big.bin", big.clone()), ("small.bin", small.clone())],
        )
        .unwrap();
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let want = [
            "big.bin.part-000",
            "big.bin.part-001",
            "big.bin.part-002",
            MANIFEST_FILE,
            "small.bin",
        ];
        assert_eq!(names, want);
        for name in &names {
            assert!(
                fs::metadata(dir.join(name)).unwrap().len() <= PART_BYTES as u64,
                "{name}"
            );
        }
        assert_eq!(fs::metadata(dir.join("big.bin.part-002")).unwrap().len(), 12345);
        assert!(has_file(&dir, "big.bin") && has_file(&dir, "small.bin") && !has_file(&dir, "other.bin"));
        assert_eq!(read_file(&dir, "big.bin").unwrap(), big);
        assert_eq!(read_file(&dir, "small.bin").unwrap(), small);

        // a damaged part is named as such
        let part = dir.join("big.bin.part-001");
        let mut bytes = fs::read(&part).unwrap();
        bytes[100] ^= 1;
        fs::write(&part, &bytes).unwrap();
        let err = read_file(&dir, "big.bin").unwrap_err().to_string();
        assert!(err.contains("big.bin.part-001") && err.contains("corrupt"), "{err}");
        // and so is a missing one
        fs::remove_file(&part).unwrap();
        let err = read_file(&dir, "big.bin").unwrap_err().to_string();
        assert!(err.contains("big.bin.part-001"), "{err}");
    }
}
