//! TensorFlow TensorBundle checkpoints (`<prefix>.index` + `<prefix>.data-NNNNN-of-MMMMM`), as
//! written by `tf.train.Checkpoint` and the TF1 `Saver`. The index is a LevelDB table of
//! protobuf entries (see the `sstable` submodule); tensor bytes stay in the data shards and are addressed in place.

mod sstable;

use std::path::{Path, PathBuf};

use prost::Message;
use serde_json::{Value, json};
use weighhouse_tensor::{DType, Limits, byte_len, num_elements};

use crate::error::{Error, FormatError, ResultExt};
use crate::parsed::{Base, DataSource, Files, Format, Layout, OtherValue, Parsed, TensorView};
use crate::proto::{self, WireError};

const FORMAT: &str = "tensorflow";

/// The bundle format version this reader understands (`kTensorBundleVersion`).
const BUNDLE_VERSION: i32 = 1;

/// Strings up to this many bytes in total are shown in [`Parsed::other`]; longer ones by size.
const MAX_SHOWN_STRING_BYTES: u64 = 1024;

fn malformed(msg: impl Into<String>) -> FormatError {
    FormatError::malformed(FORMAT, msg)
}

// The subset of `tensor_bundle.proto`, `tensor_shape.proto`, `tensor_slice.proto` and
// `versions.proto` a reader needs, declared by hand so no protoc or build script is involved.

#[derive(Clone, PartialEq, Message)]
struct BundleHeaderProto {
    #[prost(int32, tag = "1")]
    num_shards: i32,
    /// 0 = little-endian, 1 = big-endian.
    #[prost(int32, tag = "2")]
    endianness: i32,
    #[prost(message, optional, tag = "3")]
    version: Option<VersionDef>,
}

#[derive(Clone, PartialEq, Message)]
struct VersionDef {
    #[prost(int32, tag = "1")]
    producer: i32,
    #[prost(int32, tag = "2")]
    min_consumer: i32,
    #[prost(int32, repeated, tag = "3")]
    bad_consumers: Vec<i32>,
}

