//! Header checks of weight files from their first bytes only (OWD-2b: the weights are not
//! obfuscated, and their tensors are readable).
//!
//! On a hub only the first [`HEADER_PREFIX`] bytes of a weight file are at hand, and the
//! `weighhouse-formats` readers check every tensor's extent against the bytes they are given, so
//! they reject any prefix of a large file. These checks read the header alone and compare tensor
//! extents with the file's listed size instead. They stay light (no file is read past its header)
//! so that the hub can run them on every commit.

use std::collections::BTreeMap;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use weighhouse_tensor::{DType, GgmlBlock, Limits, byte_len};

use super::Verdict;
use crate::files::{Files, HEADER_PREFIX};

/// The first read of a safetensors file: most headers fit; a longer one is read exactly once its
/// length is known.
const FIRST_READ_SAFETENSORS: u64 = 64 << 10;

/// The first read of a GGUF file; a longer header (large vocabularies) is read again with four
/// times as many bytes, up to [`HEADER_PREFIX`].
const FIRST_READ_GGUF: u64 = 1 << 20;

/// GGUF `general.*` keys kept as evidence.
const GGUF_KEEP: &[&str] = &[
    "general.architecture",
    "general.name",
    "general.license",
    "general.file_type",
    "general.quantized_by",
    "general.base_model.count",
    "general.base_model.0.name",
    "general.base_model.0.repo_url",
];

/// Longest metadata value kept, in characters.
const MAX_KEPT: usize = 256;

/// What the header of one weight file showed.
#[derive(Debug, Clone)]
pub(super) struct HeaderCheck {
    pub path: String,
    pub format: &'static str,
    /// `Pass`, `Fail` (the header is broken) or `Review` (it could not be read in full).
    pub verdict: Verdict,
    pub detail: String,
    /// Quantised tensor types (GGUF block types) or packed-quantisation tensors found.
    pub quant: Vec<String>,
    /// Kept GGUF metadata.
    pub meta: BTreeMap<String, String>,
}

impl HeaderCheck {
    fn new(path: &str, format: &'static str) -> Self {
        Self {
            path: path.to_string(),
            format,
            verdict: Verdict::Pass,
            detail: String::new(),
            quant: Vec::new(),
            meta: BTreeMap::new(),
        }
    }

    fn with(mut self, verdict: Verdict, detail: impl Into<String>) -> Self {
        self.verdict = verdict;
        self.detail = detail.into();
        self
    }
}

/// Check a safetensors header: the 8-byte length, strict JSON without duplicate keys, known
/// dtypes, offsets that match the shapes and tile the data section, and a data section that the
/// file's size holds.
pub(super) fn safetensors(files: &dyn Files, path: &str, size: u64) -> HeaderCheck {
    let c = HeaderCheck::new(path, "safetensors");
    if size < 8 {
        return c.with(
            Verdict::Fail,
            format!("{size} bytes: shorter than the 8-byte header length"),
        );
    }
    let Some(first) = files
        .read_prefix(path, FIRST_READ_SAFETENSORS.min(size))
        .filter(|b| b.len() >= 8)
    else {
        return c.with(Verdict::Review, "the start of the file could not be read");
    };
    let mut len = [0u8; 8];
    len.copy_from_slice(&first[..8]);
    let n = u64::from_le_bytes(len);
    let limits = Limits::default();
    if n > limits.max_header_bytes {
        return c.with(
            Verdict::Fail,
            format!(
                "header length {n} exceeds the {}-byte limit",
                limits.max_header_bytes
            ),
        );
    }
    let header_end = 8 + n;
    if header_end > size {
        return c.with(
            Verdict::Fail,
            format!("header length {n} runs past the end of the {size}-byte file"),
        );
    }
    if header_end > HEADER_PREFIX {
        return c.with(
            Verdict::Review,
            format!("the header ({n} bytes) is larger than the {HEADER_PREFIX} bytes checked"),
        );
    }
    let bytes = if first.len() as u64 >= header_end {
        first
    } else {
        match files.read_prefix(path, header_end) {
            Some(b) => b,
            None => return c.with(Verdict::Review, "the header could not be read"),
        }
    };
    if (bytes.len() as u64) < header_end {
        return c.with(
            Verdict::Review,
            format!(
                "only {} of the header's {header_end} bytes could be read",
                bytes.len()
            ),
        );
    }
    let header = &bytes[8..header_end as usize];
    let h = match st_header(header, &limits) {
        Ok(h) => h,
        Err(e) => return c.with(Verdict::Fail, e),
    };
    let end = header_end.saturating_add(h.data_len);
    let mut c = c;
    c.quant = h.packed;
    let summary = format!(
        "{} tensor{} ({}), {n}-byte header",
        h.count,
        if h.count == 1 { "" } else { "s" },
        counts(&h.dtypes)
    );
    if end > size {
        return c.with(
            Verdict::Fail,
            format!(
                "the tensors need {} bytes after the header but the file has {}",
                h.data_len,
                size - header_end
            ),
        );
    }
    if end < size {
        return c.with(
            Verdict::Review,
            format!("{summary}; {} bytes follow the last tensor", size - end),
        );
    }
    if let Some(name) = h.unreadable {
        return c.with(
            Verdict::Review,
            format!("{summary}; tensor name {name:?} is not readable text"),
        );
    }
    c.with(Verdict::Pass, summary)
}

