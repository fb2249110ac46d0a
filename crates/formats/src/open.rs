//! Opening by content: a path (file, folder, sharded index or TensorFlow prefix) or an opened file
//! is read by the reader its bytes call for ([`crate::sniff`] decides which).

use std::path::{Path, PathBuf};

use weighhouse_tensor::Limits;

use crate::error::{Error, FormatError, ResultExt};
use crate::parsed::{Files, Parsed};
use crate::sniff::{Kind, sniff};
use crate::{gguf, index, keras, npy, onnx, safetensors, tf, torch};

/// Open whatever `path` names: a file of any format, a folder, a sharded index or a TensorFlow
/// checkpoint prefix.
pub(crate) fn open_any(files: &mut Files, path: &Path, limits: &Limits) -> Result<Parsed, Error> {
    if path.is_dir() {
        return index::open_dir(files, path, limits, open_file);
    }
    if !path.exists() {
        let mut prefixed = path.as_os_str().to_owned();
        prefixed.push(".index");
        let prefixed = PathBuf::from(prefixed);
        if prefixed.is_file() {
            let id = files.open(&prefixed)?;
            return tf::open(files, id, limits);
        }
    }
    let id = files.open(path)?;
    open_file(files, id, limits)
}

/// Open file `id`, already in `files`, by what its bytes look like.
pub(crate) fn open_file(files: &mut Files, id: usize, limits: &Limits) -> Result<Parsed, Error> {
    let path = files.path(id).to_owned();
    let kind = sniff(files.bytes(id), limits);
    let single = |f: fn(&[u8], &Limits) -> Result<Parsed, FormatError>, files: &Files| {
        let mut parsed = f(files.bytes(id), limits).at(&path)?;
        parsed.remap_files(|_| id);
        Ok(parsed)
    };
    match kind {
        Kind::Safetensors => single(safetensors::parse, files),
        Kind::TorchZip => single(torch::parse_zip, files),
        Kind::TorchLegacy => single(torch::parse_legacy, files),
        Kind::Gguf => single(gguf::parse, files),
        Kind::Npy => single(npy::parse_npy, files),
        Kind::Npz => single(npy::parse_npz, files),
        Kind::KerasZip => single(keras::parse_keras_zip, files),
        Kind::Hdf5 => single(keras::parse_h5, files),
        Kind::TfIndex => tf::open(files, id, limits),
        Kind::Onnx => onnx::open(files, id, limits),
        Kind::ShardIndex => index::open_index(files, id, limits, open_file),
        Kind::TorchTar => Err(Error::new(
            &path,
            FormatError::unsupported(
                "pytorch",
                "tar archives written by torch 0.3 and older; re-save with a newer torch",
            ),
        )),
        Kind::Unknown => Err(Error::new(&path, FormatError::UnknownFormat)),
    }
}
