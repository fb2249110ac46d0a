//! safetensors: reading the header (never the data) and writing files and sharded sets.
//!
//! The header is parsed here rather than through the `safetensors` crate because we need the
//! header-only path over a memory map, a duplicate-key check the crate lacks, and the tensors in
//! file order; the checks are the same as the reference implementation's (offsets sorted, starting
//! at 0, without holes or overlaps, sizes matching shapes, the buffer covered exactly).

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use weighhouse_tensor::{DType, Limits, byte_len};

use crate::error::FormatError;
use crate::parsed::{DataSource, Format, Parsed, TensorView};

const FORMAT: &str = "safetensors";

/// The header's entries, in the order they appear, duplicates kept so they can be refused.
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Info {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// Parse a safetensors file held in `bytes`. Only the header is read.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Parsed, FormatError> {
    let header = parse_header(bytes, limits)?;
    let data_len = bytes.len() as u64 - header.data_start;
    if header.data_end != data_len {
        return Err(FormatError::malformed(
            FORMAT,
            format!(
                "tensors cover {} bytes but the data section has {data_len}",
                header.data_end
            ),
        ));
    }
    Ok(header.parsed)
}

/// A checked header, and where its tensors' bytes are.
#[derive(Debug)]
pub struct Header {
    /// The tensors and metadata.
    pub parsed: Parsed,
    /// Offset of the data section in the file.
    pub data_start: u64,
    /// Bytes of the data section the tensors cover, contiguously from its start.
    pub data_end: u64,
}

/// Check the header as the reference reader does (strict JSON, no duplicate keys, known dtypes,
/// offsets that match the shapes and tile the data section from its start without holes or
/// overlaps) without requiring the tensors to reach the end of the file: bytes after the last
/// tensor are left to the caller (the scanner reports them as a polyglot).
pub fn parse_header(bytes: &[u8], limits: &Limits) -> Result<Header, FormatError> {
    parse_header_of(bytes, bytes.len() as u64, limits)
}

/// For the fuzz target and its corpus replay: [`parse_header_of`] on a prefix that holds the
/// header (cut where the first byte says) accepts exactly what [`parse_header`] accepts on the
/// whole input, with the same tensors.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub fn check_prefix_consistency(data: &[u8]) {
    let limits = Limits::strict();
    let full = parse_header(data, &limits);
    let Some(header_end) = data
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
        .and_then(|n| n.checked_add(8))
        .filter(|&e| e <= data.len() as u64)
    else {
        return;
    };
    let spare = data.len() - header_end as usize;
    let cut = header_end as usize + spare * usize::from(data[0]) / 256;
    let part = parse_header_of(&data[..cut], data.len() as u64, &limits);
    assert_eq!(full.is_ok(), part.is_ok(), "{full:?} vs {part:?}");
    if let (Ok(a), Ok(b)) = (&full, &part) {
        assert_eq!(a.parsed.tensors.len(), b.parsed.tensors.len());
        assert_eq!((a.data_start, a.data_end), (b.data_start, b.data_end));
    }
}

