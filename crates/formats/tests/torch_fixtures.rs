//! PyTorch checkpoints written by `tests/fixtures/gen/torch_fixtures.py` (stdlib pickle with fake
//! torch modules): views, shared storages, protocol 4/5 pickles, big-endian and deflated
//! records, untyped storages, legacy storage views, nested training checkpoints.

mod common;

use common::hex;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};
use weighhouse_formats::{Base, Checkpoint, Format, FormatError, Layout};

fn dir() -> PathBuf {
    common::repo_fixtures("torch")
}

fn truth() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(dir().join("truth.json")).expect("truth");
    serde_json::from_str(&text).expect("truth JSON")
}

fn open(file: &str) -> Checkpoint {
    Checkpoint::open(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn every_fixture_matches_its_truth() {
    for (file, want) in truth() {
        if let Some(err) = want.get("error") {
            let e = Checkpoint::open(dir().join(&file)).expect_err(&file);
            assert_eq!(err, "OutOfBounds");
            assert!(
                matches!(e.source, FormatError::OutOfBounds { ref tensor, .. } if tensor == "w"),
                "{file}: {e}"
            );
            continue;
        }
        let ck = open(&file);
        let got: BTreeMap<String, Value> = ck
            .tensors
            .iter()
            .map(|t| {
                let bytes = ck
                    .tensor_bytes(t)
                    .unwrap_or_else(|e| panic!("{file} {}: {e}", t.name));
                let v = serde_json::json!({
                    "dtype": t.dtype.name(),
                    "shape": t.shape,
                    "sha256": hex(&Sha256::digest(&bytes)),
                });
                (t.name.clone(), v)
            })
            .collect();
        let expected: BTreeMap<String, Value> = want["tensors"]
            .as_object()
            .expect("tensors")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(got, expected, "{file}");
        if let Some(other) = want.get("other") {
            let got: serde_json::Map<String, Value> = ck
                .other
                .iter()
                .map(|o| (o.name.clone(), o.value.clone()))
                .collect();
            assert_eq!(&Value::Object(got), other, "{file}");
        }
    }
}

#[test]
fn stored_dense_tensors_are_zero_copy_and_views_strided() {
    let ck = open("views.pt");
    assert_eq!(ck.format, Format::PytorchZip);
    assert_eq!(ck.metadata["archive_name"], "views");
    assert_eq!(ck.metadata["storage_alignment"], "64");
    let base = ck.get("base").expect("base");
    assert!(matches!(base.source.base, Base::File(_)) && base.source.is_plain());
    // Record data is 64-byte aligned in torch archives.
    assert_eq!(base.source.offset % 64, 0);
    let t = ck.get("transposed").expect("transposed");
    assert_eq!(t.source.layout, Layout::Strided(vec![1, 6]));
    assert_eq!(t.source.offset, base.source.offset);
    let row = ck.get("row2").expect("row2");
    assert!(row.source.is_plain());
    assert_eq!(row.source.offset, base.source.offset + 12 * 4);
    let b = ck.get("broadcast").expect("broadcast");
    assert_eq!(b.source.layout, Layout::Strided(vec![0, 1]));

    let ck = open("bigendian.pt");
    assert_eq!(ck.metadata["byteorder"], "big");
    assert!(ck.tensors.iter().all(|t| t.source.big_endian));

    let ck = open("deflated.pt");
    assert!(matches!(ck.tensors[0].source.base, Base::Owned(_)));

    let ck = open("proto5.pt");
    assert_eq!(ck.metadata["pickle_protocol"], 5);

    let ck = open("legacy_views.pt");
    assert_eq!(ck.format, Format::PytorchLegacy);
    assert_eq!(ck.metadata["sys_info"]["little_endian"], true);
    let whole = ck.get("whole").expect("whole");
    let view = ck.get("view").expect("view");
    assert_eq!(view.source.offset, whole.source.offset + 4 * 4);
}

/// Damaged copies of every fixture (bytes overwritten, truncated) give errors or tensors whose
/// bytes can be read, never a panic or a hang.
#[test]
fn damaged_fixtures_never_panic() {
    use weighhouse_formats::{Limits, torch};
    let limits = Limits::strict();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for file in truth().keys() {
        let good = std::fs::read(dir().join(file)).expect("read");
        let parse = if good.starts_with(b"PK") {
            torch::parse_zip
        } else {
            torch::parse_legacy
        };
        for round in 0..1000 {
            let mut bytes = good.clone();
            if round % 10 == 0 {
                bytes.truncate((next() % good.len() as u64) as usize);
            } else {
                for _ in 0..1 + next() % 4 {
                    // Half the damage lands in the first third, where the pickle lives.
                    let span = if round % 2 == 0 {
                        bytes.len() / 3 + 1
                    } else {
                        bytes.len()
                    };
                    let at = (next() % span as u64) as usize;
                    bytes[at] = next() as u8;
                }
            }
            if let Ok(ck) = Checkpoint::from_bytes_with(file, bytes, &limits, parse) {
                for t in &ck.tensors {
                    let _ = ck.tensor_bytes(t);
                }
            }
        }
    }
}