struct StHeader {
    count: usize,
    dtypes: BTreeMap<String, usize>,
    data_len: u64,
    packed: Vec<String>,
    unreadable: Option<String>,
}

/// The entries of a JSON object in file order, duplicates kept (so they can be refused).
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(kv) = m.next_entry::<String, Value>()? {
                    out.push(kv);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn st_header(header: &[u8], limits: &Limits) -> Result<StHeader, String> {
    if header.first() != Some(&b'{') {
        return Err("the header does not start with '{'".into());
    }
    let text = std::str::from_utf8(header).map_err(|e| format!("the header is not UTF-8: {e}"))?;
    let Entries(entries) = serde_json::from_str(text.trim_end_matches(' '))
        .map_err(|e| format!("header JSON: {e}"))?;
    let mut names = std::collections::HashSet::new();
    let mut spans: Vec<(u64, u64, String)> = Vec::new();
    let mut out = StHeader {
        count: 0,
        dtypes: BTreeMap::new(),
        data_len: 0,
        packed: Vec::new(),
        unreadable: None,
    };
    for (name, value) in entries {
        if !names.insert(name.clone()) {
            return Err(format!("duplicate key {name:?}"));
        }
        if name == "__metadata__" {
            let Value::Object(m) = value else {
                return Err("__metadata__ is not an object".into());
            };
            if let Some((k, _)) = m.iter().find(|(_, v)| !v.is_string()) {
                return Err(format!("__metadata__ value for {k:?} is not a string"));
            }
            continue;
        }
        if spans.len() as u64 >= limits.max_tensors {
            return Err(format!("more than {} tensors", limits.max_tensors));
        }
        let Value::Object(o) = value else {
            return Err(format!("tensor {name:?} is not an object"));
        };
        if let Some(k) = o
            .keys()
            .find(|k| !["dtype", "shape", "data_offsets"].contains(&k.as_str()))
        {
            return Err(format!("tensor {name:?}: unknown field {k:?}"));
        }
        let dtype = o
            .get("dtype")
            .and_then(Value::as_str)
            .and_then(|d| d.parse::<DType>().ok())
            .filter(|d| d.in_safetensors())
            .ok_or_else(|| format!("tensor {name:?}: missing or unknown dtype"))?;
        let shape: Vec<u64> = match o.get("shape") {
            Some(Value::Array(a)) if a.len() <= limits.max_dims => a
                .iter()
                .map(Value::as_u64)
                .collect::<Option<_>>()
                .ok_or_else(|| format!("tensor {name:?}: shape is not a list of sizes"))?,
            _ => return Err(format!("tensor {name:?}: missing or too long shape")),
        };
        let (begin, end) = match o.get("data_offsets") {
            Some(Value::Array(a)) if a.len() == 2 => match (a[0].as_u64(), a[1].as_u64()) {
                (Some(b), Some(e)) => (b, e),
                _ => return Err(format!("tensor {name:?}: data_offsets are not offsets")),
            },
            _ => {
                return Err(format!(
                    "tensor {name:?}: data_offsets must be [begin, end]"
                ));
            }
        };
        let len = byte_len(dtype, &shape).map_err(|e| format!("tensor {name:?}: {e}"))?;
        if end.checked_sub(begin) != Some(len) {
            return Err(format!(
                "tensor {name:?}: data_offsets {begin}..{end} do not hold {len} bytes of {dtype} {shape:?}"
            ));
        }
        if name.is_empty() || name.chars().any(char::is_control) {
            out.unreadable.get_or_insert(name.clone());
        }
        let lower = name.to_ascii_lowercase();
        if [".qweight", ".qzeros", ".g_idx", ".weight_packed"]
            .iter()
            .any(|s| lower.ends_with(s))
            && out.packed.is_empty()
        {
            out.packed.push(format!("packed quantised tensor {name}"));
        }
        *out.dtypes.entry(dtype.name().to_string()).or_default() += 1;
        spans.push((begin, end, name));
    }
    spans.sort();
    let mut expected = 0u64;
    for (begin, end, name) in &spans {
        if *begin != expected {
            let what = if *begin < expected {
                "overlaps the previous tensor"
            } else {
                "leaves a hole before it"
            };
            return Err(format!(
                "tensor {name:?} starts at {begin}, which {what} (expected {expected})"
            ));
        }
        expected = *end;
    }
    out.count = spans.len();
    out.data_len = expected;
    Ok(out)
}

/// Check a GGUF header: magic, version, key-values and tensor infos, with every tensor inside
/// the file's size. Reads the first MiB, then four times more until the header is read or
/// [`HEADER_PREFIX`] is reached.
pub(super) fn gguf(files: &dyn Files, path: &str, size: u64) -> HeaderCheck {
    let c = HeaderCheck::new(path, "gguf");
    let mut limit = FIRST_READ_GGUF.min(size);
    loop {
        let Some(bytes) = files.read_prefix(path, limit) else {
            return c.with(Verdict::Review, "the start of the file could not be read");
        };
        let whole = bytes.len() as u64 >= size;
        match gguf_header(&bytes, size) {
            Ok(info) => {
                let mut c = c;
                let detail = format!(
                    "GGUF v{}, {} tensor{} ({}), {} key-values",
                    info.version,
                    info.tensors,
                    if info.tensors == 1 { "" } else { "s" },
                    counts(&info.types),
                    info.kv
                );
                c.quant = info
                    .types
                    .keys()
                    .filter(|t| is_ggml_block(t))
                    .cloned()
                    .collect();
                c.meta = info.meta;
                return c.with(Verdict::Pass, detail);
            }
            Err(Stop::Bad(m)) => return c.with(Verdict::Fail, m),
            Err(Stop::Short(m)) if whole => {
                return c.with(Verdict::Fail, format!("truncated: {m}"));
            }
            Err(Stop::Short(m)) => {
                if (bytes.len() as u64) < limit || limit >= HEADER_PREFIX.min(size) {
                    return c.with(
                        Verdict::Review,
                        format!(
                            "the header goes on past the {} bytes read ({m})",
                            bytes.len()
                        ),
                    );
                }
                limit = limit.saturating_mul(4).min(HEADER_PREFIX).min(size);
            }
        }
    }
}

fn is_ggml_block(name: &str) -> bool {
    (0..64).any(|id| GgmlBlock::from_id(id).is_some_and(|b| b.name() == name))
}

/// Why a header walk stopped.
enum Stop {
    /// The bytes ran out (the header may go on past what was read).
    Short(String),
    /// The header is malformed.
    Bad(String),
}

struct GgufInfo {
    version: u32,
    tensors: u64,
    kv: u64,
    types: BTreeMap<String, usize>,
    meta: BTreeMap<String, String>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    big_endian: bool,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], Stop> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| Stop::Short(format!("{what} needs {n} bytes at offset {}", self.pos)))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32, Stop> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4, what)?);
        Ok(if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }

    fn u64(&mut self, what: &str) -> Result<u64, Stop> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, what)?);
        Ok(if self.big_endian {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        })
    }

    fn string(&mut self, limits: &Limits, what: &str) -> Result<&'a [u8], Stop> {
        let n = self.u64(what)?;
        if n > limits.max_string_bytes {
            return Err(Stop::Bad(format!(
                "{what}: string of {n} bytes exceeds the limit"
            )));
        }
        self.take(n, what)
    }
}

