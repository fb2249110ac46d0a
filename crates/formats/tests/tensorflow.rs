//! A two-shard TF1-style bundle written by `tests/fixtures/gen/tf_fixtures.py` must read back with
//! the dtypes, shapes and SHA-256 digests the generator recorded, and its string variable must be
//! reported as a non-tensor value.

mod common;

use common::hex;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};
use weighhouse_formats::{Base, Checkpoint, Format, Limits};

fn dir() -> PathBuf {
    common::repo_fixtures("tf")
}

fn truth() -> Value {
    let text = std::fs::read_to_string(dir().join("truth.json")).expect("truth.json");
    serde_json::from_str(&text).expect("truth JSON")
}

#[test]
fn two_shard_bundle_matches_truth() {
    let truth = truth();
    let ck = Checkpoint::open(dir().join("tf1")).expect("open");
    assert_eq!(ck.format, Format::TensorFlow);
    let got: BTreeMap<String, Value> = ck
        .tensors
        .iter()
        .map(|t| {
            let bytes = ck.tensor_bytes(t).expect("bytes");
            (
                t.name.clone(),
                serde_json::json!({
                    "dtype": t.dtype.name(),
                    "shape": t.shape,
                    "sha256": hex(&Sha256::digest(&bytes)),
                }),
            )
        })
        .collect();
    let want: BTreeMap<String, Value> = truth["tensors"]
        .as_object()
        .expect("tensors")
        .clone()
        .into_iter()
        .collect();
    assert_eq!(got, want);

    // Every tensor is read in place from one of the two shards.
    let files: Vec<_> = ck.files().map(|p| p.to_owned()).collect();
    assert_eq!(files.len(), 3);
    for t in &ck.tensors {
        let Base::File(f) = t.source.base else {
            panic!("{} is not read from a file", t.name)
        };
        assert!(f == 1 || f == 2, "{}", t.name);
    }

    let other: BTreeMap<String, Value> = ck
        .other
        .iter()
        .map(|o| (o.name.clone(), o.value.clone()))
        .collect();
    let want_other: BTreeMap<String, Value> = truth["other"]
        .as_object()
        .expect("other")
        .clone()
        .into_iter()
        .collect();
    assert_eq!(other, want_other);
    assert_eq!(ck.metadata["num_shards"], 2);
    assert_eq!(ck.metadata["endianness"], "little");
}

#[test]
fn index_path_and_prefix_agree() {
    let a = Checkpoint::open(dir().join("tf1")).expect("prefix");
    let b = Checkpoint::open(dir().join("tf1.index")).expect("index");
    let names = |c: &Checkpoint| c.tensors.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b));
}

#[test]
fn damaged_shard_is_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(dir()).expect("dir") {
        let p = entry.expect("entry").path();
        std::fs::copy(&p, tmp.path().join(p.file_name().expect("name"))).expect("copy");
    }
    let shard = tmp.path().join("tf1.data-00001-of-00002");
    let mut bytes = std::fs::read(&shard).expect("shard");
    bytes[3] ^= 0x10;
    std::fs::write(&shard, &bytes).expect("write");
    let e = Checkpoint::open_with(&tmp.path().join("tf1"), &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("checksum mismatch"), "{e}");

    std::fs::remove_file(&shard).expect("remove");
    let e = Checkpoint::open_with(&tmp.path().join("tf1"), &Limits::default()).unwrap_err();
    assert!(e.path.ends_with("tf1.data-00001-of-00002"), "{e}");
}

/// The object graph of a TF2 checkpoint (a binary proto in a string entry) is kept as a
/// non-tensor value, summarised by size.
#[test]
fn tf2_object_graph_is_reported_not_dropped() {
    let shared = common::repo_fixtures("reference/formats/tfckpt/ckpt");
    let ck = Checkpoint::open(&shared).expect("open");
    let graph = ck
        .other
        .iter()
        .find(|o| o.name == "_CHECKPOINTABLE_OBJECT_GRAPH")
        .expect("object graph");
    assert_eq!(graph.value["dtype"], "string");
    assert_eq!(graph.value["shape"], serde_json::json!([]));
    assert!(
        graph.value["bytes"].as_u64().is_some_and(|n| n > 0),
        "{graph:?}"
    );
    assert!(ck.get("kernel/.ATTRIBUTES/VARIABLE_VALUE").is_some());
}
