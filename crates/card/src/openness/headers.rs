//! Header checks of weight files from their first bytes only (OWD-2b: the weights are not
//! obfuscated, and their tensors are readable).
//!
//! On a hub only the first [`HEADER_PREFIX`] bytes of a weight file are at hand, so the headers
//! are parsed by the formats crate's header-only entry points (`safetensors::parse_header`,
//! `gguf::parse_prefix`) and tensor extents are compared with the file's listed size. No file is
//! read past its header, so that the hub can run these checks on every commit.

use std::collections::BTreeMap;

use serde_json::Value;
use weighhouse_tensor::{GgmlBlock, Limits};

use super::criterion::Verdict;
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

/// Check a safetensors header with the formats crate's header parser (strict JSON, no duplicate
/// keys, known dtypes, offsets that match the shapes and tile the data section), and that the
/// file's listed size holds the data section.
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
    let header_end = 8u64.saturating_add(n);
    if n <= limits.max_header_bytes && header_end > size {
        return c.with(
            Verdict::Fail,
            format!("header length {n} runs past the end of the {size}-byte file"),
        );
    }
    if n <= limits.max_header_bytes && header_end > HEADER_PREFIX {
        return c.with(
            Verdict::Review,
            format!("the header ({n} bytes) is larger than the {HEADER_PREFIX} bytes checked"),
        );
    }
    let bytes = if first.len() as u64 >= header_end || n > limits.max_header_bytes {
        first
    } else {
        match files.read_prefix(path, header_end) {
            Some(b) if b.len() as u64 >= header_end => b,
            _ => return c.with(Verdict::Review, "the header could not be read"),
        }
    };
    let header = match weighhouse_formats::safetensors::parse_header_of(&bytes, size, &limits) {
        Ok(h) => h,
        Err(e) => return c.with(Verdict::Fail, e.to_string()),
    };
    let tensors = &header.parsed.tensors;
    let mut dtypes: BTreeMap<String, usize> = BTreeMap::new();
    for t in tensors {
        *dtypes.entry(t.dtype.name().to_string()).or_default() += 1;
    }
    let mut c = c;
    c.quant = tensors
        .iter()
        .find(|t| {
            let lower = t.name.to_ascii_lowercase();
            [".qweight", ".qzeros", ".g_idx", ".weight_packed"]
                .iter()
                .any(|s| lower.ends_with(s))
        })
        .map(|t| format!("packed quantised tensor {}", t.name))
        .into_iter()
        .collect();
    let summary = format!(
        "{} tensor{} ({}), {n}-byte header",
        tensors.len(),
        if tensors.len() == 1 { "" } else { "s" },
        counts(&dtypes)
    );
    let end = header.data_start.saturating_add(header.data_end);
    if end > size {
        return c.with(
            Verdict::Fail,
            format!(
                "the tensors need {} bytes after the header but the file has {}",
                header.data_end,
                size - header.data_start
            ),
        );
    }
    if end < size {
        return c.with(
            Verdict::Review,
            format!("{summary}; {} bytes follow the last tensor", size - end),
        );
    }
    if let Some(t) = tensors
        .iter()
        .find(|t| t.name.is_empty() || t.name.chars().any(char::is_control))
    {
        return c.with(
            Verdict::Review,
            format!("{summary}; tensor name {:?} is not readable text", t.name),
        );
    }
    c.with(Verdict::Pass, summary)
}

/// Check a GGUF header with the formats crate's parser (magic, version, key-values, tensor
/// infos, consecutive aligned offsets), every tensor within the file's listed size. Reads the
/// first MiB, then four times more until the header is read or [`HEADER_PREFIX`] is reached.
pub(super) fn gguf(files: &dyn Files, path: &str, size: u64) -> HeaderCheck {
    let c = HeaderCheck::new(path, "gguf");
    let limits = Limits::default();
    let mut limit = FIRST_READ_GGUF.min(size);
    loop {
        let Some(bytes) = files.read_prefix(path, limit) else {
            return c.with(Verdict::Review, "the start of the file could not be read");
        };
        match weighhouse_formats::gguf::parse_prefix(&bytes, size, &limits) {
            Ok(Some(parsed)) => {
                let mut types: BTreeMap<String, usize> = BTreeMap::new();
                for t in &parsed.tensors {
                    *types.entry(t.dtype.name().to_string()).or_default() += 1;
                }
                let kv = parsed
                    .metadata
                    .keys()
                    .filter(|k| !k.starts_with("gguf."))
                    .count();
                let mut c = c;
                c.meta = GGUF_KEEP
                    .iter()
                    .filter_map(|k| {
                        let v = parsed.metadata.get(*k)?;
                        let text = match v {
                            Value::String(s) => s.chars().take(MAX_KEPT).collect(),
                            Value::Number(n) => n.to_string(),
                            _ => return None,
                        };
                        Some((k.to_string(), text))
                    })
                    .collect();
                c.quant = types.keys().filter(|t| is_ggml_block(t)).cloned().collect();
                let detail = format!(
                    "GGUF v{}, {} tensor{} ({}), {kv} key-values",
                    parsed
                        .metadata
                        .get("gguf.version")
                        .cloned()
                        .unwrap_or_default(),
                    parsed.tensors.len(),
                    if parsed.tensors.len() == 1 { "" } else { "s" },
                    counts(&types),
                );
                return c.with(Verdict::Pass, detail);
            }
            Ok(None) => {
                if (bytes.len() as u64) < limit || limit >= HEADER_PREFIX.min(size) {
                    return c.with(
                        Verdict::Review,
                        format!("the header goes on past the {} bytes read", bytes.len()),
                    );
                }
                limit = limit.saturating_mul(4).min(HEADER_PREFIX).min(size);
            }
            Err(e) => return c.with(Verdict::Fail, e.to_string()),
        }
    }
}

fn is_ggml_block(name: &str) -> bool {
    (0..64).any(|id| GgmlBlock::from_id(id).is_some_and(|b| b.name() == name))
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
    use weighhouse_formats::gguf::dtype_of;
    use weighhouse_tensor::byte_len;

    /// The GGUF value type of strings.
    const GGUF_STRING: u32 = 8;

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
        let len = byte_len(dtype_of(ty).unwrap(), &[32]).unwrap();
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
