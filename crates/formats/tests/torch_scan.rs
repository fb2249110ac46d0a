//! The scanner corpus's PyTorch files: benign checkpoints load (or fail only where
//! `torch.load(weights_only=True)` fails too), and every malicious one is refused without
//! anything in it being run.

mod common;

use std::path::PathBuf;

use serde_json::Value;
use weighhouse_formats::{Checkpoint, FormatError, Limits, torch};

fn corpus() -> PathBuf {
    common::repo_fixtures("reference/scan")
}

fn is_torch_name(name: &str) -> bool {
    [".pt", ".pth", ".bin"].iter().any(|e| name.ends_with(e))
}

fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(corpus().join("manifest.json")).expect("manifest");
    serde_json::from_str(&text).expect("manifest JSON")
}

/// What each benign file gives: `Ok(tensor count)` or the kind of error.
fn benign_expectation(id: &str) -> Result<usize, &'static str> {
    match id {
        "b17_pt_zip_state_dict" => Ok(4),
        "b18_pt_zip_mixed_dtypes" => Ok(5),
        "b20_pt_zip_parameters" => Ok(2),
        "b21_pt_zip_size_device_dtype" => Ok(1),
        "b23_hf_pytorch_model_bin" => Ok(9),
        "b25_pt_legacy_state_dict" => Ok(2),
        "b27_pt_zip_deflated" => Ok(1),
        "b51_torch_zip_p4_frames" => Ok(2),
        // numpy scalars, argparse.Namespace, transformers classes: outside the allowlist, as
        // for torch.load(weights_only=True).
        "b19_pt_zip_full_checkpoint" | "b24_training_args_bin" => Err("forbidden"),
        // Refers to storage record data/0, which the archive lacks.
        "b22_pt_zip_tensor_subclass" => Err("malformed"),
        // torch 0.3 tar archives are refused by name.
        "b26_pt_legacy_tar_benign" => Err("unsupported"),
        other => panic!("no expectation for {other}"),
    }
}

fn kind(e: &FormatError) -> &'static str {
    match e {
        FormatError::ForbiddenGlobal { .. } => "forbidden",
        FormatError::Malformed { .. } => "malformed",
        FormatError::Unsupported { .. } => "unsupported",
        FormatError::UnknownFormat => "unknown",
        _ => "other",
    }
}

#[test]
fn benign_torch_checkpoints_load() {
    let mut seen = 0;
    for entry in manifest() {
        let path = entry["path"].as_str().expect("path");
        if entry["label"] != "benign" || !is_torch_name(path) {
            continue;
        }
        let id = entry["id"].as_str().expect("id");
        let got = Checkpoint::open(corpus().join(path));
        match (benign_expectation(id), got) {
            (Ok(n), Ok(ck)) => {
                assert_eq!(ck.tensors.len(), n, "{id}");
                for t in &ck.tensors {
                    let bytes = ck.tensor_bytes(t).unwrap_or_else(|e| panic!("{id}: {e}"));
                    assert_eq!(bytes.len() as u64, t.byte_len(), "{id} {}", t.name);
                }
            }
            (Err(want), Err(e)) => assert_eq!(kind(&e.source), want, "{id}: {e}"),
            (want, got) => panic!(
                "{id}: expected {want:?}, got {:?}",
                got.map(|c| c.tensors.len())
            ),
        }
        seen += 1;
    }
    assert_eq!(seen, 12);
}

#[test]
fn malicious_torch_files_are_refused() {
    let mut seen = 0;
    for entry in manifest() {
        let path = entry["path"].as_str().expect("path");
        if entry["label"] != "malicious" || !is_torch_name(path) {
            continue;
        }
        let id = entry["id"].as_str().expect("id");
        let file = corpus().join(path);
        assert!(Checkpoint::open(&file).is_err(), "{id} loaded");

        // Hand the bytes straight to the reader the file pretends to be for, bypassing format
        // recognition: it must still refuse, naming the payload's global where it gets that far.
        let bytes = std::fs::read(&file).expect("read");
        let parse = if bytes.starts_with(b"PK") {
            torch::parse_zip
        } else {
            torch::parse_legacy
        };
        let err = match parse(&bytes, &Limits::default()) {
            Ok(p) => panic!("{id} parsed: {} tensors", p.tensors.len()),
            Err(e) => e,
        };
        if let FormatError::ForbiddenGlobal { module, name } = &err {
            let expect: Vec<&str> = entry["expect"]
                .as_array()
                .expect("expect")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(expect, [module.as_str(), name.as_str()], "{id}");
        } else {
            // Only the ambiguous archive and the tar file are refused for another reason.
            assert!(
                matches!(id, "m37_pt_zip_duplicate_data_pkl" | "m42_pt_legacy_tar"),
                "{id}: {err}"
            );
        }
        seen += 1;
    }
    assert_eq!(seen, 12);
}
