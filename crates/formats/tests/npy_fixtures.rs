//! NumPy files written by numpy (tests/fixtures/gen/npy_fixtures.py) read back with the dtype,
//! shape and SHA-256 recorded; object arrays and other unreadable dtypes are refused; the shared
//! scanner corpus's NumPy files load or are refused as they should be.

mod common;

use common::hex;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use weighhouse_formats::{Base, Checkpoint, FormatError, Layout, Limits, npy};

fn dir() -> PathBuf {
    common::repo_fixtures("npy")
}

fn truth() -> BTreeMap<String, Value> {
    serde_json::from_str(&std::fs::read_to_string(dir().join("truth.json")).expect("truth"))
        .expect("truth JSON")
}

fn read(path: &Path) -> (Checkpoint, serde_json::Map<String, Value>) {
    let ck = Checkpoint::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut got = serde_json::Map::new();
    for t in &ck.tensors {
        let bytes = ck.tensor_bytes(t).expect("bytes");
        got.insert(
            t.name.clone(),
            json!({"dtype": t.dtype.name(), "shape": t.shape, "sha256": hex(&Sha256::digest(&bytes))}),
        );
    }
    (ck, got)
}

#[test]
fn npy_files_read_back_exactly() {
    let t = truth();
    let files = t["npy"].as_object().expect("npy");
    assert!(files.len() >= 15);
    for (file, want) in files {
        let (ck, got) = read(&dir().join(file));
        assert_eq!(got.len(), 1, "{file}");
        assert_eq!(got.get(npy::NPY_TENSOR_NAME), Some(want), "{file}");
        let tv = &ck.tensors[0];
        assert!(matches!(tv.source.base, Base::File(_)), "{file}");
        let fortran = file.starts_with("fortran");
        assert_eq!(
            matches!(tv.source.layout, Layout::Strided(_)),
            fortran,
            "{file}"
        );
        assert_eq!(tv.source.big_endian, file.contains("be_"), "{file}");
    }
}

#[test]
fn header_versions_are_reported() {
    for (file, v) in [
        ("v1_f32.npy", "1.0"),
        ("v2_i16.npy", "2.0"),
        ("v3_u16.npy", "3.0"),
    ] {
        let (ck, _) = read(&dir().join(file));
        assert_eq!(ck.metadata["npy.version"], v);
    }
}

#[test]
fn npz_archives_read_back_exactly() {
    let t = truth();
    for (file, want) in t["npz"].as_object().expect("npz") {
        let (ck, got) = read(&dir().join(file));
        assert_eq!(&Value::Object(got), want, "{file}");
        for tv in &ck.tensors {
            // STORED members are described in place; DEFLATED ones had to be inflated.
            let in_file = matches!(tv.source.base, Base::File(_));
            assert_eq!(in_file, file == "stored.npz", "{file} {}", tv.name);
        }
    }
}

#[test]
fn unreadable_arrays_are_refused_with_a_reason() {
    let t = truth();
    for (file, word) in t["refused"].as_object().expect("refused") {
        let word = word.as_str().expect("word");
        let err = Checkpoint::open(dir().join(file))
            .err()
            .unwrap_or_else(|| panic!("{file} was accepted"));
        assert!(
            err.to_string().contains(word),
            "{file}: {err} does not mention {word:?}"
        );
    }
}

#[test]
fn inflation_beyond_the_budget_is_refused() {
    let bytes = std::fs::read(dir().join("deflated.npz")).expect("read");
    let limits = Limits {
        max_inflated_bytes: 300,
        ..Limits::strict()
    };
    assert!(matches!(
        npy::parse_npz(&bytes, &limits),
        Err(FormatError::Limit { .. })
    ));
    npy::parse_npz(&bytes, &Limits::strict()).expect("fits the strict budget");
}

/// The scanner corpus shared by the project: benign NumPy files load, object arrays do not.
#[test]
fn scanner_corpus_numpy_files() {
    let scan = common::repo_fixtures("reference/scan");
    let (ck, _) = read(&scan.join("benign/b29_npy_float32.npy"));
    assert_eq!(ck.tensors[0].shape, vec![10, 10]);
    let (ck, _) = read(&scan.join("benign/b30_npy_bigendian_int.npy"));
    assert!(ck.tensors[0].source.big_endian);
    let (ck, _) = read(&scan.join("benign/b32_npz_numeric.npz"));
    assert!(!ck.tensors.is_empty());
    for f in [
        "benign/b31_npy_object_benign.npy",
        "benign/b33_npz_compressed_object.npz",
        "malicious/m44_npy_object_array.npy",
        "malicious/m45_npy_structured_object_field.npy",
        "malicious/m47_npz_object_member.npz",
    ] {
        let err = Checkpoint::open(scan.join(f))
            .err()
            .unwrap_or_else(|| panic!("{f} was accepted"));
        assert!(err.to_string().contains("pickled"), "{f}: {err}");
    }
    // A raw pickle named .npy is no NumPy file at all.
    let bytes = std::fs::read(scan.join("malicious/m46_npy_ext_raw_pickle.npy")).expect("read");
    assert!(npy::parse_npy(&bytes, &Limits::default()).is_err());
}