#[derive(Clone, PartialEq, Message)]
struct BundleEntryProto {
    #[prost(int32, tag = "1")]
    dtype: i32,
    #[prost(message, optional, tag = "2")]
    shape: Option<TensorShapeProto>,
    #[prost(int32, tag = "3")]
    shard_id: i32,
    #[prost(int64, tag = "4")]
    offset: i64,
    #[prost(int64, tag = "5")]
    size: i64,
    #[prost(fixed32, tag = "6")]
    crc32c: u32,
    #[prost(message, repeated, tag = "7")]
    slices: Vec<TensorSliceProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorShapeProto {
    #[prost(message, repeated, tag = "2")]
    dim: Vec<Dim>,
    #[prost(bool, tag = "3")]
    unknown_rank: bool,
}

#[derive(Clone, PartialEq, Message)]
struct Dim {
    #[prost(int64, tag = "1")]
    size: i64,
    #[prost(string, tag = "2")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct TensorSliceProto {
    #[prost(message, repeated, tag = "1")]
    extent: Vec<Extent>,
}

#[derive(Clone, PartialEq, Message)]
struct Extent {
    #[prost(int64, tag = "1")]
    start: i64,
    #[prost(int64, optional, tag = "2")]
    length: Option<i64>,
}

/// What a TensorFlow `DataType` code stands for here.
enum TfType {
    /// A numeric type with a fixed element width.
    Plain(DType),
    /// `DT_STRING`: length-prefixed byte strings.
    String,
    /// Anything else stored in a bundle that is not a plain tensor (variants, resources,
    /// quantized and sub-byte integer types), with TensorFlow's name for it.
    Opaque(&'static str),
}

/// Map a `types.proto` DataType code (the `_REF` variants are `+100`).
fn tf_type(code: i32) -> Option<TfType> {
    let code = if code > 100 { code - 100 } else { code };
    Some(match code {
        1 => TfType::Plain(DType::F32),
        2 => TfType::Plain(DType::F64),
        3 => TfType::Plain(DType::I32),
        4 => TfType::Plain(DType::U8),
        5 => TfType::Plain(DType::I16),
        6 => TfType::Plain(DType::I8),
        7 => TfType::String,
        8 => TfType::Plain(DType::C64),
        9 => TfType::Plain(DType::I64),
        10 => TfType::Plain(DType::Bool),
        11 => TfType::Opaque("qint8"),
        12 => TfType::Opaque("quint8"),
        13 => TfType::Opaque("qint32"),
        14 => TfType::Plain(DType::BF16),
        15 => TfType::Opaque("qint16"),
        16 => TfType::Opaque("quint16"),
        17 => TfType::Plain(DType::U16),
        18 => TfType::Plain(DType::C128),
        19 => TfType::Plain(DType::F16),
        20 => TfType::Opaque("resource"),
        21 => TfType::Opaque("variant"),
        22 => TfType::Plain(DType::U32),
        23 => TfType::Plain(DType::U64),
        24 => TfType::Plain(DType::F8E5M2),
        25 => TfType::Plain(DType::F8E4M3),
        26 => TfType::Plain(DType::F8E4M3Fnuz),
        27 => TfType::Opaque("float8_e4m3b11fnuz"),
        28 => TfType::Plain(DType::F8E5M2Fnuz),
        29 => TfType::Opaque("int4"),
        30 => TfType::Opaque("uint4"),
        31 => TfType::Opaque("int2"),
        32 => TfType::Opaque("uint2"),
        _ => return None,
    })
}

/// Where an entry's bytes are and how to check them.
#[derive(Debug)]
struct EntryData {
    /// Index into [`Parsed::tensors`], or into [`Parsed::other`] for non-tensor entries.
    slot: Slot,
    shard: usize,
    offset: u64,
    size: u64,
    crc: u32,
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Tensor(usize),
    /// A `DT_STRING` entry with this many elements, whose value may be shown.
    String(usize, u64),
    /// A non-tensor entry holding plain bytes (quantized and sub-byte types).
    Opaque(usize),
    /// A variant or resource entry.
    Unchecked(usize),
}

/// A parsed index: the tensors plus what is needed to check them against the shards.
#[derive(Debug)]
struct Bundle {
    parsed: Parsed,
    num_shards: usize,
    entries: Vec<EntryData>,
}

/// Recover the variable name from a partitioned-variable slice key: an OrderedCode encoding of
/// `(0, name, rank, extents...)`, whose string part escapes `\0` as `\0\xff` and ends at `\0\x01`.
fn slice_key_name(key: &[u8]) -> String {
    let mut name = Vec::new();
    let mut i = 1;
    while i < key.len() {
        match (key[i], key.get(i + 1)) {
            (0, Some(0x01)) => break,
            (0, Some(0xff)) => {
                name.push(0);
                i += 2;
            }
            (0xff, Some(0x00)) => {
                name.push(0xff);
                i += 2;
            }
            (b, _) => {
                name.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&name).into_owned()
}

fn partitioned(name: &str) -> FormatError {
    FormatError::unsupported(
        FORMAT,
        format!("variable {name:?} is partitioned into slices; re-save it unpartitioned"),
    )
}

fn parse_bundle(bytes: &[u8], limits: &Limits) -> Result<Bundle, FormatError> {
    let mut parsed = Parsed::new(Format::TensorFlow);
    let mut entries = Vec::new();
    let mut header: Option<(usize, bool)> = None;
    sstable::for_each_entry(bytes, limits, |key, value| {
        let Some((num_shards, big_endian)) = header else {
            if !key.is_empty() {
                return Err(malformed("the bundle header entry (empty key) is missing"));
            }
            let h = BundleHeaderProto::decode(value)
                .map_err(|e| malformed(format!("bundle header: {e}")))?;
            let num_shards = usize::try_from(h.num_shards)
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| malformed(format!("bundle header: {} shards", h.num_shards)))?;
            let big_endian = match h.endianness {
                0 => false,
                1 => true,
                e => return Err(malformed(format!("bundle header: endianness {e}"))),
            };
            let v = h.version.unwrap_or_default();
            if v.min_consumer > BUNDLE_VERSION || v.bad_consumers.contains(&BUNDLE_VERSION) {
                return Err(FormatError::unsupported(
                    FORMAT,
                    format!(
                        "bundle version (producer {}, min consumer {})",
                        v.producer, v.min_consumer
                    ),
                ));
            }
            let m = &mut parsed.metadata;
            m.insert("num_shards".into(), json!(num_shards));
            m.insert(
                "endianness".into(),
                json!(if big_endian { "big" } else { "little" }),
            );
            m.insert(
                "version".into(),
                json!({
                    "producer": v.producer,
                    "min_consumer": v.min_consumer,
                    "bad_consumers": v.bad_consumers,
                }),
            );
            header = Some((num_shards, big_endian));
            return Ok(());
        };
        if key.first() == Some(&0) {
            return Err(partitioned(&slice_key_name(key)));
        }
        let name = std::str::from_utf8(key)
            .map_err(|_| malformed(format!("entry name {key:?} is not UTF-8")))?;
        if (parsed.tensors.len() + parsed.other.len()) as u64 >= limits.max_tensors {
            return Err(FormatError::limit(
                "number of bundle entries",
                limits.max_tensors,
            ));
        }
        let e = BundleEntryProto::decode(value)
            .map_err(|err| malformed(format!("entry {name:?}: {err}")))?;
        if !e.slices.is_empty() {
            return Err(partitioned(name));
        }
        let shape_proto = e.shape.unwrap_or_default();
        if shape_proto.unknown_rank {
            return Err(malformed(format!("entry {name:?} has an unknown rank")));
        }
        if shape_proto.dim.len() > limits.max_dims {
            return Err(FormatError::limit(
                format!("dimensions of {name:?}"),
                limits.max_dims as u64,
            ));
        }
        let shape = shape_proto
            .dim
            .iter()
            .map(|d| u64::try_from(d.size))
            .collect::<Result<Vec<u64>, _>>()
            .map_err(|_| malformed(format!("entry {name:?} has a negative dimension")))?;
        let shard = usize::try_from(e.shard_id)
            .ok()
            .filter(|&s| s < num_shards)
            .ok_or_else(|| {
                malformed(format!(
                    "entry {name:?} is in shard {} of {num_shards}",
                    e.shard_id
                ))
            })?;
        let (Ok(offset), Ok(size)) = (u64::try_from(e.offset), u64::try_from(e.size)) else {
            return Err(malformed(format!(
                "entry {name:?} has a negative offset or size"
            )));
        };
        let ty = tf_type(e.dtype).ok_or_else(|| {
            FormatError::unsupported(FORMAT, format!("entry {name:?} has dtype code {}", e.dtype))
        })?;
        let slot = match ty {
            TfType::Plain(dtype) => {
                let want = byte_len(dtype, &shape).map_err(|source| FormatError::Shape {
                    tensor: name.to_owned(),
                    source,
                })?;
                if size != want {
                    return Err(malformed(format!(
                        "entry {name:?}: {size} bytes stored, {dtype} {shape:?} needs {want}"
                    )));
                }
                parsed.tensors.push(TensorView {
                    name: name.to_owned(),
                    dtype,
                    shape,
                    file: shard,
                    source: DataSource {
                        base: Base::File(shard),
                        offset,
                        layout: Layout::Dense,
                        big_endian,
                    },
                });
                Slot::Tensor(parsed.tensors.len() - 1)
            }
            TfType::String => {
                let n = num_elements(&shape).map_err(|source| FormatError::Shape {
                    tensor: name.to_owned(),
                    source,
                })?;
                parsed.other.push(OtherValue {
                    name: name.to_owned(),
                    value: json!({"dtype": "string", "shape": shape}),
                });
                Slot::String(parsed.other.len() - 1, n)
            }
            TfType::Opaque(what) => {
                parsed.other.push(OtherValue {
                    name: name.to_owned(),
                    value: json!({"dtype": what, "shape": shape}),
                });
                let i = parsed.other.len() - 1;
                if matches!(what, "variant" | "resource") {
                    Slot::Unchecked(i)
                } else {
                    Slot::Opaque(i)
                }
            }
        };
        entries.push(EntryData {
            slot,
            shard,
            offset,
            size,
            crc: e.crc32c,
        });
        Ok(())
    })?;
    let (num_shards, _) =
        header.ok_or_else(|| malformed("the table is empty (no bundle header)"))?;
    Ok(Bundle {
        parsed,
        num_shards,
        entries,
    })
}

/// Parse a bundle `.index` table held in `bytes`. Tensor data refers to [`crate::Base::File`]
/// `shard_id` (the data shards are not opened, so entry checksums are not verified).
pub fn parse_index(bytes: &[u8], limits: &Limits) -> Result<Parsed, FormatError> {
    Ok(parse_bundle(bytes, limits)?.parsed)
}

/// `<prefix>` of `<prefix>.index`.
fn prefix_of(index: &Path) -> Result<PathBuf, FormatError> {
    let name = index
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".index"))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            FormatError::unsupported(
                FORMAT,
                "the index file must be named <prefix>.index to find its data shards",
            )
        })?;
    Ok(index.with_file_name(name))
}

