//! The lint's tests: a good card, each rule firing alone, and the rules that read the files.

use super::*;
use crate::files::{Files, MemFiles};

pub(crate) const GOOD: &str = "---
license: apache-2.0
library_name: transformers
pipeline_tag: text-generation
language: [en, fr]
datasets: [acme/corpus]
co2_eq_emissions: 120
model-index:
- name: tiny
  results:
  - task: {type: text-generation}
    dataset: {type: acme/bench, name: Bench, config: default, split: test}
    metrics:
    - {type: accuracy, value: 0.5}
    source: {name: logs, url: https://example.org/logs}
---
# Tiny

## Model Details
Small.
## Uses
Chat.
### Out-of-Scope Use
None.
## Bias, Risks, and Limitations
Some.
## How to Get Started with the Model
```
# load it
```
## Training Details
### Training Data
Text.
## Evaluation
Good.
## Environmental Impact
Low.
";

fn folder(card: &str) -> MemFiles {
    let mut f = MemFiles::new();
    f.add("README.md", card)
        .add("config.json", "{}")
        .add("LICENSE", "Apache License\nVersion 2.0, January 2004\n")
        .add("model.safetensors", "x");
    f
}

fn run(card: &str, files: Option<&MemFiles>) -> Report {
    let opts = Options {
        files: files.map(|f| f as &dyn Files),
        ..Options::default()
    };
    lint(&Card::parse(card), &opts)
}

/// The rules that fired, leaving out the note that parents were not resolved (every card
/// with a base_model gets it when linted without parents).
fn rules(r: &Report) -> Vec<(&'static str, Severity)> {
    r.findings
        .iter()
        .map(|f| (f.rule, f.severity))
        .filter(|&r| r != ("LIC-001", Severity::Info))
        .collect()
}

#[test]
fn a_good_card_has_no_findings() {
    let f = folder(GOOD);
    let r = run(GOOD, Some(&f));
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert!(r.passes());
}

/// Each rule violated once: the card with `from` replaced by `to` gives exactly `rule`.
#[test]
fn each_rule_fires_alone() {
    let cases: &[(&str, &str, &str, Severity)] = &[
        (
            "license: apache-2.0\n",
            "license: apache-2.0\ntags: [a\n",
            "META-001",
            Severity::Error,
        ),
        (
            "license: apache-2.0\n",
            "license: Apache 2\n",
            "META-002",
            Severity::Error,
        ),
        (
            "license: apache-2.0\n",
            "license: other\nlicense_link: LICENSE\n",
            "META-003",
            Severity::Error,
        ),
        (
            "license: apache-2.0\n",
            "license: other\nlicense_name: My License\nlicense_link: LICENSE\n",
            "META-003",
            Severity::Error,
        ),
        (
            "license: apache-2.0\n",
            "license: mit\n",
            "META-004",
            Severity::Policy,
        ),
        (
            "datasets: [acme/corpus]\n",
            "datasets: [acme/corpus]\nbase_model: /home/me/llama\nbase_model_revision: 0123456789abcdef0123456789abcdef01234567\n",
            "META-005",
            Severity::Error,
        ),
        (
            "datasets: [acme/corpus]\n",
            "datasets: [acme/corpus]\nbase_model: acme/base\nbase_model_revision: 0123456789abcdef0123456789abcdef01234567\nbase_model_relation: tuned\n",
            "META-006",
            Severity::Error,
        ),
        (
            "datasets: [acme/corpus]\n",
            "datasets: [/var/data/images/]\n",
            "META-007",
            Severity::Error,
        ),
        (
            "language: [en, fr]\n",
            "language: [en, english]\n",
            "META-008",
            Severity::Warning,
        ),
        (
            "pipeline_tag: text-generation\n",
            "pipeline_tag: text-wizardry\n",
            "META-009",
            Severity::Warning,
        ),
        ("config: default", "config: 3", "META-010", Severity::Error),
        (
            "    - {type: accuracy, value: 0.5}\n",
            "    - {type: accuracy}\n",
            "META-010",
            Severity::Error,
        ),
        (
            "source: {name: logs, url: https://example.org/logs}",
            "source: {name: logs}",
            "META-010",
            Severity::Error,
        ),
        (
            "co2_eq_emissions: 120\n",
            "co2_eq_emissions: 120\nwidget: {text: hi}\n",
            "META-011",
            Severity::Error,
        ),
        (
            "co2_eq_emissions: 120\n",
            "co2_eq_emissions: 120\nextra_gated_fields: {Company: radio}\n",
            "META-011",
            Severity::Error,
        ),
        (
            "### Out-of-Scope Use\n",
            "### Misuse\n",
            "CARD-001",
            Severity::Warning,
        ),
        (
            "Low.\n",
            "[More Information Needed]\n",
            "CARD-002",
            Severity::Warning,
        ),
        ("co2_eq_emissions: 120\n", "", "CARD-003", Severity::Info),
        (
            "datasets: [acme/corpus]\n",
            "datasets: [acme/corpus]\nbase_model: acme/base\n",
            "PROV-001",
            Severity::Warning,
        ),
    ];
    for (from, to, rule, sev) in cases {
        assert!(GOOD.contains(from), "{from}");
        let card = GOOD.replacen(from, to, 1);
        let f = folder(&card);
        let r = run(&card, Some(&f));
        assert_eq!(rules(&r), [(*rule, *sev)], "{rule}: {:#?}", r.findings);
        let finding = &r.findings[0];
        assert!(
            finding.line.is_some() || *rule == "META-010",
            "{rule} has a line"
        );
        assert_eq!(r.passes(), *sev != Severity::Error);
    }
}

#[test]
fn license_errors_use_the_hub_wording_and_lines() {
    let card = GOOD.replace("license: apache-2.0", "license: MIT");
    let r = run(&card, None);
    let f = &r.findings[0];
    assert!(
        f.message
            .starts_with("\"license\" must be one of [apache-2.0, mit,"),
        "{}",
        f.message
    );
    assert!(f.message.contains("other, array]") && f.message.contains("lowercase: mit"));
    assert_eq!(f.line, Some(2));
    let card = GOOD.replace("license: apache-2.0", "license: [mit, Apache]");
    assert!(
        run(&card, None).findings[0]
            .message
            .starts_with("\"license[1]\" must be one of")
    );
}

#[test]
fn model_index_errors_point_at_their_line() {
    let card = GOOD.replace("config: default", "config: 3");
    let r = run(&card, None);
    let f = &r.findings[0];
    assert_eq!(
        f.message,
        "\"model-index[0].results[0].dataset.config\" must be a string"
    );
    assert_eq!(f.line, Some(12));
    let card = GOOD.replace("- name: tiny\n", "- results0: x\n");
    assert!(!run(&card, None).passes());
}

#[test]
fn relation_consistency_with_files() {
    let card = GOOD.replace(
        "datasets: [acme/corpus]\n",
        "datasets: [acme/corpus]\nbase_model: acme/base\nbase_model_revision: 0123456789abcdef0123456789abcdef01234567\nbase_model_relation: adapter\n",
    );
    let f = folder(&card);
    let r = run(&card, Some(&f));
    assert_eq!(rules(&r), [("META-006", Severity::Error)]);
    let mut f = folder(&card);
    f.add(
        "adapter_config.json",
        r#"{"base_model_name_or_path": "other/base"}"#,
    );
    assert_eq!(
        rules(&run(&card, Some(&f))),
        [("PROV-003", Severity::Warning)]
    );
    let merge = card.replace("adapter", "merge");
    let f = folder(&merge);
    let r = run(&merge, Some(&f));
    assert!(rules(&r).contains(&("META-006", Severity::Error)));
    assert!(rules(&r).contains(&("PROV-004", Severity::Warning)));
}

/// A GGUF file with string key-values and no tensors.
fn gguf(kvs: &[(&str, &str)]) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&(kvs.len() as u64).to_le_bytes());
    for (k, v) in kvs {
        b.extend_from_slice(&(k.len() as u64).to_le_bytes());
        b.extend_from_slice(k.as_bytes());
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&(v.len() as u64).to_le_bytes());
        b.extend_from_slice(v.as_bytes());
    }
    b
}

