//! The front-matter rules (META-001 to META-009, and META-011 on widgets and gate fields): the
//! licence, the parents and their relation, datasets, languages, tags, task and library, worded
//! as the Hub's validator words them.

use serde_json::{Map, Value};

use super::finding::Severity;
use super::linter::{Linter, is_url, type_name};
use crate::{gate, licenses, vocab};

/// A repository id: `name` or `namespace/name`, no leading `/`, no `..`.
pub fn is_repo_id(s: &str) -> bool {
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.len() <= 96
            && p.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            && !p.contains("..")
            && !p.ends_with('.')
    };
    let mut parts = s.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), None, None) => ok_part(a),
        (Some(a), Some(b), None) => ok_part(a) && ok_part(b),
        _ => false,
    }
}

/// Relations a card may declare in `base_model_relation`.
pub const RELATIONS: &[&str] = &[
    "adapter",
    "merge",
    "quantized",
    "finetune",
    "distillation",
    "trained-on-outputs",
];

impl Linter<'_> {
    pub(super) fn license(&mut self, data: &Map<String, Value>) {
        let values = self.string_list(data, "license");
        if values.is_empty() && !data.contains_key("license") {
            let sev = if self.full() && self.is_model() {
                Severity::Error
            } else {
                Severity::Warning
            };
            self.at(
                "META-002",
                sev,
                Some(self.card.body_line.saturating_sub(1).max(1)),
                "no \"license\" in the metadata: declare the licence with a Hub licence id (e.g. license: apache-2.0)".into(),
            );
            return;
        }
        let ids = licenses::ids();
        for (path, v) in &values {
            if ids.contains(&v.as_str()) {
                continue;
            }
            let mut message = format!("\"{path}\" must be one of [{}, array]", ids.join(", "));
            let lower = v.to_ascii_lowercase();
            if ids.contains(&lower.as_str()) {
                message.push_str(&format!(" (licence ids are lowercase: {lower})"));
            } else if v.contains(" OR ") || v.contains(" AND ") || v.contains(" WITH ") {
                message.push_str(" (SPDX expressions are not accepted: pick one id, or use other with license_name and license_link)");
            }
            self.push("META-002", Severity::Error, Some("license"), message);
        }
        if values.iter().any(|(_, v)| v == "other") {
            match data.get("license_name") {
                Some(Value::String(n)) => {
                    let ok = n
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                        && n.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)
                        });
                    if !ok {
                        self.push(
                            "META-003",
                            Severity::Error,
                            Some("license_name"),
                            format!("\"license_name\" with value \"{n}\" fails to match the required pattern: /^[a-z0-9][a-z0-9._-]*$/"),
                        );
                    }
                }
                _ => self.push(
                    "META-003",
                    Severity::Error,
                    Some("license"),
                    "\"license_name\" is required when \"license\" is \"other\"".into(),
                ),
            }
            match data.get("license_link") {
                Some(Value::String(link)) => {
                    let in_repo = !is_url(link)
                        && !link.contains("..")
                        && !link.starts_with('/')
                        && match self.opts.files {
                            Some(f) => f.exists(link.trim_start_matches("./")),
                            None => true,
                        };
                    if !is_url(link) && !in_repo {
                        self.push(
                            "META-003",
                            Severity::Error,
                            Some("license_link"),
                            format!("\"license_link\" with value \"{link}\" must be a URL or a file of the repository (e.g. LICENSE)"),
                        );
                    }
                }
                _ => self.push(
                    "META-003",
                    Severity::Error,
                    Some("license"),
                    "\"license_link\" is required when \"license\" is \"other\"".into(),
                ),
            }
        }
    }

    pub(super) fn base_model(&mut self, data: &Map<String, Value>) {
        let values = self.string_list(data, "base_model");
        for (path, v) in &values {
            if !is_repo_id(v) {
                self.push(
                    "META-005",
                    Severity::Error,
                    Some("base_model"),
                    format!(
                        "\"{path}\" with value \"{v}\" is not valid. Use a model id from {}",
                        self.opts.hub_url
                    ),
                );
            } else if let Some(exists) = self.opts.model_exists
                && exists(v) == Some(false)
            {
                self.push(
                    "META-005",
                    if self.full() {
                        Severity::Error
                    } else {
                        Severity::Warning
                    },
                    Some("base_model"),
                    format!(
                        "\"{path}\" with value \"{v}\" does not name a model on {}",
                        self.opts.hub_url
                    ),
                );
            }
        }
        if let Some(rel) = data.get("base_model_relation") {
            match rel.as_str() {
                Some(r) if RELATIONS.contains(&r) => {
                    if values.is_empty() {
                        self.push(
                            "META-006",
                            Severity::Error,
                            Some("base_model_relation"),
                            "\"base_model_relation\" needs \"base_model\"".into(),
                        );
                    }
                    if r == "merge" && values.len() < 2 {
                        self.push(
                            "META-006",
                            Severity::Error,
                            Some("base_model_relation"),
                            format!("\"base_model_relation\" is merge but \"base_model\" names {} model(s); a merge has at least 2 parents", values.len()),
                        );
                    }
                    if let Some(files) = self.opts.files
                        && self.full()
                    {
                        let entries = files.entries();
                        let has = |f: &dyn Fn(&str) -> bool| entries.iter().any(|e| f(&e.path));
                        if r == "adapter" && !has(&|p| p.ends_with("adapter_config.json")) {
                            self.push(
                                "META-006",
                                Severity::Error,
                                Some("base_model_relation"),
                                "\"base_model_relation\" is adapter but there is no adapter_config.json".into(),
                            );
                        }
                        if r == "quantized" {
                            let quant_config = files
                                .text("config.json")
                                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                                .is_some_and(|c| c.get("quantization_config").is_some());
                            let quant_files = has(&|p| {
                                let l = p.to_ascii_lowercase();
                                l.ends_with(".gguf")
                                    || l.contains("gptq")
                                    || l.contains("awq")
                                    || l.ends_with("quantize_config.json")
                            });
                            if !quant_config && !quant_files {
                                self.push(
                                    "META-006",
                                    Severity::Error,
                                    Some("base_model_relation"),
                                    "\"base_model_relation\" is quantized but there is no GGUF file, quantization_config in config.json, or GPTQ/AWQ file".into(),
                                );
                            }
                        }
                    }
                }
                _ => self.push(
                    "META-006",
                    Severity::Error,
                    Some("base_model_relation"),
                    format!(
                        "\"base_model_relation\" must be one of [{}]",
                        RELATIONS.join(", ")
                    ),
                ),
            }
        }
    }

    pub(super) fn datasets(&mut self, data: &Map<String, Value>) {
        for (path, v) in self.string_list(data, "datasets") {
            if !is_repo_id(&v) {
                self.push(
                    "META-007",
                    Severity::Error,
                    Some("datasets"),
                    format!("\"{path}\" with value \"{v}\" is not valid. If possible, use a dataset id from {}/datasets.", self.opts.hub_url),
                );
            }
        }
    }

    pub(super) fn language(&mut self, data: &Map<String, Value>) {
        for (path, v) in self.string_list(data, "language") {
            let code = v.as_str();
            let ok = vocab::is_language(code)
                || vocab::LANGUAGE_SPECIALS.contains(&code)
                || code.len() == 3 && code.chars().all(|c| c.is_ascii_lowercase());
            if !ok {
                self.push(
                    "META-008",
                    Severity::Warning,
                    Some("language"),
                    format!("\"{path}\" with value \"{v}\" is not an ISO 639-1/2/3 code (e.g. en, fra) nor one of [code, multilingual]"),
                );
            }
        }
    }

    pub(super) fn tags_and_libraries(&mut self, data: &Map<String, Value>) {
        for key in ["tags", "metrics"] {
            if let Some(v) = data.get(key)
                && !v.is_null()
            {
                match v {
                    Value::Array(a) => {
                        for (i, t) in a.iter().enumerate() {
                            if !t.is_string() {
                                self.push(
                                    "META-001",
                                    Severity::Error,
                                    Some(key),
                                    format!("\"{key}[{i}]\" must be a string"),
                                );
                            }
                        }
                    }
                    Value::String(_) => {}
                    _ => self.push(
                        "META-001",
                        Severity::Error,
                        Some(key),
                        format!("\"{key}\" must be an array"),
                    ),
                }
            }
        }
        for (key, list) in [
            ("pipeline_tag", vocab::PIPELINE_TAGS),
            ("library_name", vocab::LIBRARIES),
        ] {
            match data.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => {
                    if !list.contains(&s.as_str()) {
                        self.push(
                            "META-009",
                            Severity::Warning,
                            Some(key),
                            format!(
                                "\"{key}\" value \"{s}\" is not a known {}",
                                if key == "pipeline_tag" {
                                    "task"
                                } else {
                                    "library"
                                }
                            ),
                        );
                    }
                }
                Some(other) => self.push(
                    "META-001",
                    Severity::Error,
                    Some(key),
                    format!("\"{key}\" must be a string, not {}", type_name(other)),
                ),
            }
        }
        if self.full()
            && self.is_model()
            && !data.contains_key("library_name")
            && self.opts.files.is_some_and(|f| f.exists("config.json"))
        {
            self.at(
                "META-009",
                Severity::Warning,
                Some(self.card.line_of("library_name")),
                "config.json is present but \"library_name\" is not set: name the library that loads the model (e.g. transformers)".into(),
            );
        }
        for key in ["new_version", "thumbnail", "license_name"] {
            if let Some(v) = data.get(key)
                && !v.is_string()
                && !v.is_null()
            {
                self.push(
                    "META-001",
                    Severity::Error,
                    Some(key),
                    format!("\"{key}\" must be a string"),
                );
            }
        }
    }

    pub(super) fn widget_and_gate(&mut self, data: &Map<String, Value>) {
        if let Some(w) = data.get("widget")
            && !w.is_array()
            && !w.is_null()
        {
            self.push(
                "META-011",
                Severity::Error,
                Some("widget"),
                "\"widget\" must be an array".into(),
            );
        }
        if let Some(f) = data.get("extra_gated_fields")
            && !f.is_null()
            && let Err(e) = gate::fields(f)
        {
            self.push("META-011", Severity::Error, Some("extra_gated_fields"), e);
        }
        for key in [
            "extra_gated_prompt",
            "extra_gated_heading",
            "extra_gated_description",
            "extra_gated_button_content",
        ] {
            if let Some(v) = data.get(key)
                && !v.is_string()
                && !v.is_null()
            {
                self.push(
                    "META-011",
                    Severity::Error,
                    Some(key),
                    format!("\"{key}\" must be a string"),
                );
            }
        }
        if let Some(v) = data.get("extra_gated_eu_disallowed")
            && !v.is_boolean()
        {
            self.push(
                "META-011",
                Severity::Error,
                Some("extra_gated_eu_disallowed"),
                "\"extra_gated_eu_disallowed\" must be a boolean".into(),
            );
        }
    }
}
