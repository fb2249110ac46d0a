//! A folder is read as one checkpoint: its sharded index, its TF `checkpoint` state, or its weight
//! files; a folder holding several separate checkpoints is refused with a clear message.

mod common;

use std::path::PathBuf;

use weighhouse_formats::{Checkpoint, Format};

fn shared(rel: &str) -> PathBuf {
    common::repo_fixtures("reference/formats").join(rel)
}

#[test]
fn two_checkpoints_in_one_folder_are_named_not_merged() {
    let dir = tempfile::tempdir().expect("tmp");
    for name in ["model-Q8_0.gguf", "model-F16.gguf"] {
        std::fs::copy(shared("tiny.gguf"), dir.path().join(name)).expect("copy");
    }
    let err = Checkpoint::open(dir.path())
        .expect_err("ambiguous folder")
        .to_string();
    assert!(
        err.contains("several checkpoints") && err.contains("model-Q8_0.gguf"),
        "{err}"
    );
}

#[test]
fn tf_folder_opens_the_checkpoint_its_state_file_names() {
    let dir = tempfile::tempdir().expect("tmp");
    for step in ["ckpt-1", "ckpt-2"] {
        std::fs::copy(
            shared("tfckpt/ckpt.index"),
            dir.path().join(format!("{step}.index")),
        )
        .expect("copy");
        std::fs::copy(
            shared("tfckpt/ckpt.data-00000-of-00001"),
            dir.path().join(format!("{step}.data-00000-of-00001")),
        )
        .expect("copy");
    }
    std::fs::write(
        dir.path().join("checkpoint"),
        "model_checkpoint_path: \"ckpt-2\"\nall_model_checkpoint_paths: \"ckpt-1\"\nall_model_checkpoint_paths: \"ckpt-2\"\n",
    )
    .expect("state");
    let ck = Checkpoint::open(dir.path()).expect("folder");
    assert_eq!(ck.format, Format::TensorFlow);
    assert!(ck.files().all(|f| {
        f.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("ckpt-2"))
    }));
    assert_eq!(ck.tensors.len(), 3);
}

#[test]
fn folder_with_safetensors_and_bin_prefers_safetensors() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::copy(
        shared("mixed.safetensors"),
        dir.path().join("model.safetensors"),
    )
    .expect("copy");
    std::fs::copy(shared("zip_mixed.pt"), dir.path().join("pytorch_model.bin")).expect("copy");
    std::fs::write(dir.path().join("config.json"), "{\"model_type\": \"x\"}").expect("config");
    let ck = Checkpoint::open(dir.path()).expect("folder");
    assert_eq!(ck.format, Format::Safetensors);
    assert_eq!(ck.tensors.len(), 12);
}
