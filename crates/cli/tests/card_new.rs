//! `wh card new` on a model folder written with the `safetensors` crate: the card's front
//! matter, sections and the facts read from the weights and `config.json`.

mod common;

use common::{ok, wh};

use std::path::Path;

use serde_json::Value;
use weighhouse_card::{Card, lint};

/// A model folder: one F32 [2, 3] and one BF16 [4] tensor, and a Llama-style config.json.
fn model_folder(dir: &Path) {
    let a: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let b: Vec<u8> = (0..4)
        .flat_map(|i| half::bf16::from_f32(i as f32).to_le_bytes())
        .collect();
    let tensors = vec![
        (
            "model.embed_tokens.weight",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 3], &a).unwrap(),
        ),
        (
            "model.norm.weight",
            safetensors::tensor::TensorView::new(safetensors::Dtype::BF16, vec![4], &b).unwrap(),
        ),
    ];
    let bytes = safetensors::serialize(tensors, None).expect("serialize");
    std::fs::write(dir.join("model.safetensors"), bytes).unwrap();
    std::fs::write(
        dir.join("config.json"),
        r#"{
  "_name_or_path": "acme/base-tiny",
  "architectures": ["LlamaForCausalLM"],
  "model_type": "llama",
  "hidden_size": 8,
  "num_hidden_layers": 2,
  "num_attention_heads": 2,
  "vocab_size": 32,
  "max_position_embeddings": 64,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.44.0"
}"#,
    )
    .unwrap();
}

#[test]
fn writes_a_card_with_the_sections_and_the_weights_facts() {
    let d = tempfile::tempdir().unwrap();
    model_folder(d.path());
    let dir = d.path().to_str().unwrap();
    let out: Value = serde_json::from_str(&ok(&[
        "card",
        "new",
        dir,
        "--license",
        "apache-2.0",
        "--json",
    ]))
    .expect("json");
    let readme = d.path().join("README.md");
    assert_eq!(out["path"], readme.display().to_string());
    assert_eq!(out["facts"]["parameters"], 10);
    assert_eq!(out["facts"]["tensors"], 2);
    assert_eq!(out["facts"]["dtypes"]["BF16"], 1);
    assert_eq!(out["facts"]["weights"][0]["path"], "model.safetensors");
    assert!(
        out["facts"]["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("wfp1:")
    );
    assert_eq!(out["lint"]["errors"], 0);

    let text = std::fs::read_to_string(&readme).unwrap();
    let card = Card::parse(&text);
    let front = card
        .front
        .as_ref()
        .expect("front matter parses")
        .as_ref()
        .expect("has front matter");
    assert_eq!(front["license"], "apache-2.0");
    assert_eq!(front["library_name"], "transformers");
    assert_eq!(front["pipeline_tag"], "text-generation");
    assert_eq!(front["base_model"], "acme/base-tiny");
    assert_eq!(front["tags"], serde_json::json!(["safetensors", "llama"]));
    for h in [
        "Model Details",
        "Model Description",
        "Model Sources",
        "Uses",
        "Direct Use",
        "Downstream Use",
        "Out-of-Scope Use",
        "Bias, Risks, and Limitations",
        "How to Get Started with the Model",
        "Training Details",
        "Training Data",
        "Training Procedure",
        "Evaluation",
        "Environmental Impact",
        "Technical Specifications",
        "Citation",
        "Model Card Contact",
    ] {
        assert!(card.headings.iter().any(|x| x.text == h), "no section {h}");
    }
    assert!(text.contains("- **Parameters:** 10 (10)"), "{text}");
    assert!(text.contains("- **Dtypes:** BF16 (1), F32 (1)"));
    assert!(text.contains("- **torch_dtype:** bfloat16"));
    assert!(text.contains("- **Layers:** 2"));
    assert!(text.contains("- **Context length (max_position_embeddings):** 64"));
    assert!(text.contains(out["facts"]["fingerprint"].as_str().unwrap()));
    assert!(text.contains("[More Information Needed]"));

    let report = lint::lint(&card, &lint::Options::default());
    assert!(report.passes(), "{:#?}", report.findings);
}

#[test]
fn refuses_to_overwrite_without_force() {
    let d = tempfile::tempdir().unwrap();
    model_folder(d.path());
    let readme = d.path().join("README.md");
    std::fs::write(&readme, "# mine\n").unwrap();
    let dir = d.path().to_str().unwrap();

    let out = wh(&["card", "new", dir, "--license", "mit"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), "# mine\n");

    let out: Value = serde_json::from_str(&ok(&[
        "card",
        "new",
        dir,
        "--license",
        "mit",
        "--force",
        "--no-fingerprint",
        "--json",
    ]))
    .unwrap();
    assert!(out["facts"].get("fingerprint").is_none());
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(text.starts_with("---\nlicense: mit\n"), "{text}");
    // Nothing left beside it.
    let names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");

    // --output writes elsewhere.
    let other = d.path().join("CARD.md");
    ok(&[
        "card",
        "new",
        dir,
        "-o",
        other.to_str().unwrap(),
        "--no-fingerprint",
    ]);
    assert!(other.exists());
}

#[test]
fn licence_from_the_licence_file_or_none() {
    let d = tempfile::tempdir().unwrap();
    model_folder(d.path());
    let dir = d.path().to_str().unwrap();
    let out: Value =
        serde_json::from_str(&ok(&["card", "new", dir, "--no-fingerprint", "--json"])).unwrap();
    assert!(out["facts"].get("license").is_none());
    assert!(out["lint"]["errors"].as_u64().unwrap() >= 1);
    let text = std::fs::read_to_string(d.path().join("README.md")).unwrap();
    assert!(text.contains("# license:"));

    std::fs::write(
        d.path().join("LICENSE"),
        "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy",
    )
    .unwrap();
    let out: Value = serde_json::from_str(&ok(&[
        "card",
        "new",
        dir,
        "--force",
        "--no-fingerprint",
        "--json",
    ]))
    .unwrap();
    assert_eq!(out["facts"]["license"], "mit");
}

#[test]
fn usage_errors_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("nope");
    assert_eq!(
        wh(&["card", "new", missing.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    model_folder(d.path());
    let out = wh(&[
        "card",
        "new",
        d.path().to_str().unwrap(),
        "--license",
        "Apache-2.0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lowercase"));
    assert!(!d.path().join("README.md").exists());
}
