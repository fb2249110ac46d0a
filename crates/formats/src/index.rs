//! Sharded checkpoints (`model.safetensors.index.json`, `pytorch_model.bin.index.json`, ...) and
//! model folders, each read as one logical checkpoint.

use std::collections::HashMap;
use std::path::{Component, Path};

use weighhouse_tensor::Limits;

use crate::error::{Error, FormatError, ResultExt};
pub use crate::index_doc::looks_like_index;
use crate::index_doc::{FORMAT, parse_doc};
use crate::parsed::{Files, Format, Parsed};
use crate::sniff::{self, Kind};

/// How a file of the set is opened (by content, whatever its format).
pub(crate) type Opener = fn(&mut Files, usize, &Limits) -> Result<Parsed, Error>;

/// A shard's file name must stay inside the index's folder.
fn shard_path(dir: &Path, name: &str) -> Result<std::path::PathBuf, FormatError> {
    let rel = Path::new(name);
    if name.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(FormatError::malformed(
            FORMAT,
            format!("shard name {name:?} leaves the index's folder"),
        ));
    }
    Ok(dir.join(rel))
}

/// Open the sharded set whose index is `files[id]`.
pub(crate) fn open_index(
    files: &mut Files,
    id: usize,
    limits: &Limits,
    open: Opener,
) -> Result<Parsed, Error> {
    let path = files.path(id).to_owned();
    let doc = parse_doc(files.bytes(id), limits).at(&path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    // Shards in the order of their names (model-00001-of-00002, ...).
    let mut shards: Vec<&String> = doc.weight_map.values().collect();
    shards.sort();
    shards.dedup();
    let mut out: Option<Parsed> = None;
    let mut found: HashMap<String, String> = HashMap::new();
    for shard in shards {
        let shard_file = shard_path(dir, shard).at(&path)?;
        let sid = files.open(&shard_file)?;
        let parsed = open(files, sid, limits)?;
        for t in &parsed.tensors {
            found.insert(t.name.clone(), shard.clone());
        }
        out = Some(merge(out, parsed));
    }
    for (name, shard) in &doc.weight_map {
        if found.get(name) != Some(shard) {
            return Err(Error::new(
                &path,
                FormatError::malformed(
                    FORMAT,
                    format!("tensor {name:?} is not in its shard {shard:?}"),
                ),
            ));
        }
    }
    let mut parsed = out.unwrap_or_else(|| Parsed::new(Format::Safetensors));
    for (k, v) in doc.metadata {
        parsed.metadata.insert(k, v);
    }
    Ok(parsed)
}

fn merge(acc: Option<Parsed>, next: Parsed) -> Parsed {
    match acc {
        None => next,
        Some(mut acc) => {
            if acc.format != next.format {
                acc.format = Format::Mixed;
            }
            acc.tensors.extend(next.tensors);
            acc.other.extend(next.other);
            for (k, v) in next.metadata {
                acc.metadata.entry(k).or_insert(v);
            }
            acc
        }
    }
}

/// Preference among formats when a folder holds the same weights several times (a Hub repo with
/// `model.safetensors`, `pytorch_model.bin` and `tf_model.h5`): the first one present wins.
const PREFERENCE: &[Kind] = &[
    Kind::Safetensors,
    Kind::TorchZip,
    Kind::TorchLegacy,
    Kind::Gguf,
    Kind::KerasZip,
    Kind::Hdf5,
    Kind::TfIndex,
    Kind::Onnx,
    Kind::Npz,
    Kind::Npy,
];

/// Open a model folder: its sharded index if it has one, else its weight files of the preferred
/// format, as one checkpoint.
pub(crate) fn open_dir(
    files: &mut Files,
    dir: &Path,
    limits: &Limits,
    open: Opener,
) -> Result<Parsed, Error> {
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .at(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .map(|n| n.to_string_lossy().starts_with('.'))
                .unwrap_or(true)
        })
        .collect();
    names.sort();
    // Sniff every file through a scratch set, so that only the files actually read end up in the
    // checkpoint's file list.
    let mut by_kind: Vec<(Kind, &Path)> = Vec::new();
    let mut scratch = Files::default();
    for p in &names {
        let id = scratch.open(p)?;
        by_kind.push((sniff::sniff(scratch.bytes(id), limits), p));
    }
    drop(scratch);
    // A sharded index describes the whole set; prefer safetensors' when there are several.
    let mut indexes: Vec<&Path> = by_kind
        .iter()
        .filter(|k| k.0 == Kind::ShardIndex)
        .map(|k| k.1)
        .collect();
    indexes.sort_by_key(|p| !p.to_string_lossy().contains("safetensors"));
    if let Some(p) = indexes.first() {
        let id = files.open(p)?;
        return open_index(files, id, limits, open);
    }
    let Some(kind) = PREFERENCE
        .iter()
        .find(|k| by_kind.iter().any(|b| b.0 == **k))
    else {
        return Err(Error::new(
            dir,
            FormatError::malformed("folder", "no weight file in a recognised format"),
        ));
    };
    let mut chosen: Vec<&Path> = by_kind
        .iter()
        .filter(|b| b.0 == *kind)
        .map(|b| b.1)
        .collect();
    if *kind == Kind::TfIndex && chosen.len() > 1 {
        // TF1's Saver keeps several checkpoints in one folder; its `checkpoint` file names the
        // latest.
        if let Some(latest) = latest_tf_checkpoint(dir) {
            chosen.retain(|p| p.file_stem().is_some_and(|s| s.to_string_lossy() == latest));
        }
    }
    let mut out: Option<Parsed> = None;
    let mut owner: HashMap<String, &Path> = HashMap::new();
    for p in chosen {
        let id = files.open(p)?;
        let parsed = open(files, id, limits)?;
        for t in &parsed.tensors {
            if let Some(other) = owner.get(&t.name) {
                // Two files with the same tensors are two checkpoints (say, two quantisations of
                // one model), not two parts of one.
                return Err(Error::new(
                    dir,
                    FormatError::unsupported(
                        "folder",
                        format!(
                            "{} and {} both hold tensor {:?}: the folder holds several checkpoints; name one file",
                            file_name(other),
                            file_name(p),
                            t.name
                        ),
                    ),
                ));
            }
            owner.insert(t.name.clone(), p);
        }
        out = Some(merge(out, parsed));
    }
    out.ok_or_else(|| Error::new(dir, FormatError::UnknownFormat))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The checkpoint prefix named by `model_checkpoint_path` in a TF `checkpoint` state file.
fn latest_tf_checkpoint(dir: &Path) -> Option<String> {
    let text = std::fs::read(dir.join("checkpoint")).ok()?;
    if text.len() > 1 << 20 {
        return None;
    }
    let text = String::from_utf8_lossy(&text);
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("model_checkpoint_path:"))?;
    let path = line.trim().trim_matches('"');
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}
