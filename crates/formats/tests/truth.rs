//! Every fixture written by the reference libraries (torch, transformers, safetensors, gguf, numpy,
//! tensorflow, keras) must read back with exactly the dtype, shape and SHA-256 they recorded.

mod common;

use std::path::PathBuf;

use common::{Digests, digests, expected};
use serde_json::Value;
use weighhouse_formats::Checkpoint;

fn fixtures() -> PathBuf {
    common::repo_fixtures("reference/formats")
}

fn truth(file: &str) -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(fixtures().join(file)).expect("truth file");
    serde_json::from_str(&text).expect("truth JSON")
}

/// The digests of every tensor of the checkpoint at `rel`.
fn read(rel: &str) -> Digests {
    let ck = Checkpoint::open(fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    digests(&ck)
}

fn check(key: &str) {
    let t = truth("truth.json");
    let want = expected(&t[key]);
    let got = read(key);
    assert_eq!(got, want, "{key}");
}

#[test]
fn safetensors_single_file() {
    check("mixed.safetensors");
}

#[test]
fn safetensors_sharded_folder() {
    check("gpt2_st");
}

#[test]
fn safetensors_sharded_index_file() {
    let t = truth("truth.json");
    assert_eq!(
        read("gpt2_st/model.safetensors.index.json"),
        expected(&t["gpt2_st"])
    );
}

#[test]
fn pytorch_zip() {
    check("zip_mixed.pt");
    check("param.pt");
    check("train_ckpt.pth");
}

#[test]
fn pytorch_legacy() {
    check("legacy_mixed.pt");
}

#[test]
fn pytorch_sharded_bin() {
    check("gpt2_bin");
}

#[test]
fn gguf() {
    check("tiny.gguf");
}

#[test]
fn npz() {
    check("arrays.npz");
}

#[test]
fn tensorflow_checkpoint() {
    let t = truth("truth_tf.json");
    assert_eq!(read("tfckpt/ckpt"), expected(&t["tfckpt/ckpt"]));
    assert_eq!(read("tfckpt/ckpt.index"), expected(&t["tfckpt/ckpt"]));
}

/// Keras containers spell weight names their own way, so match by dtype, shape and digest: every
/// weight of the model must be present exactly once.
fn check_keras(rel: &str) {
    let t = truth("truth_tf.json");
    let want = expected(&t["keras_weights"]);
    let got = read(rel);
    let mut pool: Vec<(String, Vec<u64>, String)> = got.values().cloned().collect();
    for (name, w) in &want {
        let pos = pool
            .iter()
            .position(|g| g == w)
            .unwrap_or_else(|| panic!("{rel}: weight {name} {w:?} not found in {got:#?}"));
        pool.remove(pos);
    }
}

#[test]
fn keras_archive() {
    check_keras("model.keras");
}

#[test]
fn keras_weights_h5() {
    check_keras("model.weights.h5");
}

#[test]
fn keras_legacy_h5() {
    check_keras("legacy_model.h5");
}
