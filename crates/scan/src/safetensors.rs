//! safetensors: no code, so the risks are structural. The header must be what the reference
//! reader (`safetensors` 0.4+) accepts, and the tensors must cover the data section exactly:
//! bytes after the last tensor are invisible to safetensors readers but can be a second file
//! (a zip or pickle that another loader picks up), which is the polyglot this check is for.
//!
//! # Rules
//!
//! | rule | severity | when |
//! |---|---|---|
//! | `safetensors.trailing_data` | high | non-zero bytes after the last tensor (a polyglot: another loader may read them) |
//! | `safetensors.trailing_data` | medium | only zero bytes after the last tensor |
//! | `safetensors.header` | medium | a header the reference reader refuses: over [`MAX_HEADER`] bytes, past the end of the file, not UTF-8, not strict JSON, duplicate keys, unknown dtype, shape and offsets that disagree, overlapping tensors, holes between tensors (the file is also marked incomplete) |
//! | `safetensors.metadata` | low | a `__metadata__` value that is not a string |

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::report::{Report, Severity};

/// Longest header read (the reference reader's own limit is 100 MB).
pub(crate) const MAX_HEADER: u64 = 100_000_000;
/// Most tensors in one file.
const MAX_TENSORS: usize = 10_000_000;
/// Most dimensions of one tensor.
const MAX_DIMS: usize = 64;

/// The header's entries, in order, duplicates kept.
struct Entries(Vec<(String, Value)>);

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
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Bits per element of a safetensors dtype.
fn dtype_bits(d: &str) -> Option<u64> {
    Some(match d {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" => 64,
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        _ => return None,
    })
}

/// Scan a safetensors file.
pub(crate) fn scan(data: &[u8], loc: &str, r: &mut Report) {
    r.format("safetensors");
    if let Err(why) = check(data, loc, r) {
        r.add(
            "safetensors.header",
            Severity::Medium,
            loc,
            format!("malformed safetensors header: {why}"),
        );
        r.incomplete(loc, format!("safetensors: {why}"));
    }
}

