//! The provenance rules: the parent's revision pinned (PROV-001), a quantised variant labelled
//! (PROV-002), an adapter naming the card's base model (PROV-003), a merge shipping its recipe
//! (PROV-004), and a signature bundle pointed out (PROV-005).

use serde_json::{Map, Value};

use super::finding::Severity;
use super::linter::Linter;
use crate::files::{Entry, Files};

impl Linter<'_> {
    /// PROV-001: the parent's revision pinned to a commit.
    pub(super) fn parent_pinned(&mut self, data: &Map<String, Value>) {
        let bases = self.card.list_field("base_model");
        if !bases.is_empty() {
            let pinned = data
                .get("base_model_revision")
                .and_then(Value::as_str)
                .is_some_and(|r| r.len() == 40 && r.chars().all(|c| c.is_ascii_hexdigit()));
            if !pinned {
                self.push(
                    "PROV-001",
                    Severity::Warning,
                    Some("base_model"),
                    "the parent's revision is not pinned: add \"base_model_revision\" with the 40-hex commit id".into(),
                );
            }
        }
    }

    /// PROV-003: adapter_config.json names the card's base model.
    pub(super) fn adapter_base(&mut self, files: &dyn Files) {
        if let Some(t) = files.text("adapter_config.json")
            && let Ok(cfg) = serde_json::from_str::<Value>(&t)
            && let Some(b) = cfg["base_model_name_or_path"].as_str()
        {
            let bases = self.card.list_field("base_model");
            if !bases.iter().any(|x| x == b) {
                self.push(
                    "PROV-003",
                    Severity::Warning,
                    Some("base_model"),
                    format!("adapter_config.json names base model \"{b}\" but the card's base_model is [{}]", bases.join(", ")),
                );
            }
        }
    }

    /// PROV-004: merges ship their recipe.
    pub(super) fn merge_recipe(&mut self, data: &Map<String, Value>, entries: &[Entry]) {
        if data.get("base_model_relation").and_then(Value::as_str) == Some("merge")
            && !entries.iter().any(|e| {
                e.path.ends_with("mergekit_config.yml") || e.path.ends_with("mergekit_config.yaml")
            })
        {
            self.push(
                "PROV-004",
                Severity::Warning,
                Some("base_model_relation"),
                "a merge without its recipe: add mergekit_config.yml".into(),
            );
        }
    }

    /// PROV-002: a quantised variant says so (`quantised_gguf`: a GGUF file holds quantised
    /// tensors, as LIC-008 found).
    pub(super) fn quantised_labelled(
        &mut self,
        data: &Map<String, Value>,
        files: &dyn Files,
        entries: &[Entry],
        quantised_gguf: bool,
    ) {
        let quant_config = files
            .text("config.json")
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|c| c.get("quantization_config").is_some());
        let quant_files = entries.iter().any(|e| {
            let l = e.path.to_ascii_lowercase();
            l.contains("gptq") || l.contains("awq") || l.ends_with("quantize_config.json")
        });
        if (quantised_gguf || quant_config || quant_files)
            && data.get("base_model_relation").and_then(Value::as_str) != Some("quantized")
        {
            self.push(
                "PROV-002",
                Severity::Policy,
                Some("base_model_relation"),
                "quantised weights: label the variant with \"base_model_relation: quantized\" and its \"base_model\"".into(),
            );
        }
    }

    /// PROV-005: a signature to verify.
    pub(super) fn signature(&mut self, entries: &[Entry]) {
        if let Some(sig) = entries
            .iter()
            .find(|e| e.path == "model.sig" || e.path.ends_with(".sigstore.json"))
        {
            self.at(
                "PROV-005",
                Severity::Info,
                None,
                format!(
                    "{} is an OpenSSF Model Signing bundle: check it with `wh verify`",
                    sig.path
                ),
            );
        }
    }
}
