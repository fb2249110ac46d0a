//! Model card skeletons: the recommended sections of the Hub's card template (governance.md 2.2),
//! with what the weights and `config.json` say already filled in and everything else left as the
//! template's placeholder, so that `wh card lint` counts what remains.
//!
//! [`render`] is a pure function of [`Facts`]; gathering the facts (opening the weights,
//! fingerprinting them) is the caller's business.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use weighhouse_tensor::units::{human_bytes, human_count};

use crate::lint::{PLACEHOLDER, is_repo_id};

/// One weight file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightFacts {
    /// Path relative to the model folder.
    pub path: String,
    /// Format name (`safetensors`, `gguf`, `pytorch-zip`, ...).
    pub format: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Tensors in the file.
    pub tensors: u64,
    /// Elements of all its tensors.
    pub parameters: u64,
    /// Tensors per dtype.
    pub dtypes: BTreeMap<String, u64>,
    /// Why the file could not be read, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `config.json` says about the architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFacts {
    /// `architectures`.
    pub architectures: Vec<String>,
    /// `model_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    /// `hidden_size` (`n_embd`, `d_model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_size: Option<u64>,
    /// `num_hidden_layers` (`n_layer`, `num_layers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_hidden_layers: Option<u64>,
    /// `num_attention_heads` (`n_head`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_attention_heads: Option<u64>,
    /// `vocab_size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab_size: Option<u64>,
    /// `max_position_embeddings` (`n_positions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_position_embeddings: Option<u64>,
    /// `torch_dtype` (or `dtype`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torch_dtype: Option<String>,
    /// `_name_or_path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_or_path: Option<String>,
    /// `transformers_version` (the config was written by transformers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transformers_version: Option<String>,
}

impl ConfigFacts {
    /// Read the facts from a parsed `config.json`; fields a multimodal config keeps under
    /// `text_config` are read from there when absent at the top.
    pub fn from_json(v: &Value) -> Self {
        let text = v.get("text_config");
        let num = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| v.get(*k).and_then(Value::as_u64))
                .or_else(|| {
                    text.and_then(|t| keys.iter().find_map(|k| t.get(*k).and_then(Value::as_u64)))
                })
        };
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Self {
            architectures: v
                .get("architectures")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            model_type: s("model_type"),
            hidden_size: num(&["hidden_size", "n_embd", "d_model"]),
            num_hidden_layers: num(&["num_hidden_layers", "n_layer", "num_layers"]),
            num_attention_heads: num(&["num_attention_heads", "n_head"]),
            vocab_size: num(&["vocab_size"]),
            max_position_embeddings: num(&["max_position_embeddings", "n_positions"]),
            torch_dtype: s("torch_dtype").or_else(|| s("dtype")),
            name_or_path: s("_name_or_path"),
            transformers_version: s("transformers_version"),
        }
    }
}

/// Everything the skeleton is filled in from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// The model's name (the card's title).
    pub name: String,
    /// Hub licence id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// `library_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library_name: Option<String>,
    /// `pipeline_tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_tag: Option<String>,
    /// `base_model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// Weight files.
    pub weights: Vec<WeightFacts>,
    /// The checkpoint's format when read as one (a folder, a sharded set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Total parameters (elements of all tensors) of the checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<u64>,
    /// Tensors of the checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensors: Option<u64>,
    /// Tensors per dtype of the checkpoint.
    pub dtypes: BTreeMap<String, u64>,
    /// Bytes of all weight files.
    pub total_bytes: u64,
    /// `wfp1:` fingerprint of the weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// `wfp1-f32:` fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint_f32: Option<String>,
    /// `config.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigFacts>,
}

