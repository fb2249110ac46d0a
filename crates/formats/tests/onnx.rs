//! ONNX models written by the reference `onnx` package (`tests/fixtures/gen/onnx_fixtures.py`)
//! must read back with the dtypes, shapes and SHA-256 digests it recorded; the scan fixtures show
//! that a plain model loads and that external data outside the model's folder is refused.

mod common;

use common::hex;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use weighhouse_formats::{Base, Checkpoint, Format, Kind, Limits, sniff};

fn dir() -> PathBuf {
    common::repo_fixtures("onnx")
}

fn scan_fixture(rel: &str) -> PathBuf {
    common::repo_fixtures("reference/scan").join(rel)
}

fn truth() -> Value {
    let text = std::fs::read_to_string(dir().join("truth.json")).expect("truth.json");
    serde_json::from_str(&text).expect("truth JSON")
}

fn summary(ck: &Checkpoint) -> BTreeMap<String, Value> {
    ck.tensors
        .iter()
        .map(|t| {
            let bytes = ck.tensor_bytes(t).expect("bytes");
            (
                t.name.clone(),
                json!({
                    "dtype": t.dtype.name(),
                    "shape": t.shape,
                    "sha256": hex(&Sha256::digest(&bytes)),
                }),
            )
        })
        .collect()
}

fn want(truth: &Value, model: &str) -> BTreeMap<String, Value> {
    truth[model]["tensors"]
        .as_object()
        .expect("tensors")
        .clone()
        .into_iter()
        .collect()
}

#[test]
fn inline_model_matches_truth() {
    let truth = truth();
    let ck = Checkpoint::open(dir().join("inline.onnx")).expect("open");
    assert_eq!(ck.format, Format::Onnx);
    assert_eq!(summary(&ck), want(&truth, "inline.onnx"));
    // raw_data initializers are read in place, typed fields are decoded.
    let w = ck.get("dense.weight").expect("dense.weight");
    assert!(matches!(w.source.base, Base::File(0)));
    let t = ck.get("typed.f16").expect("typed.f16");
    assert!(matches!(t.source.base, Base::Owned(_)));
    let labels = ck
        .other
        .iter()
        .find(|o| o.name == "labels")
        .expect("labels");
    assert_eq!(labels.value["value"], json!(["cat", "dog"]));
    assert_eq!(ck.metadata["ir_version"], 8);
    assert_eq!(ck.metadata["producer_name"], "weighhouse-fixtures");
    assert_eq!(
        ck.metadata["metadata_props"],
        truth["inline.onnx"]["metadata_props"]
    );
    assert_eq!(
        ck.metadata["opset_import"],
        json!([{"domain": "", "version": 17}])
    );
}

#[test]
fn external_data_is_read_from_the_data_file() {
    let truth = truth();
    let ck = Checkpoint::open(dir().join("external.onnx")).expect("open");
    assert_eq!(summary(&ck), want(&truth, "external.onnx"));
    let files: Vec<&Path> = ck.files().collect();
    assert_eq!(files.len(), 2);
    assert!(files[1].ends_with("external.onnx.data"));
    for name in truth["external.onnx"]["external"].as_array().expect("list") {
        let t = ck.get(name.as_str().expect("name")).expect("tensor");
        assert!(matches!(t.source.base, Base::File(1)), "{}", t.name);
    }
    // Bytes alone cannot resolve external data.
    let bytes = std::fs::read(dir().join("external.onnx")).expect("read");
    let e = Checkpoint::from_bytes("external.onnx", bytes, &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("external"), "{e}");
}

#[test]
fn scan_benign_model_loads() {
    let p = scan_fixture("benign/b39_onnx_matmul.onnx");
    let bytes = std::fs::read(&p).expect("read");
    assert_eq!(sniff(&bytes, &Limits::default()), Kind::Onnx);
    let ck = Checkpoint::open(&p).expect("open");
    let w = ck.get("W").expect("W");
    assert_eq!(w.shape, [4, 4]);
    assert_eq!(w.dtype.name(), "F32");
    let bytes = ck.tensor_bytes(w).expect("bytes");
    let first = f32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
    assert_eq!(first, 1.0);
}

#[test]
fn scan_path_traversal_is_refused() {
    let p = scan_fixture("malicious/m60_onnx_external_data_traversal.onnx");
    let e = Checkpoint::open(&p).unwrap_err();
    assert!(e.to_string().contains("outside the model's folder"), "{e}");
}

#[cfg(unix)]
#[test]
fn symlink_out_of_the_folder_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model_dir = tmp.path().join("model");
    std::fs::create_dir(&model_dir).expect("mkdir");
    std::fs::copy(dir().join("external.onnx"), model_dir.join("external.onnx")).expect("copy");
    let outside = tmp.path().join("secret.bin");
    std::fs::copy(dir().join("external.onnx.data"), &outside).expect("copy");
    std::os::unix::fs::symlink(&outside, model_dir.join("external.onnx.data")).expect("symlink");
    let e = Checkpoint::open(model_dir.join("external.onnx")).unwrap_err();
    assert!(e.to_string().contains("outside the model's folder"), "{e}");

    // A symlink that stays inside the folder is fine.
    std::fs::remove_file(model_dir.join("external.onnx.data")).expect("rm");
    std::fs::copy(&outside, model_dir.join("real.data")).expect("copy");
    std::os::unix::fs::symlink(
        model_dir.join("real.data"),
        model_dir.join("external.onnx.data"),
    )
    .expect("symlink");
    Checkpoint::open(model_dir.join("external.onnx")).expect("open");
}

#[test]
fn missing_or_short_external_file_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        dir().join("external.onnx"),
        tmp.path().join("external.onnx"),
    )
    .expect("copy");
    assert!(Checkpoint::open(tmp.path().join("external.onnx")).is_err());
    std::fs::write(tmp.path().join("external.onnx.data"), [0u8; 100]).expect("write");
    let e = Checkpoint::open(tmp.path().join("external.onnx")).unwrap_err();
    assert!(e.to_string().contains("outside the"), "{e}");
}
