//! GGUF files written by gguf-py (tests/fixtures/gen/gguf_fixtures.py) read back with the dtype,
//! shape, SHA-256 and metadata the generator recorded, every tensor zero-copy in the file.

mod common;

use common::hex;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};
use weighhouse_formats::{Base, Checkpoint, Format, Limits, gguf};

fn dir() -> PathBuf {
    common::repo_fixtures("gguf")
}

#[test]
fn gguf_py_fixtures_read_back_exactly() {
    let truth: BTreeMap<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(dir().join("truth.json")).expect("truth"))
            .expect("truth JSON");
    assert_eq!(truth.len(), 3);
    for (file, want) in &truth {
        let ck = Checkpoint::open(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(ck.format, Format::Gguf);
        let big = want["metadata"].get("gguf.endianness").is_some();
        let alignment = want["metadata"]
            .get("gguf.alignment")
            .and_then(Value::as_u64)
            .unwrap_or(32);
        let mut got = serde_json::Map::new();
        for t in &ck.tensors {
            assert!(matches!(t.source.base, Base::File(_)), "{file} {}", t.name);
            assert_eq!(t.source.offset % alignment, 0, "{file} {}", t.name);
            // Little-endian tensors are handed out in place, without copying.
            assert_eq!(
                t.source.is_plain(),
                !big || t.dtype.is_quantized(),
                "{file} {}",
                t.name
            );
            let bytes = ck.tensor_bytes(t).expect("bytes");
            if !big {
                assert!(matches!(bytes, std::borrow::Cow::Borrowed(_)));
            }
            got.insert(
                t.name.clone(),
                serde_json::json!({
                    "dtype": t.dtype.name(),
                    "shape": t.shape,
                    "sha256": hex(&Sha256::digest(&bytes)),
                }),
            );
        }
        let mut expected = want["tensors"].as_object().expect("tensors").clone();
        for v in expected.values_mut() {
            v.as_object_mut().expect("entry").remove("dequant_sha256");
        }
        assert_eq!(got, expected, "{file}");
        for (k, v) in want["metadata"].as_object().expect("metadata") {
            assert_eq!(ck.metadata.get(k), Some(v), "{file}: metadata {k}");
        }
    }
}

#[test]
fn types_fixture_covers_every_value_type() {
    let ck = Checkpoint::open(dir().join("types.gguf")).expect("open");
    let m = &ck.metadata;
    // 13 value types, 4 arrays and the chat template, plus the reader's own keys.
    assert_eq!(m["test.f32"], serde_json::json!(1e-5));
    assert_eq!(m["tokenizer.ggml.tokens"]["len"], 300);
    assert_eq!(
        m["tokenizer.ggml.tokens"]["items"]
            .as_array()
            .expect("items")
            .len(),
        gguf::ARRAY_KEEP
    );
    assert!(
        m["tokenizer.chat_template"]
            .as_str()
            .expect("template")
            .contains("{% for m in messages %}")
    );
    assert!(ck.tensors.len() >= 30);
}

#[test]
fn fixtures_hold_up_under_strict_limits() {
    for f in ["types.gguf", "big_endian_align64.gguf", "v2.gguf"] {
        let bytes = std::fs::read(dir().join(f)).expect("read");
        gguf::parse(&bytes, &Limits::strict()).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
}

#[test]
fn every_truncation_of_a_real_file_is_an_error() {
    let bytes = std::fs::read(dir().join("big_endian_align64.gguf")).expect("read");
    let ok = gguf::parse(&bytes, &Limits::strict()).expect("whole file");
    let last_end = ok
        .tensors
        .iter()
        .map(|t| t.source.offset + t.byte_len())
        .max()
        .expect("tensors");
    for n in 0..last_end as usize {
        assert!(
            gguf::parse(&bytes[..n], &Limits::strict()).is_err(),
            "prefix of {n} bytes accepted"
        );
    }
}