/// The Hub task of a transformers architecture class (`LlamaForCausalLM` → `text-generation`).
pub fn pipeline_tag_for(architectures: &[String]) -> Option<&'static str> {
    let a = architectures.first()?;
    let vision = [
        "Llava",
        "VL",
        "Vision",
        "Idefics",
        "PaliGemma",
        "Paligemma",
        "Blip",
        "Florence",
    ]
    .iter()
    .any(|w| a.contains(w));
    let table: &[(&str, &str)] = &[
        ("ForCausalLM", "text-generation"),
        ("LMHeadModel", "text-generation"),
        ("ForImageTextToText", "image-text-to-text"),
        ("ForVision2Seq", "image-text-to-text"),
        ("ForSeq2SeqLM", "text2text-generation"),
        ("ForSpeechSeq2Seq", "automatic-speech-recognition"),
        ("ForCTC", "automatic-speech-recognition"),
        ("ForMaskedLM", "fill-mask"),
        ("ForSequenceClassification", "text-classification"),
        ("ForTokenClassification", "token-classification"),
        ("ForQuestionAnswering", "question-answering"),
        ("ForMultipleChoice", "multiple-choice"),
        ("ForImageClassification", "image-classification"),
        ("ForObjectDetection", "object-detection"),
        ("ForSemanticSegmentation", "image-segmentation"),
        ("ForUniversalSegmentation", "image-segmentation"),
        ("ForDepthEstimation", "depth-estimation"),
        ("ForAudioClassification", "audio-classification"),
        ("ForTextToSpeech", "text-to-speech"),
        ("ForTextToWaveform", "text-to-speech"),
    ];
    if a.ends_with("ForConditionalGeneration") {
        return Some(if a.contains("Whisper") || a.contains("Speech") {
            "automatic-speech-recognition"
        } else if vision {
            "image-text-to-text"
        } else {
            "text2text-generation"
        });
    }
    if let Some((_, tag)) = table.iter().find(|(suffix, _)| a.ends_with(suffix)) {
        return Some(tag);
    }
    // A bare encoder (`BertModel`) embeds.
    a.ends_with("Model").then_some("feature-extraction")
}

/// `_name_or_path` as a `base_model`, when it is a Hub id (`namespace/name`) rather than a local
/// path.
pub fn base_model_from(name_or_path: &str) -> Option<String> {
    let s = name_or_path.trim();
    (s.matches('/').count() == 1 && is_repo_id(s)).then(|| s.to_string())
}

