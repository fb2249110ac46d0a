use super::headers::tests::{gguf_file, st};
use super::names::{is_checkpoint_dir, is_step_ref, quant_in_name, shows_quant};
use super::owd::failed_criteria;
use super::*;
use crate::files::MemFiles;

const CONFIG: &str = r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "transformers_version": "4.44.0"}"#;

fn card(front: &str, body: &str) -> String {
    format!("---\n{front}\n---\n# Model\n\n{body}")
}

/// A repository with a card, config.json and one safetensors file.
fn base(front: &str, body: &str) -> MemFiles {
    let mut m = MemFiles::new();
    m.add("README.md", card(front, body));
    m.add("config.json", CONFIG);
    m.add("model.safetensors", st(&[("w", &[4, 4]), ("b", &[4])]));
    m
}

fn run(files: &MemFiles) -> Report {
    evaluate(files, &Context::default())
}

fn crit<'a>(list: &'a [Criterion], id: &str) -> &'a Criterion {
    list.iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no criterion {id}"))
}

fn comp<'a>(r: &'a Report, name: &str) -> &'a Component {
    r.mof
        .components
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

fn verdicts(list: &[Criterion]) -> Vec<(&str, Verdict)> {
    list.iter().map(|c| (c.id.as_str(), c.verdict)).collect()
}

#[test]
fn apache_weights_without_training_code() {
    let r = run(&base(
        "license: apache-2.0\nlibrary_name: transformers",
        "## Model Details\nA small model.",
    ));
    assert!(r.owd.open_weight, "{:#?}", verdicts(&r.owd.criteria));
    assert_eq!(r.owd.label, "Open Weight (OWD v0.3)");
    assert_eq!(r.labels, ["Open Weight (OWD v0.3)"]);
    for id in [
        "OWD-1", "OWD-2a", "OWD-2b", "OWD-2c", "OWD-3/4", "OWD-5/6", "OWD-7", "OWD-9", "OWD-10",
    ] {
        assert_eq!(crit(&r.owd.criteria, id).verdict, Verdict::Pass, "{id}");
    }
    assert_eq!(
        crit(&r.owd.criteria, "OWD-2d").verdict,
        Verdict::NotApplicable
    );
    let b = crit(&r.owd.criteria, "OWD-2b");
    assert!(
        b.evidence[0].detail.contains("2 tensors"),
        "{:?}",
        b.evidence
    );

    assert_eq!(r.osaid.verdict, Verdict::Fail);
    assert_eq!(crit(&r.osaid.criteria, "OSAID-P").verdict, Verdict::Pass);
    assert_eq!(crit(&r.osaid.criteria, "OSAID-C1").verdict, Verdict::Fail);
    assert_eq!(crit(&r.osaid.criteria, "OSAID-C3").verdict, Verdict::Pass);
    assert!(r.osaid.summary.contains("OSAID-C1"));

    assert_eq!(r.mof.class, None);
    assert_eq!(r.mof.label, "MOF: unclassified");
    let w = comp(&r, "Model parameters (Final)");
    assert!(w.present);
    assert_eq!(w.verdict, Verdict::Warn);
    assert_eq!(w.license_status, LicenseStatus::OpenNotTypeAppropriate);
    assert_eq!(w.license.as_deref(), Some("apache-2.0"));
    assert!(r.mof.not_type_appropriate.contains(&w.name));
    let a = comp(&r, "Model architecture");
    assert_eq!(a.verdict, Verdict::Pass, "{a:#?}");
    assert_eq!(a.license_source.as_deref(), Some("library"));
    assert!(r.mof.missing.contains(&"Training code".to_string()));
    assert!(r.mof.missing.contains(&"Model card".to_string()));
    assert_eq!(crit(&r.findings, "SEC-001").verdict, Verdict::Pass);
}

