//! safetensors: no code, so the risks are structural. The header must be what the reference
//! reader (`safetensors` 0.4+) accepts, which `weighhouse_formats::safetensors::parse_header`
//! checks, and the tensors must cover the data section exactly: bytes after the last tensor are
//! invisible to safetensors readers but can be a second file (a zip or pickle that another loader
//! picks up), which is the polyglot this check is for.
//!
//! # Rules
//!
//! | rule | severity | when |
//! |---|---|---|
//! | `safetensors.trailing_data` | high | non-zero bytes after the last tensor (a polyglot: another loader may read them) |
//! | `safetensors.trailing_data` | medium | only zero bytes after the last tensor |
//! | `safetensors.header` | medium | a header the reference reader refuses: over [`MAX_HEADER`] bytes, past the end of the file, not UTF-8, not strict JSON, duplicate keys, a non-string `__metadata__` value, unknown dtype, shape and offsets that disagree, overlapping tensors, holes between tensors (the file is also marked incomplete) |

use weighhouse_formats::Limits;

use crate::report::{Report, Severity};

/// Longest header read (the reference reader's own limit is 100 MB).
pub(crate) const MAX_HEADER: u64 = 100_000_000;

/// Scan a safetensors file.
pub(crate) fn scan(data: &[u8], loc: &str, r: &mut Report) {
    r.format("safetensors");
    let limits = Limits {
        max_header_bytes: MAX_HEADER,
        max_tensors: 10_000_000,
        max_dims: 64,
        ..Limits::default()
    };
    let header = match weighhouse_formats::safetensors::parse_header(data, &limits) {
        Ok(h) => h,
        Err(why) => {
            r.add(
                "safetensors.header",
                Severity::Medium,
                loc,
                format!("malformed safetensors header: {why}"),
            );
            r.incomplete(loc, format!("safetensors: {why}"));
            return;
        }
    };
    // Both fit in usize: the header parser checked them against data.len().
    let start = (header.data_start + header.data_end) as usize;
    let tail = &data[start..];
    if tail.is_empty() {
        return;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use crate::testutil::corpus_file;

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
        let b = corpus_file("benign/b40_safetensors.safetensors");
        let r = scan_bytes(&b);
        assert_eq!(r.verdict(), Verdict::Safe, "{r:?}");
        assert!(r.findings.is_empty(), "{r:?}");
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