/// Bytes of one GGUF value of fixed-size type `t`, `None` for strings, arrays and unknown types.
fn fixed_size(t: u32) -> Option<u64> {
    match t {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

const GGUF_STRING: u32 = 8;
const GGUF_ARRAY: u32 = 9;
const GGUF_U32: u32 = 4;

fn gguf_dtype(id: u32) -> Option<DType> {
    Some(match id {
        0 => DType::F32,
        1 => DType::F16,
        24 => DType::I8,
        25 => DType::I16,
        26 => DType::I32,
        27 => DType::I64,
        28 => DType::F64,
        30 => DType::BF16,
        other => DType::Ggml(GgmlBlock::from_id(other)?),
    })
}

fn gguf_header(bytes: &[u8], file_size: u64) -> Result<GgufInfo, Stop> {
    let limits = Limits::default();
    let mut r = Cursor {
        bytes,
        pos: 0,
        big_endian: false,
    };
    if r.take(4, "magic")? != b"GGUF" {
        return Err(Stop::Bad("missing GGUF magic".into()));
    }
    let mut version = r.u32("version")?;
    if version & 0xFFFF == 0 {
        r.big_endian = true;
        version = version.swap_bytes();
    }
    if !matches!(version, 2 | 3) {
        return Err(Stop::Bad(format!("unsupported GGUF version {version}")));
    }
    let n_tensors = r.u64("tensor count")?;
    let n_kv = r.u64("key-value count")?;
    if n_tensors > limits.max_tensors || n_kv > limits.max_metadata_entries {
        return Err(Stop::Bad(format!(
            "{n_tensors} tensors and {n_kv} key-values exceed the limits"
        )));
    }
    let mut meta = BTreeMap::new();
    let mut alignment = 32u64;
    for _ in 0..n_kv {
        let key = String::from_utf8_lossy(r.string(&limits, "key")?).into_owned();
        let t = r.u32(&key)?;
        let keep = GGUF_KEEP.contains(&key.as_str());
        match t {
            GGUF_STRING => {
                let v = r.string(&limits, &key)?;
                if keep {
                    let v = String::from_utf8_lossy(v);
                    meta.insert(key, v.chars().take(MAX_KEPT).collect());
                }
            }
            GGUF_ARRAY => {
                let et = r.u32(&key)?;
                let count = r.u64(&key)?;
                if et == GGUF_STRING {
                    for _ in 0..count {
                        r.string(&limits, &key)?;
                    }
                } else {
                    let each = fixed_size(et)
                        .ok_or_else(|| Stop::Bad(format!("key {key:?}: arrays of type {et}")))?;
                    let total = count
                        .checked_mul(each)
                        .ok_or_else(|| Stop::Bad(format!("key {key:?}: array too long")))?;
                    r.take(total, &key)?;
                }
            }
            t => {
                let n = fixed_size(t)
                    .ok_or_else(|| Stop::Bad(format!("key {key:?}: unknown value type {t}")))?;
                let v = r.take(n, &key)?;
                if t == GGUF_U32 {
                    let mut a = [0u8; 4];
                    a.copy_from_slice(v);
                    let x = if r.big_endian {
                        u32::from_be_bytes(a)
                    } else {
                        u32::from_le_bytes(a)
                    };
                    if key == "general.alignment" {
                        if x == 0 || !x.is_power_of_two() {
                            return Err(Stop::Bad(format!(
                                "general.alignment {x} is not a power of two"
                            )));
                        }
                        alignment = u64::from(x);
                    }
                    if keep {
                        meta.insert(key, x.to_string());
                    }
                }
            }
        }
    }
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    let mut spans: Vec<(String, u64, u64)> = Vec::new();
    for _ in 0..n_tensors {
        let name = String::from_utf8_lossy(r.string(&limits, "tensor name")?).into_owned();
        if name.len() >= 64 {
            return Err(Stop::Bad(format!(
                "tensor name {name:?} is longer than ggml allows"
            )));
        }
        let n_dims = r.u32(&name)?;
        if n_dims > 4 {
            return Err(Stop::Bad(format!(
                "tensor {name:?} has {n_dims} dimensions"
            )));
        }
        let mut shape = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            shape.push(r.u64(&name)?);
        }
        let ty = r.u32(&name)?;
        let dtype = gguf_dtype(ty)
            .ok_or_else(|| Stop::Bad(format!("tensor {name:?} has unknown type {ty}")))?;
        let offset = r.u64(&name)?;
        let len =
            byte_len(dtype, &shape).map_err(|e| Stop::Bad(format!("tensor {name:?}: {e}")))?;
        *types.entry(dtype.name().to_string()).or_default() += 1;
        spans.push((name, offset, len));
    }
    let data_start = (r.pos as u64).div_ceil(alignment) * alignment;
    for (name, offset, len) in &spans {
        let end = data_start
            .checked_add(*offset)
            .and_then(|s| s.checked_add(*len));
        if end.is_none_or(|e| e > file_size) {
            return Err(Stop::Bad(format!(
                "tensor {name:?} runs past the end of the {file_size}-byte file"
            )));
        }
    }
    Ok(GgufInfo {
        version,
        tensors: n_tensors,
        kv: n_kv,
        types,
        meta,
    })
}

/// `BF16 ×290, F32 ×1`.
fn counts(m: &BTreeMap<String, usize>) -> String {
    if m.is_empty() {
        return "no tensors".into();
    }
    m.iter()
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::files::MemFiles;

    /// A safetensors file of F32 tensors `(name, shape)`, zero-filled.
    pub(crate) fn st(tensors: &[(&str, &[u64])]) -> Vec<u8> {
        let mut header = serde_json::Map::new();
        let mut at = 0u64;
        for (name, shape) in tensors {
            let len = shape.iter().product::<u64>() * 4;
            header.insert(
                name.to_string(),
                serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [at, at + len]}),
            );
            at += len;
        }
        let mut h = serde_json::to_vec(&header).unwrap();
        while !h.len().is_multiple_of(8) {
            h.push(b' ');
        }
        let mut out = (h.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&h);
        out.resize(out.len() + at as usize, 0);
        out
    }

    /// A GGUF v3 file with `general.architecture = llama` and one tensor of ggml type `ty`
    /// (`[32]` elements).
    pub(crate) fn gguf_file(ty: u32) -> Vec<u8> {
        gguf_named(ty, "")
    }

    /// Like [`gguf_file`], with a `general.name` key-value when `name` is not empty.
    fn gguf_named(ty: u32, name: &str) -> Vec<u8> {
        let kv = |b: &mut Vec<u8>, key: &[u8], value: &[u8]| {
            b.extend_from_slice(&(key.len() as u64).to_le_bytes());
            b.extend_from_slice(key);
            b.extend_from_slice(&GGUF_STRING.to_le_bytes());
            b.extend_from_slice(&(value.len() as u64).to_le_bytes());
            b.extend_from_slice(value);
        };
        let mut b = b"GGUF".to_vec();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&(if name.is_empty() { 1u64 } else { 2 }).to_le_bytes());
        kv(&mut b, b"general.architecture", b"llama");
        if !name.is_empty() {
            kv(&mut b, b"general.name", name.as_bytes());
        }
        let name = b"tok.weight";
        b.extend_from_slice(&(name.len() as u64).to_le_bytes());
        b.extend_from_slice(name);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&32u64.to_le_bytes());
        b.extend_from_slice(&ty.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        while !b.len().is_multiple_of(32) {
            b.push(0);
        }
        let len = byte_len(gguf_dtype(ty).unwrap(), &[32]).unwrap();
        b.resize(b.len() + len as usize, 0);
        b
    }

    fn one(path: &str, bytes: Vec<u8>) -> MemFiles {
        let mut m = MemFiles::new();
        m.add(path, bytes);
        m
    }

    #[test]
    fn safetensors_headers() {
        let good = st(&[("a", &[2, 3]), ("b", &[4])]);
        let n = good.len() as u64;
        let c = safetensors(&one("m.safetensors", good.clone()), "m.safetensors", n);
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.detail);
        assert!(c.detail.starts_with("2 tensors (F32 ×2)"), "{}", c.detail);

        // Only the header loaded, as on a hub: still checked against the listed size.
        let mut m = MemFiles::new();
        m.add_listed("m.safetensors", n, Some(good[..good.len() - 40].to_vec()));
        assert_eq!(safetensors(&m, "m.safetensors", n).verdict, Verdict::Pass);
        // Listed larger than the tensors: trailing bytes.
        assert_eq!(
            safetensors(&m, "m.safetensors", n + 5).verdict,
            Verdict::Review
        );
        // Listed smaller: truncated.
        assert_eq!(
            safetensors(&m, "m.safetensors", n - 4).verdict,
            Verdict::Fail
        );

        let mut bad = good.clone();
        bad[9] = b'[';
        assert_eq!(safetensors(&one("x", bad), "x", n).verdict, Verdict::Fail);
        let mut long = good.clone();
        long[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert_eq!(safetensors(&one("x", long), "x", n).verdict, Verdict::Fail);
        assert_eq!(
            safetensors(&one("x", vec![1, 2]), "x", 2).verdict,
            Verdict::Fail
        );
        // Not loaded at all.
        let mut m = MemFiles::new();
        m.add_listed("m.safetensors", n, None);
        assert_eq!(safetensors(&m, "m.safetensors", n).verdict, Verdict::Review);
    }

    #[test]
    fn safetensors_duplicates_and_holes() {
        let h = br#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        let mut f = (h.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(h);
        f.resize(f.len() + 8, 0);
        let n = f.len() as u64;
        let c = safetensors(&one("x", f), "x", n);
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.detail.contains("duplicate"), "{}", c.detail);

        let h = br#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        let mut f = (h.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(h);
        f.resize(f.len() + 8, 0);
        let n = f.len() as u64;
        assert!(safetensors(&one("x", f), "x", n).detail.contains("hole"));
    }

    #[test]
    fn gguf_headers() {
        let q = gguf_file(2);
        let n = q.len() as u64;
        let c = gguf(&one("m.gguf", q.clone()), "m.gguf", n);
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.detail);
        assert_eq!(c.quant, ["Q4_0"]);
        assert_eq!(c.meta["general.architecture"], "llama");

        let f = gguf_file(1);
        let n16 = f.len() as u64;
        let c = gguf(&one("m.gguf", f), "m.gguf", n16);
        assert_eq!(c.verdict, Verdict::Pass);
        assert!(c.quant.is_empty());

        // A prefix with the whole header, listed with a larger size: fine.
        let mut m = MemFiles::new();
        m.add_listed("m.gguf", n + 1000, Some(q[..q.len() - 10].to_vec()));
        assert_eq!(gguf(&m, "m.gguf", n + 1000).verdict, Verdict::Pass);
        // The tensor runs past the listed size.
        assert_eq!(gguf(&m, "m.gguf", n - 10).verdict, Verdict::Fail);
        // Header cut short in a complete file.
        let c = gguf(&one("m.gguf", q[..40].to_vec()), "m.gguf", 40);
        assert_eq!(c.verdict, Verdict::Fail);
        // Header cut short in a prefix of a larger file: cannot tell.
        let mut m = MemFiles::new();
        m.add_listed("m.gguf", 1 << 30, Some(q[..40].to_vec()));
        assert_eq!(gguf(&m, "m.gguf", 1 << 30).verdict, Verdict::Review);
        assert_eq!(
            gguf(&one("m.gguf", b"GGML....".to_vec()), "m.gguf", 8).verdict,
            Verdict::Fail
        );

        // A header longer than the first read is read again, larger.
        let long = gguf_named(2, &"x".repeat(1_500_000));
        let n = long.len() as u64;
        let c = gguf(&one("m.gguf", long), "m.gguf", n);
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.detail);
        assert_eq!(c.meta["general.name"].len(), MAX_KEPT);
    }
}