#[test]
fn llama_licences_are_weights_available() {
    let r = run(&base("license: llama3.1", ""));
    assert!(!r.owd.open_weight);
    assert_eq!(r.owd.label, "weights available");
    assert_eq!(crit(&r.owd.criteria, "OWD-1").verdict, Verdict::Fail);
    let d = crit(&r.owd.criteria, "OWD-5/6");
    assert_eq!(d.verdict, Verdict::Fail);
    assert!(d.evidence[0].detail.contains("AUP"), "{:?}", d.evidence);
    assert_eq!(crit(&r.owd.criteria, "OWD-3/4").verdict, Verdict::Pass);
    // Llama 3.1 dropped the clause on improving other models; Llama 3 has it.
    assert_eq!(crit(&r.owd.criteria, "OWD-9").verdict, Verdict::Pass);
    let r3 = run(&base("license: llama3", ""));
    assert_eq!(crit(&r3.owd.criteria, "OWD-9").verdict, Verdict::Fail);
    assert_eq!(crit(&r.osaid.criteria, "OSAID-P").verdict, Verdict::Fail);
    let w = comp(&r, "Model parameters (Final)");
    assert_eq!(w.license_status, LicenseStatus::Invalid);
    assert!(r.mof.invalid.contains(&w.name));
}

#[test]
fn gating_warns_for_allowlisted_and_fails_otherwise() {
    let gated = Context {
        gated: Some(true),
        ..Context::default()
    };
    let r = evaluate(&base("license: apache-2.0", ""), &gated);
    assert_eq!(crit(&r.owd.criteria, "OWD-7").verdict, Verdict::Warn);
    assert_eq!(crit(&r.owd.criteria, "OWD-10").verdict, Verdict::Warn);
    assert!(r.owd.open_weight);

    let r = evaluate(&base("license: llama3.1", ""), &gated);
    assert_eq!(crit(&r.owd.criteria, "OWD-7").verdict, Verdict::Fail);

    // An agreement to click through needs a person.
    let r = evaluate(
        &base(
            "license: apache-2.0\nextra_gated_prompt: Agree to our terms",
            "",
        ),
        &gated,
    );
    assert_eq!(crit(&r.owd.criteria, "OWD-10").verdict, Verdict::Review);
    assert!(!r.owd.open_weight);

    // A local folder: the card says it is gated.
    let r = run(&base("license: apache-2.0\ngated: true", ""));
    assert_eq!(crit(&r.owd.criteria, "OWD-7").verdict, Verdict::Warn);
    // The hub says it is not.
    let open = Context {
        gated: Some(false),
        ..Context::default()
    };
    let r = evaluate(&base("license: apache-2.0\ngated: true", ""), &open);
    assert_eq!(crit(&r.owd.criteria, "OWD-7").verdict, Verdict::Pass);
}

#[test]
fn sharded_index_with_a_missing_shard() {
    let mut m = MemFiles::new();
    m.add("README.md", card("license: mit", ""));
    m.add("model-00001-of-00002.safetensors", st(&[("a", &[2])]));
    m.add(
        "model.safetensors.index.json",
        r#"{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#,
    );
    let r = run(&m);
    let c = crit(&r.owd.criteria, "OWD-2a");
    assert_eq!(c.verdict, Verdict::Fail);
    assert_eq!(c.missing, ["shard model-00002-of-00002.safetensors"]);
    assert!(
        c.evidence
            .iter()
            .any(|e| e.detail.starts_with("1 of 2 shards missing"))
    );
    assert_eq!(r.owd.label, "weights available");

    // Complete: passes, and shards in a subfolder resolve against the index's folder.
    let mut m = MemFiles::new();
    m.add("README.md", card("license: mit", ""));
    m.add("unet/a.safetensors", st(&[("a", &[2])]));
    m.add(
        "unet/index.safetensors.index.json",
        r#"{"weight_map": {"a": "a.safetensors"}}"#,
    );
    let c = crit(&run(&m).owd.criteria, "OWD-2a").clone();
    assert_eq!(c.verdict, Verdict::Pass, "{c:#?}");
}

