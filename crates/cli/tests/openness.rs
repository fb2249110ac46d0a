//! `wh openness` on model folders written with the `safetensors` crate, and on a repository
//! served by a minimal hub (listing, files, settings and refs).

mod common;

use common::{ok, wh};

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

use serde_json::{Value, json};

fn weights() -> Vec<u8> {
    let a: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let tensors = vec![(
        "w",
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 3], &a).unwrap(),
    )];
    safetensors::serialize(tensors, None).expect("serialize")
}

fn folder(dir: &Path, front: &str) {
    std::fs::write(
        dir.join("README.md"),
        format!("---\n{front}\n---\n# Tiny\n\n## Model Details\nA tiny model.\n"),
    )
    .unwrap();
    std::fs::write(dir.join("model.safetensors"), weights()).unwrap();
    std::fs::write(
        dir.join("config.json"),
        r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}"#,
    )
    .unwrap();
}

fn openness(dir: &Path) -> Value {
    serde_json::from_str(&ok(&["openness", dir.to_str().unwrap(), "--json"])).expect("json")
}

/// id -> verdict of a criteria list.
fn verdicts(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn verdict(list: &Value, id: &str) -> String {
    verdicts(list)
        .into_iter()
        .find(|(i, _)| i == id)
        .unwrap_or_else(|| panic!("no {id}"))
        .1
}

#[test]
fn apache_folder_is_open_weight() {
    let d = tempfile::tempdir().unwrap();
    folder(d.path(), "license: apache-2.0\nlibrary_name: transformers");
    let r = openness(d.path());
    assert_eq!(r["owd"]["open_weight"], true);
    assert_eq!(r["owd"]["label"], "Open Weight (OWD v0.3)");
    assert_eq!(
        verdicts(&r["owd"]["criteria"]),
        [
            ("OWD-1", "pass"),
            ("OWD-2a", "pass"),
            ("OWD-2b", "pass"),
            ("OWD-2c", "pass"),
            ("OWD-2d", "n/a"),
            ("OWD-3/4", "pass"),
            ("OWD-5/6", "pass"),
            ("OWD-7", "pass"),
            ("OWD-9", "pass"),
            ("OWD-10", "pass"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(r["osaid"]["verdict"], "fail");
    assert_eq!(r["mof"]["class"], Value::Null);
    assert_eq!(
        r["mof"]["components"][1]["name"],
        "Model parameters (Final)"
    );
    assert_eq!(r["mof"]["components"][1]["verdict"], "warn");
    assert_eq!(r["labels"], json!(["Open Weight (OWD v0.3)"]));
}

#[test]
fn llama_folder_is_weights_available() {
    let d = tempfile::tempdir().unwrap();
    folder(d.path(), "license: llama3.1");
    let r = openness(d.path());
    assert_eq!(r["owd"]["open_weight"], false);
    assert_eq!(r["owd"]["label"], "weights available");
    assert_eq!(verdict(&r["owd"]["criteria"], "OWD-1"), "fail");
    assert_eq!(verdict(&r["owd"]["criteria"], "OWD-5/6"), "fail");
}

#[test]
fn broken_weights_fail_owd_2() {
    let d = tempfile::tempdir().unwrap();
    folder(d.path(), "license: apache-2.0");
    // Truncated: the header promises more bytes than the file has.
    let w = weights();
    std::fs::write(d.path().join("model.safetensors"), &w[..w.len() - 4]).unwrap();
    std::fs::write(
        d.path().join("model.safetensors.index.json"),
        r#"{"weight_map": {"w": "model.safetensors", "v": "model-00002-of-00002.safetensors"}}"#,
    )
    .unwrap();
    let r = openness(d.path());
    assert_eq!(verdict(&r["owd"]["criteria"], "OWD-2a"), "fail");
    assert_eq!(verdict(&r["owd"]["criteria"], "OWD-2b"), "fail");
    assert_eq!(r["owd"]["label"], "weights available");
}

#[test]
fn people_get_every_definition_with_evidence() {
    let d = tempfile::tempdir().unwrap();
    folder(d.path(), "license: apache-2.0\nlibrary_name: transformers");
    let text = ok(&["openness", d.path().to_str().unwrap()]);
    for want in [
        "labels: Open Weight (OWD v0.3)",
        "Open Weight Definition v0.3: Open Weight (OWD v0.3)",
        "OWD-2b",
        "model.safetensors: safetensors header parses: 1 tensor (F32 ×1)",
        "Open Source AI Definition 1.0: fail",
        "needs: training code",
        "Model Openness Framework: MOF: unclassified",
        "not met Class III - Open Model",
        "Model parameters (Final) (class III, data)",
        "licence: apache-2.0 (from card): open, not type-appropriate",
        "SEC-001",
    ] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("nope");
    let out = wh(&["openness", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--endpoint"));
    std::fs::write(d.path().join("file"), "x").unwrap();
    let out = wh(&["openness", d.path().join("file").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

/// A hub that answers the four calls `wh openness` makes, for one repository.
fn serve(files: Vec<(&'static str, Vec<u8>)>, gated: Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let (status, body) = if path == "/api/models/acme/tiny" {
                (
                    "200 OK",
                    json!({"id": "acme/tiny", "gated": gated})
                        .to_string()
                        .into_bytes(),
                )
            } else if path.starts_with("/api/models/acme/tiny/tree/main") {
                let list: Vec<Value> = files
                    .iter()
                    .map(|(p, b)| json!({"type": "file", "path": p, "size": b.len()}))
                    .collect();
                ("200 OK", Value::Array(list).to_string().into_bytes())
            } else if path == "/api/models/acme/tiny/refs" {
                let refs =
                    json!({"branches": [{"name": "main"}, {"name": "step1000"}], "tags": []});
                ("200 OK", refs.to_string().into_bytes())
            } else if let Some(p) = path.strip_prefix("/acme/tiny/resolve/main/") {
                match files.iter().find(|(f, _)| *f == p) {
                    Some((_, b)) => ("200 OK", b.clone()),
                    None => ("404 Not Found", b"{}".to_vec()),
                }
            } else {
                ("404 Not Found", b"{}".to_vec())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_repository_on_a_hub() {
    let card = b"---\nlicense: apache-2.0\nlibrary_name: transformers\n---\n# Tiny\n".to_vec();
    let endpoint = serve(
        vec![("README.md", card), ("model.safetensors", weights())],
        json!("manual"),
    );
    let r: Value = serde_json::from_str(&ok(&[
        "openness",
        "acme/tiny",
        "--endpoint",
        &endpoint,
        "--json",
    ]))
    .unwrap();
    assert_eq!(r["repo"], "acme/tiny");
    assert_eq!(r["revision"], "main");
    assert_eq!(verdict(&r["owd"]["criteria"], "OWD-2b"), "pass");
    // Gated, with an allowlisted licence: a warning, still Open Weight.
    assert_eq!(verdict(&r["owd"]["criteria"], "OWD-7"), "warn");
    assert_eq!(r["owd"]["open_weight"], true);
    // The step1000 branch is an intermediate checkpoint.
    let inter = r["mof"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Model parameters (Intermediate)")
        .unwrap()
        .clone();
    assert_eq!(inter["present"], true, "{inter:#}");
}

#[test]
fn branches_of_a_local_checkout_count_as_intermediate_checkpoints() {
    let d = tempfile::tempdir().unwrap();
    folder(d.path(), "license: apache-2.0");
    std::fs::create_dir_all(d.path().join(".git/refs/heads")).unwrap();
    std::fs::write(d.path().join(".git/refs/heads/main"), "0000\n").unwrap();
    std::fs::write(
        d.path().join(".git/packed-refs"),
        "# pack-refs with: peeled fully-peeled sorted\n1111 refs/heads/step1000-tokens4B\n",
    )
    .unwrap();
    let r = openness(d.path());
    let inter = r["mof"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Model parameters (Intermediate)")
        .unwrap()
        .clone();
    assert_eq!(inter["present"], true, "{inter:#}");
    assert!(
        inter["evidence"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("step1000-tokens4B")
    );
}