/// Split a `DT_STRING` tensor's bytes (varint lengths, a masked CRC-32C of the lengths, then the
/// strings) and check both its checksums. The entry checksum does not run over the bytes as
/// stored: TensorFlow feeds it each length as a little-endian u32 (u64 when larger), then the
/// length checksum and the string bytes.
fn parse_strings(data: &[u8], n: u64, stored_crc: u32) -> Result<Vec<&[u8]>, String> {
    if n > data.len() as u64 {
        return Err(format!("{n} strings cannot fit in {} bytes", data.len()));
    }
    let mut pos = 0usize;
    let mut lens = Vec::with_capacity(n as usize);
    let mut crc = 0u32;
    for _ in 0..n {
        let v = proto::varint(data, &mut pos, proto::MAX_VARINT_BYTES).map_err(|e| match e {
            WireError::TruncatedVarint { .. } => "truncated string length",
            WireError::VarintOverflow => "string length overflows 64 bits",
            _ => "string length varint is too long",
        })?;
        crc = match u32::try_from(v) {
            Ok(v32) => crc32c::crc32c_append(crc, &v32.to_le_bytes()),
            Err(_) => crc32c::crc32c_append(crc, &v.to_le_bytes()),
        };
        lens.push(usize::try_from(v).map_err(|_| "string length out of range")?);
    }
    if n == 0 && pos == data.len() {
        return Ok(Vec::new());
    }
    let lc = data
        .get(pos..pos + 4)
        .ok_or("truncated string length checksum")?;
    let lc = u32::from_le_bytes(lc.try_into().unwrap_or([0; 4]));
    if lc != sstable::mask_crc(crc) {
        return Err("string length checksum mismatch".into());
    }
    let entry = sstable::mask_crc(crc32c::crc32c_append(crc, &data[pos..]));
    if entry != stored_crc {
        return Err(format!(
            "data checksum mismatch (stored {stored_crc:#010x}, computed {entry:#010x})"
        ));
    }
    pos += 4;
    let mut out = Vec::with_capacity(lens.len());
    for len in lens {
        let s = pos
            .checked_add(len)
            .and_then(|end| data.get(pos..end))
            .ok_or("string runs past the entry")?;
        pos += len;
        out.push(s);
    }
    if pos != data.len() {
        return Err(format!("{} bytes after the strings", data.len() - pos));
    }
    Ok(out)
}