#[test]
fn corrupt_safetensors_header() {
    let mut bytes = st(&[("a", &[2])]);
    bytes[8] = b'x';
    let mut m = base("license: apache-2.0", "");
    m.add("model.safetensors", bytes);
    let r = run(&m);
    let c = crit(&r.owd.criteria, "OWD-2b");
    assert_eq!(c.verdict, Verdict::Fail);
    assert_eq!(
        c.missing,
        ["a valid safetensors header in model.safetensors"]
    );
    assert!(!r.owd.open_weight);
}

#[test]
fn quantised_gguf_must_name_its_base() {
    let mut m = MemFiles::new();
    m.add("README.md", card("license: apache-2.0", ""));
    m.add("model-Q4_0.gguf", gguf_file(2));
    let r = run(&m);
    let c = crit(&r.owd.criteria, "OWD-2d");
    assert_eq!(c.verdict, Verdict::Fail);
    assert_eq!(
        c.missing,
        [
            "base_model_relation: quantized in the card",
            "base_model: the model it was quantised from"
        ]
    );
    assert!(c.evidence.iter().any(|e| e.detail.contains("Q4_0")));
    assert_eq!(crit(&r.findings, "PROV-002").verdict, Verdict::Fail);
    assert!(!r.owd.open_weight);
    // The GGUF architecture and llama.cpp's library stand in for the architecture code.
    assert!(comp(&r, "Model architecture").present);

    let mut m = MemFiles::new();
    m.add(
        "README.md",
        card(
            "license: apache-2.0\nbase_model: acme/base\nbase_model_relation: quantized\ntags: [gguf]",
            "",
        ),
    );
    m.add("model.gguf", gguf_file(2));
    let r = run(&m);
    assert_eq!(crit(&r.owd.criteria, "OWD-2d").verdict, Verdict::Pass);
    assert_eq!(crit(&r.findings, "PROV-002").verdict, Verdict::Pass);
    assert!(r.owd.open_weight, "{:#?}", verdicts(&r.owd.criteria));

    // quantization_config in config.json counts too.
    let mut m = base("license: apache-2.0", "");
    m.add(
        "config.json",
        r#"{"architectures": ["X"], "quantization_config": {"quant_method": "gptq"}}"#,
    );
    let c = crit(&run(&m).owd.criteria, "OWD-2d").clone();
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.evidence[0].detail.contains("gptq"));
}

const DOCUMENTED: &str = "license: openmdw-1.0
library_name: transformers
pipeline_tag: text-generation
datasets: [acme/corpus]
tags: [arxiv:2403.13784]
model-index:
- name: tiny
  results:
  - task: {type: text-generation}
    dataset: {type: acme/bench, name: Bench}
    metrics:
    - {type: accuracy, value: 0.5}";

const DOCUMENTED_BODY: &str = "## Model Details
A decoder trained by Acme.

## Uses
Research on small language models.

## Bias, Risks, and Limitations
It repeats itself and knows little.

## Training Details
### Training Data
The acme/corpus web crawl, deduplicated.

## Evaluation
### Results
Accuracy 0.5 on Bench.
";