#[test]
fn gguf_metadata_agrees_with_the_card() {
    let card = GOOD.replace(
        "datasets: [acme/corpus]\n",
        "datasets: [acme/corpus]\nbase_model: acme/base\nbase_model_revision: 0123456789abcdef0123456789abcdef01234567\n",
    );
    let mut f = folder(&card);
    f.add(
        "m.gguf",
        gguf(&[
            ("general.license", "Apache-2.0"),
            (
                "general.base_model.0.repo_url",
                "https://huggingface.co/acme/base",
            ),
        ]),
    );
    let mut f2 = f.clone();
    assert!(
        rules(&run(&card, Some(&f))).is_empty(),
        "{:#?}",
        run(&card, Some(&f)).findings
    );
    f.add("m.gguf", gguf(&[("general.license", "mit")]));
    assert_eq!(
        rules(&run(&card, Some(&f))),
        [("LIC-008", Severity::Warning)]
    );
    f2.add(
        "m.gguf",
        gguf(&[(
            "general.base_model.0.repo_url",
            "https://huggingface.co/other/model",
        )]),
    );
    assert_eq!(
        rules(&run(&card, Some(&f2))),
        [("LIC-008", Severity::Warning)]
    );
}

/// A safetensors file of one F32 tensor of `rows` x 1000, listed with its full size but
/// holding only its header (as on a hub).
fn big_weights(files: &mut MemFiles, rows: u64) {
    let n = rows * 1000 * 4;
    let mut header =
        format!(r#"{{"w":{{"dtype":"F32","shape":[{rows},1000],"data_offsets":[0,{n}]}}}}"#)
            .into_bytes();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut prefix = (header.len() as u64).to_le_bytes().to_vec();
    prefix.extend_from_slice(&header);
    let size = prefix.len() as u64 + n;
    files.add_listed("model.safetensors", size, Some(prefix));
}

#[test]
fn eu_ai_act_rules() {
    // A generative model of a billion parameters without a gpai block.
    let f = {
        let mut f = folder(GOOD);
        big_weights(&mut f, 1_000_000);
        f
    };
    assert_eq!(rules(&run(GOOD, Some(&f))), [("EU-01", Severity::Warning)]);
    let mut small = folder(GOOD);
    big_weights(&mut small, 1000);
    assert!(rules(&run(GOOD, Some(&small))).is_empty());

    // A GPAI provider: the copyright policy and training-content summary are always due, the
    // technical documents unless exempt.
    let gpai = GOOD.replace(
        "co2_eq_emissions: 120\n",
        "co2_eq_emissions: 120\ngpai:\n  is_gpai: true\n  training_compute_flop: 2e24\n  provider_country: US\n  eu_placed_on_market_date: '2025-03-01'\n",
    );
    let f = folder(&gpai);
    let r: Vec<_> = rules(&run(&gpai, Some(&f)));
    assert_eq!(
        r,
        [
            ("EU-03", Severity::Policy),
            ("EU-04", Severity::Policy),
            ("EU-05", Severity::Policy),
            ("EU-06", Severity::Policy),
            ("EU-07", Severity::Warning),
            ("EU-09", Severity::Info),
        ],
        "{r:?}"
    );
    let mut f = folder(&gpai);
    f.add(
        "docs/copyright-policy.md",
        "We honour robots.txt and other machine-readable opt-outs.",
    )
    .add("docs/training-content-summary.md", "Summary.")
    .add("docs/technical-documentation.md", "Annex XI.")
    .add("docs/downstream-info.md", "Annex XII.");
    let with_rep = gpai.replace(
        "provider_country: US\n",
        "provider_country: US\n  eu_authorised_representative: Acme EU\n",
    );
    assert_eq!(
        rules(&run(&with_rep, Some(&f))),
        [("EU-09", Severity::Info)]
    );
    // A copyright policy that says nothing of text-and-data-mining reservations.
    f.add("docs/copyright-policy.md", "We respect copyright.");
    assert!(rules(&run(&with_rep, Some(&f))).contains(&("EU-03", Severity::Policy)));
    // The open-source exemption needs an open licence, and waives Annex XI/XII.
    let claims = with_rep.replace(
        "is_gpai: true\n",
        "is_gpai: true\n  claims_foss_exemption: true\n",
    );
    f.add(
        "docs/copyright-policy.md",
        "Text and data mining opt-outs are honoured.",
    );
    f.remove("docs/technical-documentation.md");
    assert_eq!(rules(&run(&claims, Some(&f))), [("EU-09", Severity::Info)]);
    let llama = claims.replace("license: apache-2.0", "license: llama3.1");
    let r = rules(&run(&llama, Some(&f)));
    assert!(
        r.contains(&("EU-02", Severity::Policy)) && r.contains(&("EU-05", Severity::Policy)),
        "{r:?}"
    );
    // Compute of 1e25 or more presumes systemic risk.
    let systemic = with_rep.replace("2e24", "3e25");
    assert!(rules(&run(&systemic, Some(&f))).contains(&("EU-01", Severity::Warning)));
}

#[test]
fn quantised_signed_and_gated_cards() {
    let mut f = folder(GOOD);
    f.add(
        "config.json",
        r#"{"quantization_config": {"quant_method": "gptq"}}"#,
    );
    assert_eq!(
        rules(&run(GOOD, Some(&f))),
        [("PROV-002", Severity::Policy)]
    );
    let mut f = folder(GOOD);
    f.add("model.sig", "{}");
    assert_eq!(rules(&run(GOOD, Some(&f))), [("PROV-005", Severity::Info)]);
    let gated = GOOD.replace(
        "co2_eq_emissions: 120\n",
        "co2_eq_emissions: 120\ntags: [open-weight]\nextra_gated_prompt: Agree.\n",
    );
    let f = folder(&gated);
    assert_eq!(
        rules(&run(&gated, Some(&f))),
        [("GATE-001", Severity::Warning)]
    );
}

#[test]
fn licence_rules_run_on_resolved_parents() {
    use crate::derive::Parent;
    let card = GOOD.replace(
        "datasets: [acme/corpus]\n",
        "datasets: [acme/corpus]\nbase_model: [lab/nc, corp/apache]\nbase_model_revision: 0123456789abcdef0123456789abcdef01234567\nbase_model_relation: merge\n",
    );
    let mut f = folder(&card);
    f.add("mergekit_config.yml", "merge_method: linear");
    let parents = [
        Parent {
            id: "lab/nc".into(),
            license: Some("cc-by-nc-4.0".into()),
            ..Parent::default()
        },
        Parent {
            id: "corp/apache".into(),
            license: Some("apache-2.0".into()),
            ..Parent::default()
        },
    ];
    let opts = Options {
        files: Some(&f),
        parents: Some(&parents),
        ..Options::default()
    };
    let r = lint(&Card::parse(&card), &opts);
    let lic: Vec<_> = r
        .findings
        .iter()
        .filter(|x| x.rule.starts_with("LIC"))
        .map(|x| (x.rule, x.severity))
        .collect();
    assert!(
        lic.contains(&("LIC-001", Severity::Policy)),
        "{:#?}",
        r.findings
    );
    assert!(
        r.findings
            .iter()
            .any(|x| x.message.contains("non-commercial"))
    );
    // Without parents, only a note.
    let r = run(&card, Some(&f));
    assert!(
        r.findings
            .iter()
            .any(|x| x.rule == "LIC-001" && x.severity == Severity::Info)
    );
    assert!(
        !r.findings
            .iter()
            .any(|x| x.rule == "LIC-001" && x.severity == Severity::Policy)
    );
}

#[test]
fn metadata_mode_is_lenient_where_the_hub_is() {
    let opts = Options {
        mode: Mode::Metadata,
        ..Options::default()
    };
    let r = lint(&Card::parse("# no metadata\n"), &opts);
    assert!(r.passes() && r.warnings == 1);
    let r = lint(&Card::parse("---\ntags: [a]\n---\n# x\n"), &opts);
    assert!(r.passes());
    let r = lint(&Card::parse("---\nlicense: nope\n---\n"), &opts);
    assert!(!r.passes());
    let full = lint(&Card::parse("# no metadata\n"), &Options::default());
    assert!(!full.passes());
}

#[test]
fn detects_licence_texts() {
    assert_eq!(
        detect_license(
            "MIT License\n\nPermission is hereby granted, free of charge, to any person"
        ),
        Some("mit")
    );
    assert_eq!(
        detect_license("LLAMA 3.1 COMMUNITY LICENSE AGREEMENT"),
        Some("llama3.1")
    );
    assert_eq!(
        detect_license("Creative Commons Attribution-NonCommercial 4.0 International"),
        Some("cc-by-nc-4.0")
    );
    assert_eq!(detect_license("hello"), None);
}

#[test]
fn repo_ids() {
    for ok in ["gpt2", "acme/model-1.5", "a_b/c.d"] {
        assert!(is_repo_id(ok), "{ok}");
    }
    for bad in [
        "/abs", "./x", "a/b/c", "a/../b", "..", "", "a b", "~/x", "C:\\x",
    ] {
        assert!(!is_repo_id(bad), "{bad}");
    }
}