/// `8030261248` → `8,030,261,248`.
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn dtypes_line(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, n)| format!("{k} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The front matter as YAML (without the `---` lines).
pub fn front_matter(f: &Facts) -> String {
    let mut m = Map::new();
    if let Some(l) = &f.license {
        m.insert("license".into(), Value::String(l.clone()));
    }
    if let Some(l) = &f.library_name {
        m.insert("library_name".into(), Value::String(l.clone()));
    }
    if let Some(p) = &f.pipeline_tag {
        m.insert("pipeline_tag".into(), Value::String(p.clone()));
    }
    if let Some(b) = &f.base_model {
        m.insert("base_model".into(), Value::String(b.clone()));
    }
    if !f.tags.is_empty() {
        m.insert(
            "tags".into(),
            Value::Array(f.tags.iter().cloned().map(Value::String).collect()),
        );
    }
    let mut yaml = if m.is_empty() {
        String::new()
    } else {
        serde_yaml_ng::to_string(&m).unwrap_or_default()
    };
    if f.license.is_none() {
        yaml.push_str(
            "# license: a Hub licence id (e.g. apache-2.0), required before publishing\n",
        );
    }
    yaml
}

/// The whole card: front matter, then the template's sections.
pub fn render(f: &Facts) -> String {
    let p = PLACEHOLDER;
    let mut s = String::new();
    let or = |v: Option<String>| v.unwrap_or_else(|| p.to_string());
    let cfg = f.config.as_ref();
    let _ = writeln!(s, "---\n{}---\n", front_matter(f));
    let _ = writeln!(s, "# {}\n", f.name);
    let _ = writeln!(
        s,
        "<!-- Written by `wh card new` from the weights and config.json. Replace each \"{p}\"; \
         `wh card lint` lists what remains. -->\n"
    );

    let _ = writeln!(s, "## Model Details\n\n### Model Description\n\n{p}\n");
    let model_type = cfg.and_then(|c| {
        let arch = c.architectures.join(", ");
        match (&c.model_type, arch.is_empty()) {
            (Some(t), false) => Some(format!("{t} ({arch})")),
            (Some(t), true) => Some(t.clone()),
            (None, false) => Some(arch),
            (None, true) => None,
        }
    });
    let size = f
        .parameters
        .map(|n| format!(", {} parameters", human_count(n)));
    let _ = writeln!(s, "- **Developed by:** {p}");
    let _ = writeln!(s, "- **Funded by:** {p}");
    let _ = writeln!(s, "- **Shared by:** {p}");
    let _ = writeln!(
        s,
        "- **Model type:** {}",
        match (model_type, size) {
            (Some(t), Some(z)) => format!("{t}{z}"),
            (Some(t), None) => t,
            (None, Some(z)) => format!("{p}{z}"),
            (None, None) => p.to_string(),
        }
    );
    let _ = writeln!(s, "- **Language(s):** {p}");
    let _ = writeln!(s, "- **License:** {}", or(f.license.clone()));
    let _ = writeln!(
        s,
        "- **Finetuned from model:** {}\n",
        or(f.base_model.clone())
    );
    let _ = writeln!(s, "### Model Sources\n");
    let _ = writeln!(
        s,
        "- **Repository:** {p}\n- **Paper:** {p}\n- **Demo:** {p}\n"
    );

    let _ = writeln!(s, "## Uses\n\n### Direct Use\n\n{p}\n");
    let _ = writeln!(s, "### Downstream Use\n\n{p}\n");
    let _ = writeln!(s, "### Out-of-Scope Use\n\n{p}\n");
    let _ = writeln!(s, "## Bias, Risks, and Limitations\n\n{p}\n");
    let _ = writeln!(s, "### Recommendations\n\n{p}\n");

    let _ = writeln!(s, "## How to Get Started with the Model\n");
    let repo = format!("<namespace>/{}", f.name);
    let gguf = f.weights.iter().find(|w| w.format == "gguf");
    match (f.library_name.as_deref(), f.pipeline_tag.as_deref(), gguf) {
        (Some("transformers"), Some(task), _) => {
            let _ = writeln!(
                s,
                "```python\nfrom transformers import pipeline\n\npipe = pipeline(\"{task}\", model=\"{repo}\")\n```\n"
            );
        }
        (Some("transformers"), None, _) => {
            let _ = writeln!(
                s,
                "```python\nfrom transformers import AutoModel\n\nmodel = AutoModel.from_pretrained(\"{repo}\")\n```\n"
            );
        }
        (_, _, Some(g)) => {
            let _ = writeln!(s, "```sh\nllama-cli -m {} -p \"Hello\"\n```\n", g.path);
        }
        _ => {
            let _ = writeln!(s, "{p}\n");
        }
    }

    let _ = writeln!(s, "## Training Details\n\n### Training Data\n\n{p}\n");
    let _ = writeln!(s, "### Training Procedure\n\n#### Preprocessing\n\n{p}\n");
    let _ = writeln!(
        s,
        "#### Training Hyperparameters\n\n- **Training regime:** {p}\n"
    );
    let _ = writeln!(s, "#### Speeds, Sizes, Times\n");
    let _ = writeln!(
        s,
        "- **Checkpoint size:** {} in {} weight file{}",
        human_bytes(f.total_bytes),
        f.weights.len(),
        if f.weights.len() == 1 { "" } else { "s" }
    );
    let _ = writeln!(s, "- **Training time:** {p}\n");

    let _ = writeln!(s, "## Evaluation\n\n### Testing Data, Factors & Metrics\n");
    let _ = writeln!(
        s,
        "#### Testing Data\n\n{p}\n\n#### Factors\n\n{p}\n\n#### Metrics\n\n{p}\n"
    );
    let _ = writeln!(s, "### Results\n\n{p}\n");

    let _ = writeln!(s, "## Environmental Impact\n");
    for k in [
        "Hardware Type",
        "Hours used",
        "Cloud Provider",
        "Compute Region",
        "Carbon Emitted",
    ] {
        let _ = writeln!(s, "- **{k}:** {p}");
    }
    let _ = writeln!(s);

    let _ = writeln!(
        s,
        "## Technical Specifications\n\n### Model Architecture and Objective\n"
    );
    if let Some(c) = cfg {
        let lines: [(&str, Option<String>); 7] = [
            (
                "Architecture",
                (!c.architectures.is_empty()).then(|| c.architectures.join(", ")),
            ),
            ("Model type", c.model_type.clone()),
            ("Hidden size", c.hidden_size.map(grouped)),
            ("Layers", c.num_hidden_layers.map(grouped)),
            ("Attention heads", c.num_attention_heads.map(grouped)),
            ("Vocabulary size", c.vocab_size.map(grouped)),
            (
                "Context length (max_position_embeddings)",
                c.max_position_embeddings.map(grouped),
            ),
        ];
        for (k, v) in lines {
            if let Some(v) = v {
                let _ = writeln!(s, "- **{k}:** {v}");
            }
        }
        if let Some(d) = &c.torch_dtype {
            let _ = writeln!(s, "- **torch_dtype:** {d}");
        }
    }
    let _ = writeln!(s, "- **Objective:** {p}\n");

    let _ = writeln!(s, "### Weights\n");
    if let Some(n) = f.parameters {
        let _ = writeln!(s, "- **Parameters:** {} ({})", grouped(n), human_count(n));
    }
    if let Some(n) = f.tensors {
        let _ = writeln!(s, "- **Tensors:** {}", grouped(n));
    }
    if !f.dtypes.is_empty() {
        let _ = writeln!(s, "- **Dtypes:** {}", dtypes_line(&f.dtypes));
    }
    if let Some(fmt) = &f.format {
        let _ = writeln!(s, "- **Format:** {fmt}");
    }
    if let Some(fp) = &f.fingerprint {
        let _ = writeln!(
            s,
            "- **Weights fingerprint:** `{fp}` (recompute with `wh fingerprint`)"
        );
    }
    if let Some(fp) = &f.fingerprint_f32 {
        let _ = writeln!(s, "- **Weights fingerprint (f32):** `{fp}`");
    }
    if !f.weights.is_empty() {
        let _ = writeln!(
            s,
            "\n| File | Format | Size | Tensors | Parameters | Dtypes |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for w in &f.weights {
            match &w.error {
                Some(e) => {
                    let _ = writeln!(
                        s,
                        "| `{}` | {} | {} | | | not read: {} |",
                        w.path,
                        w.format,
                        human_bytes(w.bytes),
                        e.replace('|', "/")
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        "| `{}` | {} | {} | {} | {} | {} |",
                        w.path,
                        w.format,
                        human_bytes(w.bytes),
                        grouped(w.tensors),
                        grouped(w.parameters),
                        dtypes_line(&w.dtypes)
                    );
                }
            }
        }
    }
    let _ = writeln!(s);

    let _ = writeln!(
        s,
        "### Compute Infrastructure\n\n#### Hardware\n\n{p}\n\n#### Software\n"
    );
    match (
        &f.library_name,
        cfg.and_then(|c| c.transformers_version.clone()),
    ) {
        (Some(l), Some(v)) if l == "transformers" => {
            let _ = writeln!(s, "transformers {v}\n");
        }
        (Some(l), _) => {
            let _ = writeln!(s, "{l}\n");
        }
        _ => {
            let _ = writeln!(s, "{p}\n");
        }
    }

    let _ = writeln!(s, "## Citation\n\n**BibTeX:**\n\n{p}\n\n**APA:**\n\n{p}\n");
    let _ = writeln!(s, "## Model Card Contact\n\n{p}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontmatter::Card;
    use crate::lint::{self, Severity};

    fn facts(license: Option<&str>) -> Facts {
        let cfg = ConfigFacts::from_json(&serde_json::json!({
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": 4096,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "vocab_size": 128256,
            "max_position_embeddings": 8192,
            "torch_dtype": "bfloat16",
            "_name_or_path": "acme/base-8b",
            "transformers_version": "4.44.0",
        }));
        let mut dtypes = BTreeMap::new();
        dtypes.insert("BF16".to_string(), 290);
        dtypes.insert("F32".to_string(), 1);
        Facts {
            name: "tiny-chat".into(),
            license: license.map(str::to_string),
            library_name: Some("transformers".into()),
            pipeline_tag: pipeline_tag_for(&cfg.architectures).map(str::to_string),
            base_model: cfg.name_or_path.as_deref().and_then(base_model_from),
            tags: vec!["safetensors".into(), "llama".into()],
            weights: vec![WeightFacts {
                path: "model.safetensors".into(),
                format: "safetensors".into(),
                bytes: 16_060_522_496,
                tensors: 291,
                parameters: 8_030_261_248,
                dtypes: dtypes.clone(),
                error: None,
            }],
            format: Some("safetensors".into()),
            parameters: Some(8_030_261_248),
            tensors: Some(291),
            dtypes,
            total_bytes: 16_060_522_496,
            fingerprint: Some("wfp1:abc".into()),
            fingerprint_f32: None,
            config: Some(cfg),
        }
    }

    #[test]
    fn card_passes_the_lint_errors_and_has_the_sections() {
        let text = render(&facts(Some("apache-2.0")));
        let card = Card::parse(&text);
        let front = card.front.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(front["license"], "apache-2.0");
        assert_eq!(front["pipeline_tag"], "text-generation");
        assert_eq!(front["base_model"], "acme/base-8b");
        assert_eq!(front["library_name"], "transformers");
        let report = lint::lint(&card, &lint::Options::default());
        let errors: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        assert!(
            !report.findings.iter().any(|f| f.rule == "CARD-001"),
            "{:#?}",
            report.findings
        );
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
            assert!(card.headings.iter().any(|x| x.text == h), "missing {h}");
        }
        assert!(text.contains("- **Parameters:** 8,030,261,248 (8.03B)"));
        assert!(text.contains("- **Dtypes:** BF16 (290), F32 (1)"));
        assert!(text.contains("- **Layers:** 32"));
        assert!(text.contains("- **Context length (max_position_embeddings):** 8,192"));
        assert!(text.contains("- **Model type:** llama (LlamaForCausalLM), 8.03B parameters"));
        assert!(text.contains("`wfp1:abc`"));
        assert!(text.contains("pipeline(\"text-generation\""));
        assert!(text.contains("| `model.safetensors` | safetensors | 15.0 GiB | 291 |"));
        assert!(text.contains(PLACEHOLDER));
    }

    #[test]
    fn without_a_licence_the_lint_says_so() {
        let text = render(&facts(None));
        assert!(text.contains("# license: a Hub licence id"));
        let card = Card::parse(&text);
        let report = lint::lint(&card, &lint::Options::default());
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.rule == "META-002" && f.severity == Severity::Error)
        );
    }

    #[test]
    fn empty_facts_still_make_a_valid_card() {
        let text = render(&Facts {
            name: "x".into(),
            license: Some("mit".into()),
            ..Facts::default()
        });
        let card = Card::parse(&text);
        assert_eq!(card.front.unwrap().unwrap()["license"], "mit");
        assert!(text.contains("- **Model type:** [More Information Needed]"));
    }

    #[test]
    fn inference_helpers() {
        let tag = |a: &str| pipeline_tag_for(&[a.to_string()]);
        assert_eq!(tag("LlamaForCausalLM"), Some("text-generation"));
        assert_eq!(tag("GPT2LMHeadModel"), Some("text-generation"));
        assert_eq!(
            tag("T5ForConditionalGeneration"),
            Some("text2text-generation")
        );
        assert_eq!(
            tag("WhisperForConditionalGeneration"),
            Some("automatic-speech-recognition")
        );
        assert_eq!(
            tag("LlavaForConditionalGeneration"),
            Some("image-text-to-text")
        );
        assert_eq!(tag("BertForMaskedLM"), Some("fill-mask"));
        assert_eq!(tag("BertModel"), Some("feature-extraction"));
        assert_eq!(tag("Something"), None);
        assert_eq!(pipeline_tag_for(&[]), None);
        assert_eq!(
            base_model_from("acme/base-8b").as_deref(),
            Some("acme/base-8b")
        );
        assert_eq!(base_model_from("/home/me/ckpt"), None);
        assert_eq!(base_model_from("./out/final"), None);
        assert_eq!(base_model_from("gpt2"), None);
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(grouped(12), "12");
        let c = ConfigFacts::from_json(
            &serde_json::json!({"n_layer": 12, "n_embd": 768, "n_positions": 1024, "dtype": "float32"}),
        );
        assert_eq!(c.num_hidden_layers, Some(12));
        assert_eq!(c.hidden_size, Some(768));
        assert_eq!(c.max_position_embeddings, Some(1024));
        assert_eq!(c.torch_dtype.as_deref(), Some("float32"));
    }
}