#[test]
fn fully_documented_repository_reaches_class_iii() {
    let r = run(&base(DOCUMENTED, DOCUMENTED_BODY));
    assert_eq!(r.mof.class, Some(3), "{:#?}", r.mof.classes);
    assert_eq!(r.mof.label, "MOF Class III - Open Model");
    assert!(r.labels.contains(&"MOF Class III - Open Model".to_string()));
    let iii = &r.mof.classes[0];
    assert!(iii.met);
    assert_eq!(iii.progress, 100.0);
    for name in [
        "Model architecture",
        "Model parameters (Final)",
        "Model card",
        "Data card",
        "Technical report",
        "Evaluation results",
    ] {
        assert_eq!(
            comp(&r, name).verdict,
            Verdict::Pass,
            "{name}: {:#?}",
            comp(&r, name)
        );
    }
    // Class II lacks training and evaluation code.
    let ii = &r.mof.classes[1];
    assert_eq!(ii.class, 2);
    assert!(!ii.met);
    assert_eq!(ii.missing, ["Training code", "Evaluation code"]);
    assert_eq!(ii.progress, 80.0);
    assert!(comp(&r, "Inference code").present);
    assert!(comp(&r, "Evaluation data").present);
    let i = &r.mof.classes[2];
    assert_eq!(
        i.missing,
        [
            "Training code",
            "Evaluation code",
            "Data preprocessing code",
            "Model parameters (Intermediate)"
        ]
    );

    // With the code and intermediate checkpoints, class I.
    let mut m = base(DOCUMENTED, DOCUMENTED_BODY);
    m.add("train.py", "print('train')");
    m.add("eval/run.py", "print('eval')");
    m.add("preprocess.py", "print('clean')");
    let ctx = Context {
        refs: vec!["main".into(), "step1000".into()],
        ..Context::default()
    };
    let r = evaluate(&m, &ctx);
    assert_eq!(r.mof.class, Some(1), "{:#?}", r.mof.classes);
    assert!(r.mof.missing.is_empty());
}

#[test]
fn mof_yml_declaring_a_missing_file() {
    let mut m = base(DOCUMENTED, DOCUMENTED_BODY);
    m.add("eval/run.py", "print('eval')");
    m.add(
        "mof.yml",
        "framework: {name: 'Model Openness Framework', version: '1.0', date: '2024-12-15'}
release:
  name: tiny
  license:
    distribution: {name: OpenMDW-1.0, path: LICENSE}
    code: {name: Apache-2.0, path: null}
  components:
    - name: 'Training code'
      description: 'Code used for training the model'
      license: MIT
      component_path: train.py
    - name: 'Evaluation code'
      location: eval/
      license_name: ''
      license_path: ''
    - name: 'Not a component'
",
    );
    let r = run(&m);
    let y = r.mof.mof_yml.as_ref().expect("mof.yml read");
    assert_eq!(
        y.errors,
        ["release.components[2]: unknown component \"Not a component\""]
    );
    assert_eq!(y.components[0].status, "missing");
    assert_eq!(y.components[1].status, "found");
    let t = comp(&r, "Training code");
    assert!(!t.present);
    assert_eq!(t.verdict, Verdict::Fail);
    assert!(
        t.missing[0].starts_with("declared in mof.yml at train.py"),
        "{:?}",
        t.missing
    );
    assert!(r.mof.invalid.contains(&"Training code".to_string()));
    assert!(!r.mof.missing.contains(&"Training code".to_string()));
    let e = comp(&r, "Evaluation code");
    assert!(e.present);
    assert_eq!(e.license.as_deref(), Some("Apache-2.0"));
    assert_eq!(e.license_source.as_deref(), Some("mof.yml code"));
    assert_eq!(e.verdict, Verdict::Pass);
    // The card's licence applies to the rest.
    assert_eq!(
        comp(&r, "Model card").license_source.as_deref(),
        Some("mof.yml distribution")
    );
}

#[test]
fn intermediate_checkpoints_only() {
    let mut m = MemFiles::new();
    m.add("README.md", card("license: apache-2.0", ""));
    m.add("checkpoint-500/model.safetensors", st(&[("a", &[2])]));
    m.add("checkpoint-500/trainer_state.json", "{}");
    let r = run(&m);
    assert_eq!(crit(&r.owd.criteria, "OWD-2c").verdict, Verdict::Review);
    assert_eq!(crit(&r.owd.criteria, "OWD-2a").verdict, Verdict::Pass);
    assert!(!r.owd.open_weight);
    assert!(comp(&r, "Model parameters (Intermediate)").present);
    assert!(!comp(&r, "Model parameters (Final)").present);

    let ctx = Context {
        revision: Some("step1000-tokens4B".into()),
        ..Context::default()
    };
    let r = evaluate(&base("license: apache-2.0", ""), &ctx);
    assert_eq!(crit(&r.owd.criteria, "OWD-2c").verdict, Verdict::Review);
}