/// [`parse_header`] for a file of `file_len` bytes of which `bytes` holds the start (at least
/// the header): the tensors are checked against `file_len`.
pub fn parse_header_of(
    bytes: &[u8],
    file_len: u64,
    limits: &Limits,
) -> Result<Header, FormatError> {
    let file_len = file_len.max(bytes.len() as u64);
    let bad = |m: String| FormatError::malformed(FORMAT, m);
    let head: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("file shorter than the 8-byte header length".into()))?;
    let n = u64::from_le_bytes(head);
    if n > limits.max_header_bytes {
        return Err(FormatError::limit(
            format!("header length {n}"),
            limits.max_header_bytes,
        ));
    }
    let header_end = 8u64
        .checked_add(n)
        .filter(|&e| e <= bytes.len() as u64)
        .ok_or_else(|| {
            bad(format!(
                "header length {n} runs past the end of the {}-byte file",
                bytes.len()
            ))
        })?;
    let header = &bytes[8..header_end as usize];
    if header.first() != Some(&b'{') {
        return Err(bad("header does not start with '{'".into()));
    }
    let text = std::str::from_utf8(header).map_err(|e| bad(format!("header is not UTF-8: {e}")))?;
    let entries: Entries = serde_json::from_str(text.trim_end_matches(' '))
        .map_err(|e| bad(format!("header JSON: {e}")))?;

    let mut parsed = Parsed::new(Format::Safetensors);
    let mut tensors: Vec<(TensorView, u64, u64)> = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (name, value) in entries.0 {
        if !names.insert(name.clone()) {
            return Err(FormatError::DuplicateTensor(name));
        }
        if name == "__metadata__" {
            let serde_json::Value::Object(map) = value else {
                return Err(bad("__metadata__ is not an object".into()));
            };
            for (k, v) in map {
                if !v.is_string() {
                    return Err(bad(format!("__metadata__ value for {k:?} is not a string")));
                }
                parsed.metadata.insert(k, v);
            }
            continue;
        }
        if tensors.len() as u64 >= limits.max_tensors {
            return Err(FormatError::limit("tensor count", limits.max_tensors));
        }
        let info: Info =
            serde_json::from_value(value).map_err(|e| bad(format!("tensor {name:?}: {e}")))?;
        let dtype: DType = info
            .dtype
            .parse()
            .ok()
            .filter(|d: &DType| d.in_safetensors())
            .ok_or_else(|| bad(format!("tensor {name:?}: unknown dtype {:?}", info.dtype)))?;
        if info.shape.len() > limits.max_dims {
            return Err(FormatError::limit(
                format!("tensor {name:?} rank {}", info.shape.len()),
                limits.max_dims as u64,
            ));
        }
        let len = byte_len(dtype, &info.shape).map_err(|source| FormatError::Shape {
            tensor: name.clone(),
            source,
        })?;
        let (begin, end) = info.data_offsets;
        if end.checked_sub(begin) != Some(len) {
            return Err(bad(format!(
                "tensor {name:?}: data_offsets {begin}..{end} do not hold {len} bytes of {dtype} {:?}",
                info.shape
            )));
        }
        let view = TensorView {
            name,
            dtype,
            shape: info.shape,
            file: 0,
            source: DataSource::file(0, header_end + begin),
        };
        tensors.push((view, begin, end));
    }
    tensors.sort_by_key(|t| (t.1, t.2));
    let mut expected = 0u64;
    for (view, begin, end) in &tensors {
        if *begin != expected {
            let what = if *begin < expected {
                "overlaps the previous tensor"
            } else {
                "leaves a hole before it"
            };
            return Err(bad(format!(
                "tensor {:?} starts at {begin}, which {what} (expected {expected})",
                view.name
            )));
        }
        expected = *end;
    }
    let data_len = file_len - header_end;
    if expected > data_len {
        return Err(bad(format!(
            "tensors need {expected} bytes but the data section has {data_len}"
        )));
    }
    parsed.tensors = tensors.into_iter().map(|t| t.0).collect();
    Ok(Header {
        parsed,
        data_start: header_end,
        data_end: expected,
    })
}

/// One tensor to be written: its name, dtype and shape. Its bytes are supplied while writing.
#[derive(Debug, Clone)]
pub struct OutTensor {
    /// Name in the output.
    pub name: String,
    /// dtype in the output.
    pub dtype: DType,
    /// Shape in the output.
    pub shape: Vec<u64>,
}

impl OutTensor {
    fn len(&self) -> Result<u64, FormatError> {
        byte_len(self.dtype, &self.shape).map_err(|source| FormatError::Shape {
            tensor: self.name.clone(),
            source,
        })
    }
}

#[derive(Serialize)]
struct OutInfo<'a> {
    dtype: &'static str,
    shape: &'a [u64],
    data_offsets: [u64; 2],
}