fn check(data: &[u8], loc: &str, r: &mut Report) -> Result<(), String> {
    let head: [u8; 8] = data
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or("file shorter than the 8-byte header length")?;
    let n = u64::from_le_bytes(head);
    if n > MAX_HEADER {
        return Err(format!(
            "header length {n} is over the {MAX_HEADER}-byte limit"
        ));
    }
    let header_end = 8u64
        .checked_add(n)
        .filter(|&e| e <= data.len() as u64)
        .ok_or_else(|| {
            format!(
                "header length {n} runs past the end of the {}-byte file",
                data.len()
            )
        })?;
    // Fits in usize: it is at most data.len().
    let header = &data[8..header_end as usize];
    if header.first() != Some(&b'{') {
        return Err("header does not start with '{'".into());
    }
    let text = std::str::from_utf8(header).map_err(|e| format!("header is not UTF-8: {e}"))?;
    let entries: Entries = serde_json::from_str(text.trim_end_matches(' '))
        .map_err(|e| format!("header is not strict JSON: {e}"))?;

    let mut names = HashSet::new();
    let mut spans: Vec<(u64, u64, String)> = Vec::new();
    for (name, value) in entries.0 {
        if !names.insert(name.clone()) {
            return Err(format!(
                "duplicate key {name:?} (readers disagree on which one wins)"
            ));
        }
        if name == "__metadata__" {
            let Value::Object(map) = value else {
                return Err("__metadata__ is not an object".into());
            };
            for (k, v) in map {
                if !v.is_string() {
                    r.add(
                        "safetensors.metadata",
                        Severity::Low,
                        &format!("{loc}!metadata:{k}"),
                        "__metadata__ value is not a string (the reference reader refuses it)",
                    );
                }
            }
            continue;
        }
        if spans.len() >= MAX_TENSORS {
            return Err(format!("more than {MAX_TENSORS} tensors"));
        }
        let Value::Object(info) = value else {
            return Err(format!("tensor {name:?} is not an object"));
        };
        if let Some(k) = info
            .keys()
            .find(|k| !matches!(k.as_str(), "dtype" | "shape" | "data_offsets"))
        {
            return Err(format!("tensor {name:?} has an unknown field {k:?}"));
        }
        let dtype = info
            .get("dtype")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("tensor {name:?} has no dtype"))?;
        let bits = dtype_bits(dtype)
            .ok_or_else(|| format!("tensor {name:?} has an unknown dtype {dtype:?}"))?;
        let shape = info
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("tensor {name:?} has no shape"))?;
        if shape.len() > MAX_DIMS {
            return Err(format!("tensor {name:?} has {} dimensions", shape.len()));
        }
        let mut count = 1u64;
        for d in shape {
            let d = d.as_u64().ok_or_else(|| {
                format!("tensor {name:?} has a dimension that is not a natural number")
            })?;
            count = count
                .checked_mul(d)
                .ok_or_else(|| format!("tensor {name:?}: element count overflows"))?;
        }
        let total_bits = count
            .checked_mul(bits)
            .ok_or_else(|| format!("tensor {name:?}: size overflows"))?;
        if total_bits % 8 != 0 {
            return Err(format!(
                "tensor {name:?}: {count} elements of {dtype} are not a whole number of bytes"
            ));
        }
        let len = total_bits / 8;
        let offs = info
            .get("data_offsets")
            .and_then(Value::as_array)
            .filter(|a| a.len() == 2)
            .ok_or_else(|| format!("tensor {name:?} has no data_offsets pair"))?;
        let (Some(begin), Some(end)) = (offs[0].as_u64(), offs[1].as_u64()) else {
            return Err(format!(
                "tensor {name:?} has data_offsets that are not natural numbers"
            ));
        };
        if end.checked_sub(begin) != Some(len) {
            return Err(format!(
                "tensor {name:?}: data_offsets {begin}..{end} do not hold {len} bytes of {dtype} {shape:?}"
            ));
        }
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
    let data_len = data.len() as u64 - header_end;
    if expected > data_len {
        return Err(format!(
            "tensors need {expected} bytes but the data section has {data_len}"
        ));
    }
    if expected < data_len {
        let start = header_end + expected;
        // Fits in usize: it is below data.len().
        let tail = &data[start as usize..];
        let (sev, what) = if tail.iter().all(|&b| b == 0) {
            (Severity::Medium, "zero bytes")
        } else {
            (
                Severity::High,
                "bytes another loader may read (a polyglot file)",
            )
        };
        r.add(
            "safetensors.trailing_data",
            sev,
            &format!("{loc}@{start}"),
            format!(
                "{} {what} follow the last tensor; safetensors readers ignore or refuse them",
                tail.len()
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use crate::testutil::fixtures;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend(header.as_bytes());
        v.extend(data);
        v
    }

    fn scan_bytes(b: &[u8]) -> Report {
        let mut r = Report::default();
        scan(b, "x.safetensors", &mut r);
        r
    }

    #[test]
    fn corpus() {
        if let Ok(b) = std::fs::read(fixtures().join("scan/benign/b40_safetensors.safetensors")) {
            let r = scan_bytes(&b);
            assert_eq!(r.verdict(), Verdict::Safe, "{r:?}");
            assert!(r.findings.is_empty(), "{r:?}");
        }
    }

    #[test]
    fn structure() {
        let h = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[1],"data_offsets":[8,10]}}  "#;
        let r = scan_bytes(&file(h, &[1; 10]));
        assert_eq!(r.verdict(), Verdict::Safe, "{r:?}");

        let r = scan_bytes(&file(
            h,
            &[[1u8; 10].as_slice(), b"PK\x05\x06rest"].concat(),
        ));
        assert_eq!(r.verdict(), Verdict::Unsafe, "{r:?}");
        assert!(
            r.findings
                .iter()
                .any(|f| f.rule == "safetensors.trailing_data")
        );
        let r = scan_bytes(&file(h, &[[1u8; 10].as_slice(), &[0; 6]].concat()));
        assert_eq!(r.max_severity(), Some(Severity::Medium));

        for bad in [
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            r#"{"a":{"dtype":"X9","shape":[2],"data_offsets":[0,8]}}"#,
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
            r#"{"a":{"dtype":"F32","shape":[18446744073709551615,18446744073709551615],"data_offsets":[0,8]}}"#,
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#,
            r#"{"a":NaN}"#,
            "{\"a\": 1,}",
            "[]",
        ] {
            let r = scan_bytes(&file(bad, &[0; 8]));
            assert_eq!(r.verdict(), Verdict::Incomplete, "{bad}: {r:?}");
            assert!(
                r.findings.iter().any(|f| f.rule == "safetensors.header"),
                "{bad}"
            );
        }
        let mut huge = (MAX_HEADER + 1).to_le_bytes().to_vec();
        huge.extend(b"{}");
        assert_eq!(scan_bytes(&huge).verdict(), Verdict::Incomplete);
        for len in 0..20 {
            let _ = scan_bytes(&file(h, &[1; 10])[..len]);
        }
        let deep = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        assert_eq!(scan_bytes(&file(&deep, &[])).verdict(), Verdict::Incomplete);
    }
}