#[test]
fn no_weights_and_no_licence() {
    let mut m = MemFiles::new();
    m.add("README.md", "# nothing");
    let r = run(&m);
    assert_eq!(r.owd.label, "no weights");
    assert_eq!(crit(&r.owd.criteria, "OWD-1").verdict, Verdict::Fail);
    assert_eq!(crit(&r.owd.criteria, "OWD-2a").verdict, Verdict::Fail);
    assert!(r.licenses.is_empty());
    assert_eq!(r.mof.unlicensed, Vec::<String>::new());
    assert_eq!(
        comp(&r, "Model parameters (Final)").license_status,
        LicenseStatus::Unlicensed
    );
}

#[test]
fn licence_detected_from_the_licence_file() {
    let mut m = base("library_name: transformers", "");
    m.add(
        "LICENSE",
        "Permission is hereby granted, free of charge, to any person",
    );
    let r = run(&m);
    assert_eq!(r.licenses[0].id, "mit");
    assert!(r.licenses[0].source.starts_with("LICENSE"));
    assert_eq!(crit(&r.owd.criteria, "OWD-1").verdict, Verdict::Pass);
}

#[test]
fn custom_licence_needs_review_unless_it_forbids_improving_others() {
    let mut m = base(
        "license: other\nlicense_name: acme\nlicense_link: LICENSE",
        "",
    );
    m.add("LICENSE", "You may use the model for any purpose.");
    let r = run(&m);
    assert_eq!(crit(&r.owd.criteria, "OWD-1").verdict, Verdict::Review);
    assert_eq!(crit(&r.owd.criteria, "OWD-9").verdict, Verdict::Review);
    m.add(
        "LICENSE",
        "You will not use the Materials to improve any other large language model.",
    );
    let r = run(&m);
    assert_eq!(crit(&r.owd.criteria, "OWD-9").verdict, Verdict::Fail);
}

#[test]
fn osaid_is_review_at_best() {
    let body = format!(
        "{DOCUMENTED_BODY}
### Preprocessing
Deduplicated with MinHash and filtered for language.

### Training Hyperparameters
- learning_rate: 3e-4

### Third-Party Data
None: every source is public.

### Model Sources
- **Repository:** https://github.com/acme/tiny-train
"
    );
    let mut m = base(DOCUMENTED, &body);
    m.add("preprocess.py", "");
    m.add("train.py", "");
    let r = run(&m);
    assert_eq!(
        verdicts(&r.osaid.criteria),
        [
            ("OSAID-P", Verdict::Review),
            ("OSAID-C1", Verdict::Review),
            ("OSAID-C2", Verdict::Review),
            ("OSAID-C3", Verdict::Pass),
            ("OSAID-C4", Verdict::Pass),
            ("OSAID-D1", Verdict::Pass),
            ("OSAID-D2", Verdict::Pass),
            ("OSAID-D3", Verdict::Pass),
            ("OSAID-D4", Verdict::Pass),
        ]
    );
    assert_eq!(r.osaid.verdict, Verdict::Review);
    assert!(!r.labels.iter().any(|l| l.contains("Open Source AI")));

    // Apache code and weights: every element passes, still review overall.
    let r = run(&{
        let mut m = base(&DOCUMENTED.replace("openmdw-1.0", "apache-2.0"), &body);
        m.add("preprocess.py", "");
        m.add("train.py", "");
        m
    });
    assert!(
        r.osaid.criteria.iter().all(|c| c.verdict == Verdict::Pass),
        "{:#?}",
        verdicts(&r.osaid.criteria)
    );
    assert_eq!(r.osaid.verdict, Verdict::Review);
}

