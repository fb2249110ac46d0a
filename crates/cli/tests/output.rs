//! What every command prints: `--json` wherever there is a result, messages that name the file
//! written, errors that say each cause once; and `wh convert`'s handling of tied weights and of
//! output names.

mod common;

use std::path::Path;

use common::{code, fixtures, json, ok, stderr, wh};

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Tensor names with their shapes, sorted by name.
type Shapes = Vec<(String, Vec<usize>)>;

/// The tensors of a safetensors file as the reference crate reads them, and its metadata.
fn read_back(file: &Path) -> (Shapes, std::collections::HashMap<String, String>) {
    let bytes = std::fs::read(file).expect("converted file");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors");
    let mut names: Shapes = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.shape().to_vec()))
        .collect();
    names.sort();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).expect("header");
    (names, meta.metadata().clone().unwrap_or_default())
}

#[test]
fn convert_stores_a_tied_weight_once_and_records_the_tie() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("model.safetensors");
    let src = fixtures("torch/tied.pt");
    let run = wh(&["convert", path(&src), path(&out)]);
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let (names, meta) = read_back(&out);
    assert_eq!(
        names,
        vec![
            ("embed.weight".to_string(), vec![5, 4]),
            ("first_row".to_string(), vec![4]),
            ("norm.weight".to_string(), vec![4]),
        ],
        "lm_head.weight shares embed.weight's storage and is stored once; a view of part of it is not a tie"
    );
    assert_eq!(
        meta.get("lm_head.weight").map(String::as_str),
        Some("embed.weight")
    );
    let err = stderr(&run);
    assert!(
        err.contains("lm_head.weight = embed.weight"),
        "the note names the tie: {err}"
    );
    assert!(
        err.contains(path(&out)),
        "the note names the file written: {err}"
    );

    // The same in JSON, on stdout.
    let out2 = dir.path().join("again.safetensors");
    let run = wh(&["convert", "--json", path(&src), path(&out2)]);
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let v = json(&run);
    assert_eq!(v["tensors"], 3);
    assert_eq!(v["files"][0]["path"], path(&out2));
    assert_eq!(v["tied"][0]["name"], "lm_head.weight");
    assert_eq!(v["tied"][0]["stored_as"], "embed.weight");
    assert!(v["index"].is_null());
}

#[test]
fn convert_warns_when_the_output_name_is_not_safetensors() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("model.bin");
    let src = fixtures("reference/formats/mixed.safetensors");
    let run = wh(&["convert", path(&src), path(&out)]);
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let err = stderr(&run);
    assert!(err.contains("warning:") && err.contains(".bin"), "{err}");
    let written = out.join("model.safetensors");
    assert!(
        written.is_file(),
        "a folder named model.bin gets model.safetensors"
    );
    assert!(err.contains(path(&written)), "{err}");
    // A .safetensors name gives no warning.
    let run = wh(&[
        "convert",
        path(&src),
        path(&dir.path().join("x.safetensors")),
    ]);
    assert!(!stderr(&run).contains("warning:"), "{}", stderr(&run));
}

#[test]
fn admin_commands_print_json() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = path(dir.path());
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "admin", "--data", data, "--json", "user", "create", "alice", "--admin",
    ]))
    .expect("json");
    assert_eq!(v["user"], "alice");
    assert_eq!(v["admin"], true);
    assert!(v["token"].as_str().expect("token").starts_with("wh_"));

    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "admin", "--data", data, "token", "create", "alice", "--role", "read", "--json",
    ]))
    .expect("json");
    assert_eq!(v["role"], "read");
    assert!(v["token"].as_str().expect("token").starts_with("wh_"));

    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "--json", "admin", "--data", data, "org", "create", "acme",
    ]))
    .expect("json");
    assert_eq!(v["organization"], "acme");
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "admin",
        "--data",
        data,
        "org",
        "add-member",
        "acme",
        "alice",
        "--role",
        "write",
        "--json",
    ]))
    .expect("json");
    assert_eq!(v["role"], "write");
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["admin", "--data", data, "audit", "verify", "--json"]))
            .expect("json");
    assert_eq!(v["intact"], true);
    assert!(v["count"].as_u64().expect("count") >= 4);
}

/// Every command that prints a result takes `--json` (a global flag), and `--help` lists it.
#[test]
fn every_command_takes_json() {
    let help = ok(&["--help"]);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 12, "{commands:?}");
    for c in commands {
        let h = ok(&[c, "--help"]);
        assert!(h.contains("--json"), "wh {c} --help lacks --json:\n{h}");
    }
}

#[test]
fn license_check_without_a_hub_says_the_parents_are_not_resolved() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("README.md"),
        "---\nlicense: apache-2.0\nbase_model: acme/base\nbase_model_relation: finetune\n---\n# m\n",
    )
    .expect("card");
    let run = wh(&["license", "check", path(dir.path())]);
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        out.contains("could not be resolved") && out.contains("--endpoint"),
        "{out}"
    );
    assert!(!out.contains("declares no licence"), "{out}");
    assert!(out.contains("(not resolved)"), "{out}");
}

/// An error chain names each cause once, even when a message quotes its source.
#[test]
fn errors_say_each_cause_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.safetensors");
    let mut bytes =
        std::fs::read(fixtures("reference/formats/mixed.safetensors")).expect("fixture");
    bytes.truncate(40);
    std::fs::write(&bad, bytes).expect("write");
    for args in [
        vec!["inspect", path(&bad)],
        vec!["convert", path(&bad), path(dir.path())],
        vec!["fingerprint", path(&bad)],
    ] {
        let run = wh(&args);
        assert_eq!(code(&run), 2, "{args:?}: {}", stderr(&run));
        let err = stderr(&run);
        let lines: Vec<&str> = err
            .lines()
            .map(|l| {
                l.trim()
                    .trim_start_matches("error: ")
                    .trim_start_matches("caused by: ")
            })
            .collect();
        for (i, l) in lines.iter().enumerate().skip(1) {
            assert!(
                !lines[..i].iter().any(|earlier| earlier.contains(l)),
                "{args:?} repeats {l:?}:\n{err}"
            );
        }
    }
}

#[test]
fn scan_refuses_json_and_sarif_together() {
    let f = fixtures("reference/formats/mixed.safetensors");
    let run = wh(&["scan", "--json", "--sarif", path(&f)]);
    assert_eq!(code(&run), 2, "{}", stderr(&run));
    assert!(stderr(&run).contains("--sarif"), "{}", stderr(&run));
}