/// Data sections at least this large start on a page boundary (see [`header_bytes`]).
pub const PAGE_ALIGN_FROM: u64 = 1 << 20;

/// The header of a safetensors file holding `tensors` in the given order, preceded by its length
/// and padded with spaces (as the format allows) so the data starts at a multiple of 8 bytes, or
/// of 4096 when the data is at least [`PAGE_ALIGN_FROM`] bytes: page-aligned data can be mapped
/// and copied by the kernel page by page, at the cost of at most 4 KiB of padding.
pub fn header_bytes(
    tensors: &[OutTensor],
    metadata: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<u8>, FormatError> {
    let mut map = serde_json::Map::new();
    if !metadata.is_empty() {
        map.insert(
            "__metadata__".into(),
            serde_json::Value::Object(metadata.clone()),
        );
    }
    let mut offset = 0u64;
    for t in tensors {
        if !t.dtype.in_safetensors() {
            return Err(FormatError::unsupported(
                FORMAT,
                format!(
                    "tensor {:?}: dtype {} has no safetensors name",
                    t.name, t.dtype
                ),
            ));
        }
        let len = t.len()?;
        let info = OutInfo {
            dtype: t.dtype.name(),
            shape: &t.shape,
            data_offsets: [offset, offset + len],
        };
        offset += len;
        let v = serde_json::to_value(info)
            .map_err(|e| FormatError::malformed(FORMAT, e.to_string()))?;
        if map.insert(t.name.clone(), v).is_some() {
            return Err(FormatError::DuplicateTensor(t.name.clone()));
        }
    }
    let mut json =
        serde_json::to_vec(&map).map_err(|e| FormatError::malformed(FORMAT, e.to_string()))?;
    let align = if offset >= PAGE_ALIGN_FROM { 4096 } else { 8 };
    while (json.len() + 8) % align != 0 {
        json.push(b' ');
    }
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    Ok(out)
}

/// Order items (tensors to be written) by descending alignment of their dtype, as the reference
/// writer does, so that every tensor starts at an offset aligned for its dtype. Unlike the
/// reference writer (which then sorts by name), items of one alignment keep their given order: a
/// converter passes them in source file order, so the source is read front to back.
pub fn sort_for_alignment<T>(items: &mut [T], dtype: impl Fn(&T) -> DType) {
    items.sort_by_key(|t| std::cmp::Reverse(dtype(t).bits().unwrap_or(8)));
}

/// Split `tensors` into shards of at most `max_shard` bytes of data each (a tensor larger than
/// that gets a shard of its own), keeping their order, the way `transformers` shards.
pub fn plan_shards(tensors: &[OutTensor], max_shard: u64) -> Result<Vec<Vec<usize>>, FormatError> {
    let mut shards: Vec<Vec<usize>> = Vec::new();
    let mut current = 0u64;
    for (i, t) in tensors.iter().enumerate() {
        let len = t.len()?;
        match shards.last_mut() {
            Some(last) if current + len <= max_shard => {
                last.push(i);
                current += len;
            }
            _ => {
                shards.push(vec![i]);
                current = len;
            }
        }
    }
    if shards.is_empty() {
        shards.push(Vec::new());
    }
    Ok(shards)
}

/// A file being written next to its final path, renamed into place only when complete, so a
/// failed or interrupted write never leaves a partial file visible.
#[derive(Debug)]
pub struct StagedFile {
    tmp: PathBuf,
    dst: PathBuf,
    out: BufWriter<File>,
    durable: bool,
}

impl StagedFile {
    /// Create a hidden temporary file beside `dst`. With `durable`, the file is synced to disk
    /// before it is renamed into place (and the folder after), so it survives a power loss;
    /// without, the rename alone guarantees that readers see a complete file or none.
    pub fn create(dst: &Path, durable: bool) -> io::Result<Self> {
        let dir = dst
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = dst
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.partial-{}", std::process::id()));
        let file = File::options().write(true).create_new(true).open(&tmp)?;
        Ok(Self {
            tmp,
            dst: dst.to_owned(),
            out: BufWriter::with_capacity(1 << 20, file),
            durable,
        })
    }

    /// The writer. Large copies should use [`StagedFile::file`] after flushing.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        &mut self.out
    }

    /// Flush buffered bytes and return the underlying file, for kernel-side copies.
    pub fn file(&mut self) -> io::Result<&mut File> {
        self.out.flush()?;
        Ok(self.out.get_mut())
    }

    /// Flush (and sync when durable) and move the file to its final path.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        self.out.flush()?;
        if self.durable {
            self.out.get_ref().sync_all()?;
        }
        fs::rename(&self.tmp, &self.dst)?;
        if !self.durable {
            self.tmp = PathBuf::new();
            return Ok(std::mem::take(&mut self.dst));
        }
        if let Some(dir) = self.dst.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Make the rename durable; not every platform can open a directory, so a failure here
            // is not an error.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        let dst = std::mem::take(&mut self.dst);
        self.tmp = PathBuf::new();
        Ok(dst)
    }

    /// Flush (and sync when durable), and return the temporary path without moving it (for sets of files that are
    /// moved together at the end).
    pub fn finish(mut self) -> io::Result<(PathBuf, PathBuf)> {
        self.out.flush()?;
        if self.durable {
            self.out.get_ref().sync_all()?;
        }
        let pair = (std::mem::take(&mut self.tmp), std::mem::take(&mut self.dst));
        Ok(pair)
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// The index file of a sharded set, as `transformers` writes it.
pub fn index_json(total_size: u64, weight_map: &[(String, String)]) -> Vec<u8> {
    let mut sorted: Vec<&(String, String)> = weight_map.iter().collect();
    sorted.sort();
    let mut map = serde_json::Map::new();
    for (k, v) in sorted {
        map.insert(k.clone(), serde_json::Value::String(v.clone()));
    }
    let doc = serde_json::json!({
        "metadata": {"total_size": total_size},
        "weight_map": map,
    });
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn reads_a_minimal_file() {
        let f = file(
            r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"I16","shape":[2],"data_offsets":[0,4]}}"#,
            &[1, 0, 2, 0, 0, 0, 128, 63],
        );
        let p = parse(&f, &Limits::strict()).expect("valid");
        assert_eq!(p.tensors.len(), 2);
        assert_eq!(p.tensors[0].name, "a");
        assert_eq!(p.metadata["format"], "pt");
    }

    #[test]
    fn a_header_is_checked_against_the_file_length() {
        let f = file(
            r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
            &[0; 16],
        );
        let l = Limits::strict();
        let header_only = &f[..f.len() - 16];
        assert!(parse_header(header_only, &l).is_err());
        let h = parse_header_of(header_only, f.len() as u64, &l).expect("header");
        assert_eq!(h.data_start + h.data_end, f.len() as u64);
        assert_eq!(h.parsed.tensors[0].name, "a");
        assert!(parse_header_of(header_only, f.len() as u64 - 1, &l).is_err());
        assert!(parse_header_of(&f[..10], f.len() as u64, &l).is_err());
    }

    #[test]
    fn refuses_bad_layouts() {
        let l = Limits::strict();
        let dup = file(
            r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
            &[0],
        );
        assert!(matches!(
            parse(&dup, &l),
            Err(FormatError::DuplicateTensor(_))
        ));
        let overlap = file(
            r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#,
            &[0, 0],
        );
        assert!(parse(&overlap, &l).is_err());
        let trailing = file(
            r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
            &[0, 0],
        );
        assert!(parse(&trailing, &l).is_err());
        let mismatch = file(
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,1]}}"#,
            &[0],
        );
        assert!(parse(&mismatch, &l).is_err());
        let huge = file(
            r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,1]}}"#,
            &[0],
        );
        assert!(parse(&huge, &l).is_err());
        let mut long = u64::MAX.to_le_bytes().to_vec();
        long.push(b'{');
        assert!(parse(&long, &l).is_err());
    }

    proptest::proptest! {
        /// read(write(x)) == x for any set of tensors, through our reader and the reference one.
        #[test]
        fn written_files_read_back(
            specs in proptest::collection::btree_map(
                "[a-z][a-z0-9._]{0,12}",
                (0usize..6, proptest::collection::vec(0u64..5, 0..4)),
                0..8,
            ),
            fill in proptest::num::u8::ANY,
        ) {
            const DTYPES: [DType; 6] = [DType::F32, DType::BF16, DType::U8, DType::I64, DType::F8E4M3, DType::Bool];
            let mut tensors: Vec<OutTensor> = specs
                .iter()
                .map(|(name, (d, shape))| OutTensor { name: name.clone(), dtype: DTYPES[*d], shape: shape.clone() })
                .collect();
            sort_for_alignment(&mut tensors, |t| t.dtype);
            let mut meta = serde_json::Map::new();
            meta.insert("format".into(), "pt".into());
            let mut file = header_bytes(&tensors, &meta).expect("header");
            let mut want = Vec::new();
            for (k, t) in tensors.iter().enumerate() {
                let n = t.len().expect("len") as usize;
                let bytes: Vec<u8> = (0..n).map(|i| fill.wrapping_add((i * 31 + k) as u8)).collect();
                file.extend_from_slice(&bytes);
                want.push((t.name.clone(), t.dtype, t.shape.clone(), bytes));
            }
            let parsed = parse(&file, &Limits::strict()).expect("our reader");
            proptest::prop_assert_eq!(&parsed.metadata["format"], "pt");
            let mut got: Vec<_> = parsed
                .tensors
                .iter()
                .map(|t| {
                    let start = t.source.offset as usize;
                    let bytes = file[start..start + t.byte_len() as usize].to_vec();
                    (t.name.clone(), t.dtype, t.shape.clone(), bytes)
                })
                .collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            want.sort_by(|a, b| a.0.cmp(&b.0));
            proptest::prop_assert_eq!(&got, &want);
            let theirs = ::safetensors::SafeTensors::deserialize(&file).expect("reference reader");
            for (name, _, shape, bytes) in &want {
                let v = theirs.tensor(name).expect("tensor");
                proptest::prop_assert_eq!(v.shape().iter().map(|&d| d as u64).collect::<Vec<_>>(), shape.clone());
                proptest::prop_assert_eq!(v.data(), bytes.as_slice());
            }
        }
    }

    #[test]
    fn large_data_starts_on_a_page_and_still_reads() {
        let l = Limits::strict();
        for (n, align) in [(1u64 << 20, 4096usize), (100, 8)] {
            let t = [OutTensor {
                name: "w".into(),
                dtype: DType::U8,
                shape: vec![n],
            }];
            let mut f = header_bytes(&t, &serde_json::Map::new()).expect("header");
            assert_eq!(f.len() % align, 0, "{n}");
            f.resize(f.len() + n as usize, 7);
            let ours = parse(&f, &l).expect("our reader");
            assert_eq!(ours.tensors[0].source.offset as usize % align, 0);
            let theirs = ::safetensors::SafeTensors::deserialize(&f).expect("reference reader");
            assert_eq!(theirs.tensor("w").expect("w").data().len() as u64, n);
        }
    }

    #[test]
    fn shards_like_transformers() {
        let t = |n: &str, k: u64| OutTensor {
            name: n.into(),
            dtype: DType::U8,
            shape: vec![k],
        };
        let ts = [t("a", 4), t("b", 4), t("c", 10), t("d", 1)];
        assert_eq!(
            plan_shards(&ts, 8).expect("plan"),
            vec![vec![0, 1], vec![2], vec![3]]
        );
    }
}
