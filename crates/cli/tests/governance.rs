//! `wh card lint` and `wh license check` end to end, on model folders written here.

mod common;

use common::{code, json, stdout, wh};

use std::path::Path;

const CARD: &str = "---
license: apache-2.0
library_name: transformers
pipeline_tag: text-generation
language: en
co2_eq_emissions: 10
---
# Tiny

## Model Details
A model.
## Uses
Chat.
### Out-of-Scope Use
Anything else.
## Bias, Risks, and Limitations
Many.
## How to Get Started with the Model
Load it.
## Training Details
### Training Data
Text.
## Evaluation
Fine.
## Environmental Impact
Small.
";

fn model(dir: &Path, card: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("README.md"), card).unwrap();
    std::fs::write(
        dir.join("LICENSE"),
        "Apache License\nVersion 2.0, January 2004\n",
    )
    .unwrap();
    std::fs::write(dir.join("config.json"), "{}").unwrap();
}

#[test]
fn card_lint_exit_codes_lines_and_json() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    model(&m, CARD);
    let out = wh(&["card", "lint", m.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(stdout(&out), "");

    // An unknown licence: exit 1, the Hub's wording, the line.
    model(&m, &CARD.replace("license: apache-2.0", "license: apache2"));
    let out = wh(&["card", "lint", m.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(
        text.contains("README.md:2: error META-002 \"license\" must be one of [apache-2.0, mit,"),
        "{text}"
    );

    let out = wh(&["card", "lint", m.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["passes"], false);
    assert_eq!(v["errors"], 1);
    assert_eq!(v["findings"][0]["rule"], "META-002");
    assert_eq!(v["findings"][0]["severity"], "error");
    assert_eq!(v["findings"][0]["line"], 2);

    // Malformed YAML.
    model(&m, &CARD.replace("language: en", "language: [en"));
    let out = wh(&[
        "card",
        "lint",
        m.join("README.md").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["findings"][0]["rule"], "META-001");

    // `other` without license_name; a bad base_model; a bad model-index.
    for (from, to, rule) in [
        (
            "license: apache-2.0",
            "license: other\nlicense_link: LICENSE",
            "META-003",
        ),
        (
            "language: en",
            "language: en\nbase_model: ../llama",
            "META-005",
        ),
        (
            "language: en",
            "language: en\nmodel-index:\n- name: x\n  results:\n  - task: {type: t}\n    dataset: {name: d}\n    metrics: []",
            "META-010",
        ),
    ] {
        model(&m, &CARD.replace(from, to));
        let out = wh(&["card", "lint", m.to_str().unwrap(), "--json"]);
        assert_eq!(code(&out), 1, "{rule}");
        let v = json(&out);
        let rules: Vec<&str> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "error")
            .map(|f| f["rule"].as_str().unwrap())
            .collect();
        assert_eq!(rules, [rule], "{v}");
    }

    // Warnings alone keep exit 0.
    model(&m, &CARD.replace("## Environmental Impact\nSmall.\n", ""));
    let out = wh(&["card", "lint", m.to_str().unwrap()]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("warning CARD-001 section \"Environmental Impact\" is missing"));

    // Usage errors: exit 2.
    assert_eq!(
        code(&wh(&[
            "card",
            "lint",
            d.path().join("nope").to_str().unwrap()
        ])),
        2
    );
    assert_eq!(code(&wh(&["card", "lint"])), 2);
}

fn derived(dir: &Path, license: &str, bases: &[&str], relation: &str) {
    let mut card = format!("---\nlicense: {license}\nbase_model:\n");
    for b in bases {
        card.push_str(&format!("- {b}\n"));
    }
    card.push_str(&format!("base_model_relation: {relation}\n---\n# Model\n"));
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("README.md"), card).unwrap();
}

fn parent(root: &Path, id: &str, license: &str) {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("README.md"),
        format!("---\nlicense: {license}\n---\n# {id}\n"),
    )
    .unwrap();
}

#[test]
fn license_check_of_a_merge_of_nc_and_apache() {
    let d = tempfile::tempdir().unwrap();
    let parents = d.path().join("parents");
    parent(&parents, "lab/nc-model", "cc-by-nc-4.0");
    parent(&parents, "corp/apache-model", "apache-2.0");
    let child = d.path().join("merged");
    derived(
        &child,
        "apache-2.0",
        &["lab/nc-model", "corp/apache-model"],
        "merge",
    );
    let args = |extra: &[&str]| {
        let mut a = vec![
            "license",
            "check",
            child.to_str().unwrap(),
            "--parents-dir",
            parents.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        wh(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = run(&[]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("error LIC-001 [lab/nc-model: non-commercial]"),
        "{text}"
    );
    assert!(text.contains("verdict: NOT allowed"));
    let v = json(&run(&["--json"]));
    assert_eq!(v["verdict"], "not-allowed");
    assert_eq!(v["recommended"], "cc-by-nc-4.0");
    assert!(
        v["allowed"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l.as_str().unwrap().contains("-nc"))
    );
    assert_eq!(v["parents"][0]["license"], "cc-by-nc-4.0");

    derived(
        &child,
        "cc-by-nc-4.0",
        &["lab/nc-model", "corp/apache-model"],
        "merge",
    );
    let out = run(&[]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("verdict: allowed"));
    // The attribution duty is unmet: --strict fails on it.
    assert_eq!(code(&run(&["--strict"])), 1);

    // --parent overrides, and names must match the card.
    let out = wh(&[
        "license",
        "check",
        child.to_str().unwrap(),
        "--parent",
        "lab/nc-model=cc-by-nc-4.0",
        "--parent",
        "corp/apache-model=mit",
    ]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(
        code(&wh(&[
            "license",
            "check",
            child.to_str().unwrap(),
            "--parent",
            "nobody/x=mit"
        ])),
        2
    );
    assert_eq!(
        code(&wh(&[
            "license",
            "check",
            child.to_str().unwrap(),
            "--parent",
            "broken"
        ])),
        2
    );
    // Without any way to resolve parents, the licence cannot be determined.
    let out = wh(&["license", "check", child.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("cannot determine the licence of lab/nc-model"));
}

#[test]
fn license_check_of_llama_and_no_derivatives() {
    let d = tempfile::tempdir().unwrap();
    let parents = d.path().join("parents");
    parent(&parents, "meta-llama/Llama-3.1-8B", "llama3.1");
    parent(&parents, "lab/nd", "cc-by-nd-4.0");
    let p = parents.to_str().unwrap();

    let child = d.path().join("SuperChat-8B");
    derived(&child, "llama3.1", &["meta-llama/Llama-3.1-8B"], "finetune");
    let out = wh(&[
        "license",
        "check",
        child.to_str().unwrap(),
        "--parents-dir",
        p,
    ]);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("[meta-llama/Llama-3.1-8B: naming]"),
        "{}",
        stdout(&out)
    );
    let out = wh(&[
        "license",
        "check",
        child.to_str().unwrap(),
        "--parents-dir",
        p,
        "--name",
        "acme/Llama-3.1-SuperChat-8B",
    ]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("[missing] display \"Built with Llama\""));

    let q = d.path().join("quant");
    derived(&q, "cc-by-nd-4.0", &["lab/nd"], "quantized");
    let out = wh(&[
        "license",
        "check",
        q.to_str().unwrap(),
        "--parents-dir",
        p,
        "--json",
    ]);
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["findings"][0]["term"], "no-derivatives");
    assert_eq!(v["allowed"], serde_json::json!([]));
}
