//! Keras fixtures written with h5py by `tests/fixtures/gen/keras_fixtures.py`: every tensor must
//! read back with the dtype, shape and SHA-256 the script recorded, in Keras's order, and dense
//! little-endian datasets must stay in the file (zero-copy).

mod common;

use std::path::PathBuf;

use common::{digests, expected};
use serde_json::Value;
use weighhouse_formats::{Base, Checkpoint, Format};

fn dir() -> PathBuf {
    common::repo_fixtures("keras")
}

fn open(name: &str) -> Checkpoint {
    Checkpoint::open(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Compare every tensor of `name` with truth.json.
fn check_truth(name: &str) -> Checkpoint {
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("truth.json")).expect("truth"))
            .expect("truth JSON");
    let want = expected(&truth[name]);
    let ck = open(name);
    let got = digests(&ck);
    assert_eq!(got, want, "{name}");
    ck
}

fn names(ck: &Checkpoint) -> Vec<&str> {
    ck.tensors.iter().map(|t| t.name.as_str()).collect()
}

fn in_file(ck: &Checkpoint, name: &str) -> bool {
    matches!(ck.get(name).expect(name).source.base, Base::File(_))
}

#[test]
fn legacy_full_model_in_keras_order() {
    let ck = check_truth("legacy_tfkeras2.h5");
    assert_eq!(ck.format, Format::KerasH5);
    // layer_names0 + layer_names1, each layer's weight_names, the optimizer's, then datasets no
    // list names.
    assert_eq!(
        names(&ck),
        [
            "model_weights/dense/dense/kernel:0",
            "model_weights/dense/dense/bias:0",
            "model_weights/conv/conv/kernel:0",
            "model_weights/conv/conv/bias:0",
            "model_weights/bn/bn/gamma:0",
            "model_weights/bn/bn/moving_mean:0",
            "model_weights/bn/bn/count:0",
            "model_weights/extras/extras/mask:0",
            "optimizer_weights/Adam/iter:0",
            "optimizer_weights/Adam/dense/kernel/m:0",
            "model_weights/extras/extras/phase:0",
            "model_weights/extras/extras/step:0",
        ]
    );
    assert_eq!(ck.metadata["keras_version"], "2.12.0");
    assert_eq!(ck.metadata["backend"], "tensorflow");
    assert_eq!(ck.metadata["model_config"]["class_name"], "Sequential");
    assert_eq!(ck.metadata["training_config"]["loss"], "mse");
    // The string dataset is reported, not dropped.
    assert_eq!(ck.other.len(), 1);
    assert_eq!(ck.other[0].name, "model_weights/extras/extras/vocab");
}

#[test]
fn legacy_datasets_are_described_in_place_when_contiguous() {
    let ck = open("legacy_tfkeras2.h5");
    assert!(in_file(&ck, "model_weights/dense/dense/kernel:0"));
    assert!(in_file(&ck, "model_weights/conv/conv/bias:0"));
    // Big-endian: still in the file, swapped when read.
    let be = ck.get("model_weights/conv/conv/kernel:0").expect("conv");
    assert!(matches!(be.source.base, Base::File(_)) && be.source.big_endian);
    // Chunked + gzip: decoded into memory.
    for name in [
        "model_weights/dense/dense/bias:0",
        "model_weights/bn/bn/moving_mean:0",
        "model_weights/bn/bn/count:0",
    ] {
        assert!(!in_file(&ck, name), "{name}");
    }
    assert!(
        ck.get("model_weights/bn/bn/count:0")
            .expect("count")
            .source
            .big_endian
    );
}

#[test]
fn legacy_weights_only_with_vlen_names() {
    let ck = check_truth("weights_only.h5");
    assert_eq!(ck.format, Format::KerasH5);
    assert_eq!(
        names(&ck),
        [
            "d1/d1/kernel:0",
            "d1/d1/bias:0",
            "d2/d2/kernel:0",
            "d2/d2/bias:0"
        ]
    );
    assert_eq!(ck.metadata["keras_version"], "2.15.0");
}

#[test]
fn keras3_weights_with_bfloat16_and_many_vars() {
    let ck = check_truth("keras3.weights.h5");
    assert_eq!(ck.format, Format::KerasWeightsH5);
    let emb: Vec<&str> = names(&ck)
        .into_iter()
        .filter(|n| n.starts_with("layers/embedding/"))
        .collect();
    let want: Vec<String> = (0..12)
        .map(|i| format!("layers/embedding/vars/{i}"))
        .collect();
    assert_eq!(emb, want);
    assert!(
        ck.tensors
            .iter()
            .all(|t| matches!(t.source.base, Base::File(_)))
    );
    assert_eq!(ck.metadata["object_names"]["layers/dense/vars"], "head");
    assert_eq!(ck.metadata["object_names"]["vars"], "model");
}

#[test]
fn keras_archive_stored_points_into_the_outer_file() {
    let ck = check_truth("stored.keras");
    assert_eq!(ck.format, Format::Keras);
    assert!(in_file(&ck, "layers/dense/vars/0"));
    assert!(!in_file(&ck, "layers/dense/vars/1"), "chunked");
    assert_eq!(ck.metadata["keras_version"], "3.15.1");
    assert_eq!(ck.metadata["config"]["class_name"], "Sequential");
}

#[test]
fn keras_archive_deflated_is_inflated() {
    let ck = check_truth("deflated.keras");
    assert_eq!(ck.format, Format::Keras);
    assert!(
        ck.tensors
            .iter()
            .all(|t| !matches!(t.source.base, Base::File(_)))
    );
    assert_eq!(ck.metadata["date_saved"], "2026-01-01@00:00:00");
}

/// The scanner's benign Keras files (tf.keras 2 without `weight_names`, weights only, a Keras 3
/// archive of a model without weights) must open.
#[test]
fn scan_corpus_keras_files_open() {
    let scan = common::repo_fixtures("reference/scan/benign");
    for (file, n) in [
        ("b34_h5_keras_dense.h5", 2),
        ("b35_h5_weights_only.h5", 2),
        ("b36_keras3_dense.keras", 0),
    ] {
        let ck = Checkpoint::open(scan.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(ck.tensors.len(), n, "{file}");
        for t in &ck.tensors {
            ck.tensor_bytes(t).expect("bytes");
        }
    }
}

#[test]
fn user_block_moves_every_address() {
    let ck = check_truth("userblock.weights.h5");
    let t = ck.get("layers/dense/vars/0").expect("tensor");
    assert!(matches!(t.source.base, Base::File(_)) && t.source.offset > 512);
}

#[test]
fn hard_links_neither_loop_nor_duplicate() {
    let ck = check_truth("links.weights.h5");
    assert_eq!(names(&ck), ["layers/dense/vars/0"]);
}