/// Render a string tensor for [`Parsed::other`]: its value when short and printable, else its
/// size.
fn string_value(strings: &[&[u8]], total: usize, shape: &Value) -> Value {
    fn printable<'a>(s: &&'a [u8]) -> Option<&'a str> {
        std::str::from_utf8(s).ok().filter(|s| {
            !s.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        })
    }
    let shown: Option<Vec<&str>> = if total as u64 <= MAX_SHOWN_STRING_BYTES {
        strings.iter().map(printable).collect()
    } else {
        None
    };
    match shown {
        Some(v) if shape.as_array().is_some_and(|s| s.is_empty()) && v.len() == 1 => {
            json!({"dtype": "string", "shape": shape, "value": v[0]})
        }
        Some(v) => json!({"dtype": "string", "shape": shape, "value": v}),
        None => json!({"dtype": "string", "shape": shape, "bytes": total}),
    }
}

/// Open the bundle whose `.index` file is `files[id]`, opening its data shards beside it.
///
/// Every entry's range is checked against its shard and its masked CRC-32C is verified. That
/// reads all tensor data once (as TensorFlow's own reader does on lookup); it is the price of
/// reporting a damaged checkpoint when it is opened rather than when it is converted.
pub(crate) fn open(files: &mut Files, id: usize, limits: &Limits) -> Result<Parsed, Error> {
    let index_path = files.path(id).to_owned();
    let Bundle {
        mut parsed,
        num_shards,
        entries,
    } = parse_bundle(files.bytes(id), limits).at(&index_path)?;
    let prefix = prefix_of(&index_path).at(&index_path)?;
    let mut shards = Vec::new();
    for i in 0..num_shards {
        let mut p = prefix.clone().into_os_string();
        p.push(format!(".data-{i:05}-of-{num_shards:05}"));
        shards.push(files.open(Path::new(&p))?);
    }
    for e in &entries {
        let file = shards[e.shard];
        let bytes = files.bytes(file);
        let name = match e.slot {
            Slot::Tensor(i) => &parsed.tensors[i].name,
            Slot::String(i, _) | Slot::Opaque(i) | Slot::Unchecked(i) => &parsed.other[i].name,
        };
        let data = usize::try_from(e.offset)
            .ok()
            .zip(usize::try_from(e.size).ok())
            .and_then(|(o, s)| bytes.get(o..o.checked_add(s)?))
            .ok_or_else(|| FormatError::OutOfBounds {
                tensor: name.clone(),
                start: e.offset,
                end: e.offset.saturating_add(e.size),
                available: bytes.len() as u64,
            })
            .at(files.path(file))?;
        let mismatch = |actual: u32| {
            Error::new(
                files.path(file),
                malformed(format!(
                    "entry {name:?}: data checksum mismatch (stored {:#010x}, computed {actual:#010x})",
                    e.crc
                )),
            )
        };
        match e.slot {
            Slot::Tensor(_) | Slot::Opaque(_) => {
                let actual = sstable::mask_crc(crc32c::crc32c(data));
                if actual != e.crc {
                    return Err(mismatch(actual));
                }
            }
            Slot::String(i, n) => {
                let strings = parse_strings(data, n, e.crc).map_err(|msg| {
                    Error::new(
                        files.path(file),
                        malformed(format!("entry {name:?}: {msg}")),
                    )
                })?;
                let other = &mut parsed.other[i];
                let shape = other.value["shape"].clone();
                other.value = string_value(&strings, data.len(), &shape);
            }
            // How variants are checksummed is not documented; their bytes are only bounded.
            Slot::Unchecked(_) => {}
        }
    }
    parsed.remap_files(|s| shards.get(s).copied().unwrap_or(id));
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::sstable::testing::table;
    use super::*;
    use crate::proto::put_varint as varint;

    fn entry(dtype: i32, dims: &[i64], shard: i32, data: &[u8], offset: usize) -> Vec<u8> {
        BundleEntryProto {
            dtype,
            shape: Some(TensorShapeProto {
                dim: dims
                    .iter()
                    .map(|&size| Dim {
                        size,
                        name: String::new(),
                    })
                    .collect(),
                unknown_rank: false,
            }),
            shard_id: shard,
            offset: offset as i64,
            size: data.len() as i64,
            crc32c: sstable::mask_crc(crc32c::crc32c(data)),
            slices: vec![],
        }
        .encode_to_vec()
    }

    fn header(num_shards: i32, endianness: i32) -> Vec<u8> {
        BundleHeaderProto {
            num_shards,
            endianness,
            version: Some(VersionDef {
                producer: 1,
                min_consumer: 0,
                bad_consumers: vec![],
            }),
        }
        .encode_to_vec()
    }

    /// A two-shard bundle: `a` (f32 [2]) in shard 0, `b` (i16 [3]) and the string `s` in shard 1.
    fn bundle() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let a: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let b: Vec<u8> = [1i16, -2, 3].iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut s = Vec::new();
        varint(&mut s, 5);
        s.extend_from_slice(&sstable::mask_crc(crc32c::crc32c(&5u32.to_le_bytes())).to_le_bytes());
        s.extend_from_slice(b"hello");
        let mut shard1 = b.clone();
        shard1.extend_from_slice(&s);
        let mut s_entry =
            BundleEntryProto::decode(entry(7, &[], 1, &s, b.len()).as_slice()).expect("entry");
        let crc = crc32c::crc32c_append(crc32c::crc32c(&5u32.to_le_bytes()), &s[1..]);
        s_entry.crc32c = sstable::mask_crc(crc);
        let index = table(
            &[
                (vec![], header(2, 0)),
                (b"a".to_vec(), entry(1, &[2], 0, &a, 0)),
                (b"b".to_vec(), entry(5, &[3], 1, &b, 0)),
                (b"s".to_vec(), s_entry.encode_to_vec()),
            ],
            2,
            false,
        );
        (index, a, shard1)
    }

    fn files_for(index: Vec<u8>, shards: &[Vec<u8>]) -> (Files, usize) {
        let mut files = Files::default();
        let id = files.add_memory(Path::new("/m/ckpt.index"), index);
        for (i, s) in shards.iter().enumerate() {
            files.add_memory(
                Path::new(&format!("/m/ckpt.data-{i:05}-of-{:05}", shards.len())),
                s.clone(),
            );
        }
        (files, id)
    }

    #[test]
    fn opens_a_two_shard_bundle() {
        let (index, a, b) = bundle();
        let (mut files, id) = files_for(index, &[a, b]);
        let p = open(&mut files, id, &Limits::strict()).expect("open");
        assert_eq!(p.tensors.len(), 2);
        assert_eq!(p.tensors[0].name, "a");
        assert!(matches!(p.tensors[0].source.base, Base::File(1)));
        assert_eq!(p.tensors[1].dtype, DType::I16);
        assert!(matches!(p.tensors[1].source.base, Base::File(2)));
        assert_eq!(p.other[0].name, "s");
        assert_eq!(p.other[0].value["value"], "hello");
        assert_eq!(p.metadata["num_shards"], 2);
        assert_eq!(p.metadata["endianness"], "little");
    }

    #[test]
    fn parse_index_points_at_shard_ids() {
        let (index, _, _) = bundle();
        let p = parse_index(&index, &Limits::strict()).expect("parse");
        assert!(matches!(p.tensors[1].source.base, Base::File(1)));
        assert_eq!(p.tensors[1].source.offset, 0);
        assert_eq!(p.other[0].value, json!({"dtype": "string", "shape": []}));
    }

    #[test]
    fn big_endian_bundles_are_marked() {
        let a = 7i32.to_be_bytes();
        let index = table(
            &[
                (vec![], header(1, 1)),
                (b"x".to_vec(), entry(3, &[1], 0, &a, 0)),
            ],
            4,
            false,
        );
        let p = parse_index(&index, &Limits::strict()).expect("parse");
        assert!(p.tensors[0].source.big_endian);
        assert_eq!(p.metadata["endianness"], "big");
    }

    #[test]
    fn data_crc_mismatch_is_an_error() {
        let (index, a, mut b) = bundle();
        b[0] ^= 1;
        let (mut files, id) = files_for(index, &[a, b]);
        let e = open(&mut files, id, &Limits::strict()).unwrap_err();
        assert!(e.to_string().contains("checksum mismatch"), "{e}");
        assert!(e.path.ends_with("ckpt.data-00001-of-00002"));
    }

    #[test]
    fn entry_past_shard_end_is_an_error() {
        let (index, a, b) = bundle();
        let (mut files, id) = files_for(index, &[a, b[..4].to_vec()]);
        let e = open(&mut files, id, &Limits::strict()).unwrap_err();
        assert!(matches!(e.source, FormatError::OutOfBounds { .. }), "{e}");
    }

    #[test]
    fn missing_shard_file_is_an_error() {
        let (index, a, _) = bundle();
        let mut files = Files::default();
        let dir = tempfile::tempdir().expect("tempdir");
        let id = files.add_memory(&dir.path().join("ckpt.index"), index);
        files.add_memory(&dir.path().join("ckpt.data-00000-of-00002"), a);
        let e = open(&mut files, id, &Limits::strict()).unwrap_err();
        assert!(e.path.ends_with("ckpt.data-00001-of-00002"), "{e}");
    }

    #[test]
    fn size_must_match_dtype_and_shape() {
        let a = [0u8; 12];
        let index = table(
            &[
                (vec![], header(1, 0)),
                (b"x".to_vec(), entry(1, &[2], 0, &a, 0)),
            ],
            4,
            false,
        );
        assert!(parse_index(&index, &Limits::strict()).is_err());
    }

    #[test]
    fn header_must_come_first() {
        let a = [0u8; 4];
        let index = table(&[(b"x".to_vec(), entry(1, &[1], 0, &a, 0))], 4, false);
        let e = parse_index(&index, &Limits::strict()).unwrap_err();
        assert!(e.to_string().contains("header"), "{e}");
        let index = table(&[(vec![], header(0, 0))], 4, false);
        assert!(parse_index(&index, &Limits::strict()).is_err());
    }

    #[test]
    fn partitioned_variables_are_named() {
        let a = [0u8; 4];
        let mut sliced = BundleEntryProto::decode(entry(1, &[1], 0, &a, 0).as_slice()).unwrap();
        sliced.slices.push(TensorSliceProto {
            extent: vec![Extent {
                start: 0,
                length: Some(1),
            }],
        });
        let index = table(
            &[
                (vec![], header(1, 0)),
                (b"part/w".to_vec(), sliced.encode_to_vec()),
            ],
            4,
            false,
        );
        let e = parse_index(&index, &Limits::strict()).unwrap_err();
        assert!(e.to_string().contains("\"part/w\""), "{e}");
        let index = table(
            &[
                (vec![], header(1, 0)),
                (b"\x00part/w\x00\x01\x01".to_vec(), entry(1, &[1], 0, &a, 0)),
            ],
            4,
            false,
        );
        let e = parse_index(&index, &Limits::strict()).unwrap_err();
        assert!(e.to_string().contains("\"part/w\""), "{e}");
    }

    #[test]
    fn opaque_dtypes_are_recorded_not_dropped() {
        let index = table(
            &[
                (vec![], header(1, 0)),
                (b"v".to_vec(), entry(21, &[], 0, &[], 0)),
                (b"z".to_vec(), entry(111, &[2], 0, &[0, 0], 0)),
            ],
            4,
            false,
        );
        let p = parse_index(&index, &Limits::strict()).expect("parse");
        assert!(p.tensors.is_empty());
        assert_eq!(p.other[0].value["dtype"], "variant");
        assert_eq!(p.other[1].value["dtype"], "qint8");
        // A _REF type is its base type.
        let index = table(
            &[
                (vec![], header(1, 0)),
                (b"r".to_vec(), entry(101, &[1], 0, &[0; 4], 0)),
            ],
            4,
            false,
        );
        let p = parse_index(&index, &Limits::strict()).expect("parse");
        assert_eq!(p.tensors[0].dtype, DType::F32);
    }

    #[test]
    fn index_name_must_end_in_index() {
        let (index, a, b) = bundle();
        let mut files = Files::default();
        let id = files.add_memory(Path::new("/m/ckpt.idx"), index);
        files.add_memory(Path::new("/m/ckpt.data-00000-of-00002"), a);
        files.add_memory(Path::new("/m/ckpt.data-00001-of-00002"), b);
        assert!(open(&mut files, id, &Limits::strict()).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let (index, _, _) = bundle();
        for cut in 0..index.len() {
            let _ = parse_index(&index[..cut], &Limits::strict());
            let mut flipped = index.clone();
            flipped[cut] ^= 0xa5;
            let _ = parse_index(&flipped, &Limits::strict());
        }
    }
}