#[test]
fn provenance_and_safety_findings() {
    let mut m = base(
        "license: apache-2.0\nbase_model: acme/base\nbase_model_relation: merge",
        "",
    );
    m.add(
        "adapter_config.json",
        r#"{"base_model_name_or_path": "acme/other"}"#,
    );
    m.add("pytorch_model.bin", vec![0x80, 2]);
    m.add("training_args.bin", vec![0x80, 2]);
    let r = run(&m);
    assert_eq!(crit(&r.findings, "PROV-001").verdict, Verdict::Warn);
    assert_eq!(crit(&r.findings, "PROV-003").verdict, Verdict::Warn);
    assert_eq!(crit(&r.findings, "PROV-004").verdict, Verdict::Warn);
    let sec = crit(&r.findings, "SEC-001");
    assert_eq!(sec.verdict, Verdict::Warn);
    assert_eq!(sec.evidence.len(), 2);
    // training_args.bin is not weights; pytorch_model.bin is.
    assert!(
        crit(&r.owd.criteria, "OWD-2a").evidence[0]
            .detail
            .starts_with("2 weight files")
    );
    assert_eq!(crit(&r.osaid.criteria, "OSAID-C4").verdict, Verdict::Review);
}

#[test]
fn report_round_trips_through_json() {
    let r = run(&base(DOCUMENTED, DOCUMENTED_BODY));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["owd"]["criteria"][0]["verdict"], "pass");
    assert_eq!(json["owd"]["criteria"][4]["verdict"], "n/a");
    assert_eq!(
        json["mof"]["components"][1]["license_status"],
        "type-appropriate"
    );
    assert_eq!(json["mof"]["components"][1]["content_type"], "data");
    let back: Report = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn names_and_refs() {
    assert_eq!(
        quant_in_name("Llama-3-8B-Instruct-Q4_K_M.gguf").as_deref(),
        Some("Q4_K_M")
    );
    assert_eq!(
        quant_in_name("model.iq2_xs.gguf").as_deref(),
        Some("IQ2_XS")
    );
    assert_eq!(quant_in_name("qwen2-7b-f16.gguf"), None);
    assert!(is_step_ref("step1000-tokens4B"));
    assert!(is_step_ref("checkpoint-500"));
    assert!(!is_step_ref("main"));
    assert!(!is_step_ref("v1.0"));
    assert!(is_checkpoint_dir("global_step20"));
    assert!(!is_checkpoint_dir("checkpoints"));
    assert!(shows_quant("gguf"));
    assert!(shows_quant("acme/tiny-4-bit"));
    assert!(!shows_quant("acme/unique-liquid"));
    assert_eq!(failed_criteria("fail (5,6,9)"), ["5", "6", "9"]);
    assert_eq!(
        failed_criteria("fail (criterion 6: field of endeavour)"),
        ["6"]
    );
}

/// A `mof.yml` of any shape is an error in the report, never a panic.
#[test]
fn mof_yml_of_unexpected_shapes_gives_errors() {
    for (text, error) in [
        (
            "release: {name: x, components: []}\n",
            "framework is required",
        ),
        (
            "framework: 3\nrelease: {name: x, components: []}\n",
            "framework.name must be 'Model Openness Framework'",
        ),
        ("framework: [1, 2]\nrelease: 7\n", "release is required"),
        ("[1, 2]\n", "must be a mapping"),
        (
            "framework: {name: 'Model Openness Framework'}\nrelease: {name: x, components: 5}\n",
            "release.components must be a list",
        ),
        (
            "framework: {name: 'Model Openness Framework'}\nrelease: {name: x, license: 3, components: [7, {name: 5}]}\n",
            "release.components[0] must be a mapping",
        ),
    ] {
        let mut m = base(DOCUMENTED, DOCUMENTED_BODY);
        m.add("mof.yml", text);
        let r = run(&m);
        let y = r.mof.mof_yml.as_ref().expect("mof.yml read");
        assert!(
            y.errors.iter().any(|e| e == error),
            "{text:?}: {:?}",
            y.errors
        );
    }
}
