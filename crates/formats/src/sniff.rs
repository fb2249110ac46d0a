//! Recognising a checkpoint by its magic bytes and structure (never by its file name), and
//! dispatching to the right reader.
//!
//! The signatures below are the workspace's one table of magic bytes: [`sniff`] reads them in the
//! order that picks a reader here, and the scanner (`weighhouse-scan`) reads the same ones, plus
//! the compressed and archive wrappers it opens ([`compression`]), in the order its forensic
//! dispatch needs. Where a signature leaves a choice (how large a safetensors header may be, which
//! pickle protocols count), the predicate returns what it found and each caller decides.

use std::io::Cursor;

use weighhouse_tensor::Limits;

use crate::pickle::op;
use crate::{index_doc, onnx};

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

/// torch's legacy files start with their magic number `0x1950a86a20f9469cfc6c` pickled at
/// protocol 2 (`PROTO 2`, `LONG1` of 10 bytes); a `STOP` follows.
pub const TORCH_LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
/// The HDF5 superblock signature.
pub const HDF5_MAGIC: &[u8] = b"\x89HDF\r\n\x1a\n";
/// A LevelDB table (TensorFlow `.index`) ends with this.
pub const TF_TABLE_MAGIC: &[u8] = &[0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb];
/// GGUF files start with this.
pub const GGUF_MAGIC: &[u8] = b"GGUF";
/// NumPy `.npy` files start with this.
pub const NPY_MAGIC: &[u8] = b"\x93NUMPY";
/// A zip local file header (the first bytes of a non-empty archive).
pub const ZIP_LOCAL_HEADER: &[u8] = b"PK\x03\x04";
/// A zip end-of-central-directory record (the first bytes of an empty archive).
pub const ZIP_END_RECORD: &[u8] = b"PK\x05\x06";

/// The header length of a safetensors file: a little-endian u64 that fits in what follows it,
/// followed by the `{` that opens the JSON header. The reference reader also needs a length of
/// at least 2 (`{}`); [`sniff`] checks that, the scanner scans shorter ones as malformed
/// safetensors.
pub fn safetensors_header_len(bytes: &[u8]) -> Option<u64> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    (bytes.get(8) == Some(&b'{') && n <= (bytes.len() - 8) as u64).then_some(n)
}

/// The protocol a pickle announces with a leading `PROTO` opcode (protocol 2 and later write
/// one). The byte after it is returned as is: valid protocols are 0 to 5.
pub fn pickle_protocol(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [op::PROTO, p, ..] => Some(*p),
        _ => None,
    }
}

/// A POSIX tar archive (`ustar` at offset 257 of the first header).
pub fn is_tar(bytes: &[u8]) -> bool {
    bytes.len() > 262 && &bytes[257..262] == b"ustar"
}

/// A compressed stream or archive format that wraps other files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// gzip (`1f 8b`).
    Gzip,
    /// A zlib stream: a deflate header whose check bits are right.
    Zlib,
    /// bzip2 (`BZh`).
    Bzip2,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// Zstandard (`28 b5 2f fd`).
    Zstd,
    /// A 7z archive.
    SevenZip,
}

/// The compressed stream or archive format `bytes` start with, if any. None of these is a
/// checkpoint format ([`sniff`] does not open them); the scanner unpacks gzip, zlib and 7z.
pub fn compression(bytes: &[u8]) -> Option<Compression> {
    Some(match bytes {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x78, flg, ..]
            if matches!(flg, 0x01 | 0x5e | 0x9c | 0xda) && (0x7800 | u16::from(*flg)) % 31 == 0 =>
        {
            Compression::Zlib
        }
        [b'B', b'Z', b'h', ..] => Compression::Bzip2,
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Compression::Xz,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
        [b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c, ..] => Compression::SevenZip,
        _ => return None,
    })
}

/// Tell what `bytes` are.
pub fn sniff(bytes: &[u8], limits: &Limits) -> Kind {
    if safetensors_header_len(bytes).is_some_and(|n| n >= 2) {
        return Kind::Safetensors;
    }
    if bytes.starts_with(GGUF_MAGIC) {
        return Kind::Gguf;
    }
    if bytes.starts_with(NPY_MAGIC) {
        return Kind::Npy;
    }
    // A legacy torch file is a pickle stream. Any protocol 2-5 pickle goes to that reader, even
    // one that does not start with the magic number as a literal: the restricted machine then
    // names whatever global it would need (say, one that computes the magic number) or says it is
    // not a torch file.
    if bytes.starts_with(TORCH_LEGACY_MAGIC)
        || (bytes.len() > 2 && pickle_protocol(bytes).is_some_and(|p| (2..=5).contains(&p)))
    {
        return Kind::TorchLegacy;
    }
    if is_hdf5(bytes) {
        return Kind::Hdf5;
    }
    if bytes.starts_with(ZIP_LOCAL_HEADER) || bytes.starts_with(ZIP_END_RECORD) {
        return sniff_zip(bytes, limits);
    }
    if is_tar(bytes) {
        return Kind::TorchTar;
    }
    if bytes.len() >= 48 && bytes.ends_with(TF_TABLE_MAGIC) {
        return Kind::TfIndex;
    }
    let text = bytes.trim_ascii_start();
    if text.starts_with(b"{") && index_doc::looks_like_index(bytes, limits) {
        return Kind::ShardIndex;
    }
    if onnx::looks_like_onnx(bytes, limits) {
        return Kind::Onnx;
    }
    Kind::Unknown
}

/// HDF5's signature sits at offset 0, or 512, 1024, 2048, ... after a user block.
pub fn is_hdf5(bytes: &[u8]) -> bool {
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

    #[test]
    fn signatures() {
        let mut st = 1u64.to_le_bytes().to_vec();
        st.push(b'{');
        assert_eq!(safetensors_header_len(&st), Some(1));
        assert_eq!(sniff(&st, &Limits::strict()), Kind::Unknown);
        st[0] = 2;
        assert_eq!(safetensors_header_len(&st), None);
        assert_eq!(safetensors_header_len(b"{"), None);
        assert_eq!(pickle_protocol(b"\x80\x04\x95"), Some(4));
        assert_eq!(pickle_protocol(b"\x80"), None);
        assert_eq!(pickle_protocol(b"(lp0"), None);
        assert_eq!(compression(b"\x1f\x8b\x08"), Some(Compression::Gzip));
        assert_eq!(compression(b"\x78\x9c"), Some(Compression::Zlib));
        assert_eq!(compression(b"\x78\x9d"), None);
        assert_eq!(compression(b"BZh9"), Some(Compression::Bzip2));
        assert_eq!(compression(b"\xfd7zXZ\x00"), Some(Compression::Xz));
        assert_eq!(compression(b"\xfd7zXZ"), None);
        assert_eq!(compression(b"\x28\xb5\x2f\xfd"), Some(Compression::Zstd));
        assert_eq!(
            compression(b"7z\xbc\xaf\x27\x1c\x00\x04"),
            Some(Compression::SevenZip)
        );
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert!(is_tar(&tar));
        assert!(!is_tar(&tar[..262]));
    }
}
