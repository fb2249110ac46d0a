//! Recognising a checkpoint by its magic bytes and structure (never by its file name), and
//! dispatching to the right reader.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use weighhouse_tensor::Limits;

use crate::checkpoint::{Files, Parsed};
use crate::error::{Error, FormatError, ResultExt};
use crate::{gguf, index, keras, npy, onnx, safetensors, tf, torch};

/// What a file looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// safetensors.
    Safetensors,
    /// A zip archive holding a `data.pkl` record (`torch.save`).
    TorchZip,
    /// A pickle stream starting with torch's legacy magic number.
    TorchLegacy,
    /// A tar archive (torch ≤ 0.3), recognised so it can be refused by name.
    TorchTar,
    /// GGUF.
    Gguf,
    /// NumPy `.npy`.
    Npy,
    /// A zip archive of `.npy` members.
    Npz,
    /// A zip archive holding Keras 3's `config.json` / `model.weights.h5`.
    KerasZip,
    /// An HDF5 file (Keras `.h5`, `.weights.h5`).
    Hdf5,
    /// A TensorFlow bundle `.index` table.
    TfIndex,
    /// A sharded-checkpoint JSON index (`*.index.json` with a `weight_map`).
    ShardIndex,
    /// An ONNX model (protobuf `ModelProto` with a graph).
    Onnx,
    /// Anything else.
    Unknown,
}

const TORCH_LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
const HDF5_MAGIC: &[u8] = b"\x89HDF\r\n\x1a\n";
const TF_TABLE_MAGIC: &[u8] = &[0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb];

/// Tell what `bytes` are.
pub fn sniff(bytes: &[u8], limits: &Limits) -> Kind {
    if bytes.len() >= 9 {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
        if n >= 2 && n <= (bytes.len() - 8) as u64 && bytes[8] == b'{' {
            return Kind::Safetensors;
        }
    }
    if bytes.starts_with(b"GGUF") {
        return Kind::Gguf;
    }
    if bytes.starts_with(b"\x93NUMPY") {
        return Kind::Npy;
    }
    // A legacy torch file is a pickle stream. Any protocol 2-5 pickle goes to that reader, even
    // one that does not start with the magic number as a literal: the restricted machine then
    // names whatever global it would need (say, one that computes the magic number) or says it is
    // not a torch file.
    if bytes.starts_with(TORCH_LEGACY_MAGIC)
        || (bytes.len() > 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]))
    {
        return Kind::TorchLegacy;
    }
    if is_hdf5(bytes) {
        return Kind::Hdf5;
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return sniff_zip(bytes, limits);
    }
    if bytes.len() > 262 && &bytes[257..262] == b"ustar" {
        return Kind::TorchTar;
    }
    if bytes.len() >= 48 && bytes.ends_with(TF_TABLE_MAGIC) {
        return Kind::TfIndex;
    }
    let text = bytes.trim_ascii_start();
    if text.starts_with(b"{") && index::looks_like_index(bytes, limits) {
        return Kind::ShardIndex;
    }
    if onnx::looks_like_onnx(bytes, limits) {
        return Kind::Onnx;
    }
    Kind::Unknown
}

/// HDF5's signature sits at offset 0, or 512, 1024, 2048, ... after a user block.
fn is_hdf5(bytes: &[u8]) -> bool {
    let mut at = 0usize;
    while at + HDF5_MAGIC.len() <= bytes.len() {
        if &bytes[at..at + HDF5_MAGIC.len()] == HDF5_MAGIC {
            return true;
        }
        at = if at == 0 { 512 } else { at * 2 };
    }
    false
}

fn sniff_zip(bytes: &[u8], limits: &Limits) -> Kind {
    let Ok(archive) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Kind::Unknown;
    };
    if archive.len() as u64 > limits.max_zip_entries {
        return Kind::Unknown;
    }
    let owned: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    let names: Vec<&str> = owned.iter().map(String::as_str).collect();
    // torch's zip reader matches record names case-insensitively, so a `DATA.PKL` must not slip
    // past as "unknown".
    if names.iter().any(|n| {
        let n = n.to_ascii_lowercase();
        n == "data.pkl" || n.ends_with("/data.pkl")
    }) {
        return Kind::TorchZip;
    }
    if names.contains(&"model.weights.h5")
        || names.contains(&"model.weights.npz")
        || (names.contains(&"config.json") && names.contains(&"metadata.json"))
    {
        return Kind::KerasZip;
    }
    if !names.is_empty() && names.iter().all(|n| n.ends_with(".npy")) {
        return Kind::Npz;
    }
    Kind::Unknown
}

/// Open whatever `path` names: a file of any format, a folder, a sharded index or a TensorFlow
/// checkpoint prefix.
pub(crate) fn open_any(files: &mut Files, path: &Path, limits: &Limits) -> Result<Parsed, Error> {
    if path.is_dir() {
        return index::open_dir(files, path, limits);
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
        Kind::ShardIndex => index::open_index(files, id, limits),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_bytes() {
        let l = Limits::strict();
        assert_eq!(sniff(b"GGUF\x03\x00\x00\x00", &l), Kind::Gguf);
        assert_eq!(sniff(b"\x93NUMPY\x01\x00", &l), Kind::Npy);
        let mut st = 2u64.to_le_bytes().to_vec();
        st.extend_from_slice(b"{}");
        assert_eq!(sniff(&st, &l), Kind::Safetensors);
        assert_eq!(sniff(b"hello world", &l), Kind::Unknown);
        assert_eq!(sniff(b"", &l), Kind::Unknown);
        let mut h5 = vec![0u8; 512];
        h5.extend_from_slice(HDF5_MAGIC);
        assert_eq!(sniff(&h5, &l), Kind::Hdf5);
    }
}
