//! The card rules (`data/card-rules.yaml`, governance.md section 8) applied to a model card and,
//! when its repository is at hand, to the files next to it.
//!
//! The front-matter rules speak the Hub's validator wording (`"license" must be one of [...]`),
//! so that `huggingface_hub` clients pointed at the hub show them unchanged; the same function
//! backs `wh card lint` and the hub's `/api/validate-yaml`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::files::Files;
use crate::frontmatter::Card;
use crate::{gate, licenses, vocab};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For information.
    Info,
    /// Should be fixed.
    Warning,
    /// Blocks publishing as open or to a public namespace.
    Policy,
    /// Blocks the push.
    Error,
}

impl Severity {
    /// The word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Policy => "policy",
            Self::Error => "error",
        }
    }
}

/// One rule that applies and does not hold (or, for info rules, a fact worth knowing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule id from the catalogue (`META-002`).
    pub rule: &'static str,
    /// Severity.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// 1-based line of the card it concerns, when it concerns the card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The front-matter field it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Where the lint runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A publisher's check (`wh card lint`): every rule.
    Full,
    /// The hub's metadata validation: front-matter rules only, and what the Hub itself accepts
    /// (no licence, or no front matter) is a warning rather than an error.
    Metadata,
}

/// Whether a model id exists on a hub (`None` when it cannot tell).
pub type ModelExists<'a> = dyn Fn(&str) -> Option<bool> + 'a;

/// What the lint knows besides the card.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    /// Every rule, or the hub's metadata validation.
    pub mode: Mode,
    /// `model`, `dataset` or `space`.
    pub repo_type: &'a str,
    /// The repository's files, when the card is linted in its folder or repository.
    pub files: Option<&'a dyn Files>,
    /// The hub URL used in messages (`https://hub.example/datasets`).
    pub hub_url: &'a str,
    /// Whether a model id exists (on the hub the card is checked against); `None` = unknown.
    pub model_exists: Option<&'a ModelExists<'a>>,
    /// The `base_model` parents with their licences, when they could be resolved: the licence
    /// rules (LIC-001..007) run on them.
    pub parents: Option<&'a [crate::derive::Parent]>,
}

impl std::fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("mode", &self.mode)
            .field("repo_type", &self.repo_type)
            .field("files", &self.files.is_some())
            .field("hub_url", &self.hub_url)
            .finish()
    }
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            mode: Mode::Full,
            repo_type: "model",
            files: None,
            hub_url: "https://huggingface.co",
            model_exists: None,
            parents: None,
        }
    }
}

/// The result of a lint.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Findings, in card order.
    pub findings: Vec<Finding>,
    /// Error-level findings.
    pub errors: usize,
    /// Policy-level findings.
    pub policy: usize,
    /// Warnings.
    pub warnings: usize,
}

impl Report {
    /// No error-level finding.
    pub fn passes(&self) -> bool {
        self.errors == 0
    }
}

/// Check `card`.
pub fn lint(card: &Card, opts: &Options<'_>) -> Report {
    let mut l = Linter {
        card,
        opts,
        out: Vec::new(),
    };
    l.run();
    let mut findings = l.out;
    findings.sort_by_key(|f| (f.line.unwrap_or(usize::MAX), f.rule));
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    Report {
        errors: count(Severity::Error),
        policy: count(Severity::Policy),
        warnings: count(Severity::Warning),
        findings,
    }
}

/// Sections of the card template that a card should have (CARD-001), each with the heading
/// texts that count for it.
pub const SECTIONS: &[(&str, &[&str])] = &[
    ("Model Details", &["model details"]),
    ("Uses", &["uses", "intended uses", "intended use"]),
    (
        "Out-of-Scope Use",
        &["out-of-scope use", "out-of-scope uses", "out of scope use"],
    ),
    (
        "Bias, Risks, and Limitations",
        &[
            "bias, risks, and limitations",
            "bias, risks and limitations",
            "limitations",
            "risks and limitations",
        ],
    ),
    (
        "How to Get Started with the Model",
        &[
            "how to get started with the model",
            "how to get started",
            "usage",
            "quickstart",
        ],
    ),
    ("Training Details", &["training details", "training"]),
    ("Training Data", &["training data"]),
    ("Evaluation", &["evaluation", "evaluation results"]),
    ("Environmental Impact", &["environmental impact"]),
];

/// The placeholder of the card template.
pub const PLACEHOLDER: &str = "[More Information Needed]";

struct Linter<'a> {
    card: &'a Card,
    opts: &'a Options<'a>,
    out: Vec<Finding>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

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

fn is_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() > 8
        && !s.contains(char::is_whitespace)
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
    fn push(
        &mut self,
        rule: &'static str,
        severity: Severity,
        field: Option<&str>,
        message: String,
    ) {
        let line = match field {
            Some(f) => Some(self.card.line_of(f)),
            None => None,
        };
        self.out.push(Finding {
            rule,
            severity,
            message,
            line,
            field: field.map(str::to_string),
        });
    }

    fn at(&mut self, rule: &'static str, severity: Severity, line: Option<usize>, message: String) {
        self.out.push(Finding {
            rule,
            severity,
            message,
            line,
            field: None,
        });
    }

    fn full(&self) -> bool {
        self.opts.mode == Mode::Full
    }

    fn is_model(&self) -> bool {
        self.opts.repo_type == "model"
    }

    fn run(&mut self) {
        let data = match &self.card.front {
            Err(e) => {
                self.at("META-001", Severity::Error, Some(e.line), e.message.clone());
                return;
            }
            Ok(None) => {
                let sev = if self.full() {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                self.at(
                    "META-001",
                    sev,
                    Some(1),
                    "Empty or missing yaml metadata in repo card: the card should start with a YAML block between '---' lines".into(),
                );
                if self.full() && self.is_model() {
                    self.body_rules(&Map::new());
                }
                return;
            }
            Ok(Some(m)) => m.clone(),
        };
        self.license(&data);
        self.base_model(&data);
        self.datasets(&data);
        self.language(&data);
        self.tags_and_libraries(&data);
        self.model_index(&data);
        self.widget_and_gate(&data);
        self.eval_results();
        if self.full() && self.is_model() {
            self.body_rules(&data);
            self.files_rules(&data);
            self.licence_rules(&data);
            self.eu_rules(&data);
        }
    }

    fn string_list(&mut self, data: &Map<String, Value>, key: &str) -> Vec<(String, String)> {
        match data.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![(key.to_string(), s.clone())],
            Some(Value::Array(a)) => {
                let mut out = Vec::new();
                for (i, v) in a.iter().enumerate() {
                    match v {
                        Value::String(s) => out.push((format!("{key}[{i}]"), s.clone())),
                        other => self.push(
                            "META-001",
                            Severity::Error,
                            Some(key),
                            format!("\"{key}[{i}]\" must be a string, not {}", type_name(other)),
                        ),
                    }
                }
                out
            }
            Some(other) => {
                self.push(
                    "META-001",
                    Severity::Error,
                    Some(key),
                    format!(
                        "\"{key}\" must be one of [string, array], not {}",
                        type_name(other)
                    ),
                );
                Vec::new()
            }
        }
    }

    fn license(&mut self, data: &Map<String, Value>) {
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

    fn base_model(&mut self, data: &Map<String, Value>) {
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

    fn datasets(&mut self, data: &Map<String, Value>) {
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

    fn language(&mut self, data: &Map<String, Value>) {
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

    fn tags_and_libraries(&mut self, data: &Map<String, Value>) {
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

    fn model_index(&mut self, data: &Map<String, Value>) {
        let Some(mi) = data.get("model-index") else {
            return;
        };
        let Value::Array(models) = mi else {
            self.push(
                "META-010",
                Severity::Error,
                Some("model-index"),
                "\"model-index\" must be an array".into(),
            );
            return;
        };
        let mut errors: Vec<(String, String)> = Vec::new();
        for (i, m) in models.iter().enumerate() {
            let base = format!("model-index[{i}]");
            let Value::Object(m) = m else {
                errors.push((base.clone(), format!("\"{base}\" must be of type object")));
                continue;
            };
            if !m.get("name").is_some_and(Value::is_string) {
                errors.push((
                    format!("{base}.name"),
                    format!("\"{base}.name\" is required"),
                ));
            }
            let Some(Value::Array(results)) = m.get("results") else {
                errors.push((
                    format!("{base}.results"),
                    format!("\"{base}.results\" must be an array"),
                ));
                continue;
            };
            for (j, r) in results.iter().enumerate() {
                let rb = format!("{base}.results[{j}]");
                let Value::Object(r) = r else {
                    errors.push((rb.clone(), format!("\"{rb}\" must be of type object")));
                    continue;
                };
                require_obj_str(r, "task", &["type"], &rb, &mut errors);
                require_obj_str(r, "dataset", &["type", "name"], &rb, &mut errors);
                if let Some(Value::Object(ds)) = r.get("dataset") {
                    for k in ["config", "split", "revision"] {
                        if let Some(v) = ds.get(k)
                            && !v.is_string()
                        {
                            errors.push((
                                format!("{rb}.dataset.{k}"),
                                format!("\"{rb}.dataset.{k}\" must be a string"),
                            ));
                        }
                    }
                }
                match r.get("metrics") {
                    Some(Value::Array(ms)) => {
                        for (k, mt) in ms.iter().enumerate() {
                            let mb = format!("{rb}.metrics[{k}]");
                            match mt {
                                Value::Object(mt) => {
                                    if !mt.get("type").is_some_and(Value::is_string) {
                                        errors.push((
                                            format!("{mb}.type"),
                                            format!("\"{mb}.type\" is required"),
                                        ));
                                    }
                                    if mt.get("value").is_none_or(Value::is_null) {
                                        errors.push((
                                            format!("{mb}.value"),
                                            format!("\"{mb}.value\" is required"),
                                        ));
                                    }
                                }
                                _ => errors
                                    .push((mb.clone(), format!("\"{mb}\" must be of type object"))),
                            }
                        }
                    }
                    _ => errors.push((
                        format!("{rb}.metrics"),
                        format!("\"{rb}.metrics\" must be an array"),
                    )),
                }
                if let Some(src) = r.get("source") {
                    match src {
                        Value::Object(s)
                            if s.get("url").and_then(Value::as_str).is_some_and(is_url) => {}
                        Value::Object(_) => errors.push((
                            format!("{rb}.source.url"),
                            format!(
                                "\"{rb}.source.url\" is required (a URL) when \"source\" is given"
                            ),
                        )),
                        _ => errors.push((
                            format!("{rb}.source"),
                            format!("\"{rb}.source\" must be of type object"),
                        )),
                    }
                }
            }
        }
        for (path, msg) in errors {
            self.push("META-010", Severity::Error, Some(&path), msg);
        }
    }

    fn widget_and_gate(&mut self, data: &Map<String, Value>) {
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

    fn eval_results(&mut self) {
        let Some(files) = self.opts.files else { return };
        for e in files.entries() {
            if !(e.path.starts_with(".eval_results/")
                && (e.path.ends_with(".yaml") || e.path.ends_with(".yml")))
            {
                continue;
            }
            let Some(text) = files.text(&e.path) else {
                continue;
            };
            let v: Value = match serde_yaml_ng::from_str(&text) {
                Ok(v) => v,
                Err(err) => {
                    self.at(
                        "META-010",
                        Severity::Error,
                        None,
                        format!("{}: invalid YAML: {err}", e.path),
                    );
                    continue;
                }
            };
            let items = match v {
                Value::Array(a) => a,
                other => vec![other],
            };
            for (i, item) in items.iter().enumerate() {
                let p = format!("{}[{i}]", e.path);
                let ds = &item["dataset"];
                for k in ["id", "task_id"] {
                    if !ds[k].is_string() {
                        self.at(
                            "META-010",
                            Severity::Error,
                            None,
                            format!("{p}: \"dataset.{k}\" is required"),
                        );
                    }
                }
                if item.get("value").is_none_or(Value::is_null) {
                    self.at(
                        "META-010",
                        Severity::Error,
                        None,
                        format!("{p}: \"value\" is required"),
                    );
                }
                if let Some(src) = item.get("source")
                    && !src["url"].as_str().is_some_and(is_url)
                {
                    self.at(
                        "META-010",
                        Severity::Error,
                        None,
                        format!("{p}: \"source.url\" is required when \"source\" is given"),
                    );
                }
            }
        }
    }

    fn body_rules(&mut self, data: &Map<String, Value>) {
        let headings = &self.card.headings;
        let last_line = self.card.text.lines().count().max(1);
        for (name, accepted) in SECTIONS {
            let found = headings.iter().any(|h| {
                let t = h.text.to_ascii_lowercase();
                accepted.iter().any(|a| {
                    t == *a || t.starts_with(&format!("{a} ")) || t.starts_with(&format!("{a}:"))
                })
            });
            if !found {
                self.at(
                    "CARD-001",
                    Severity::Warning,
                    Some(last_line),
                    format!("section \"{name}\" is missing"),
                );
            }
        }
        // Placeholders, counted per top-level section.
        let lines: Vec<&str> = self.card.text.lines().collect();
        let mut sections: Vec<(String, usize, usize)> = Vec::new(); // (heading, first placeholder line, count)
        let mut current = String::from("(before the first heading)");
        let mut heading_iter = headings.iter().peekable();
        for (i, line) in lines.iter().enumerate() {
            let n = i + 1;
            if n < self.card.body_line {
                continue;
            }
            while let Some(h) = heading_iter.peek() {
                if h.line <= n {
                    if h.level <= 2 {
                        current = h.text.clone();
                    }
                    heading_iter.next();
                } else {
                    break;
                }
            }
            let c = line.matches(PLACEHOLDER).count();
            if c > 0 {
                match sections.iter_mut().find(|s| s.0 == current) {
                    Some(s) => s.2 += c,
                    None => sections.push((current.clone(), n, c)),
                }
            }
        }
        for (section, line, count) in sections {
            self.at(
                "CARD-002",
                Severity::Warning,
                Some(line),
                format!("{count} \"{PLACEHOLDER}\" placeholder(s) left in \"{section}\""),
            );
        }
        let energy = data.contains_key("co2_eq_emissions")
            || data.contains_key("energy_consumption")
            || data.get("gpai").is_some_and(|g| g.get("energy").is_some());
        if !energy {
            self.at(
                "CARD-003",
                Severity::Info,
                Some(self.card.line_of("co2_eq_emissions")),
                "no \"co2_eq_emissions\" (or energy) figure in the metadata".into(),
            );
        }
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

    fn files_rules(&mut self, data: &Map<String, Value>) {
        let Some(files) = self.opts.files else { return };
        let entries = files.entries();
        // META-004: a licence file agreeing with the declared licence.
        let declared: Vec<String> = self
            .card
            .list_field("license")
            .into_iter()
            .filter(|d| licenses::get(d).is_some())
            .collect();
        let license_file = gate::LICENSE_FILES.iter().find(|f| files.exists(f));
        match license_file {
            None => {
                if !declared.is_empty() {
                    self.push(
                        "META-004",
                        Severity::Policy,
                        Some("license"),
                        "no LICENSE file at the repository root: add the licence text".into(),
                    );
                }
            }
            Some(f) => {
                let text = files.text(f).unwrap_or_default();
                if let Some(found) = detect_license(&text) {
                    let agrees = declared.iter().any(|d| {
                        d == found
                            || licenses::get(d).is_some_and(|l| {
                                licenses::get(found).is_some_and(|g| {
                                    l.lineage().0 == g.lineage().0 && l.lineage().0 != l.id
                                })
                            })
                            || (d == "other")
                    });
                    if !declared.is_empty() && !agrees {
                        self.push(
                            "META-004",
                            Severity::Policy,
                            Some("license"),
                            format!(
                                "{f} reads like {found} but the card declares {}",
                                declared.join(", ")
                            ),
                        );
                    }
                }
            }
        }
        // PROV-003: adapter_config.json names the card's base model.
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
        // PROV-004: merges ship their recipe.
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
        // LIC-008: GGUF files name the same licence and parents as the card.
        let quantised_gguf = self.gguf_metadata(files, &entries);
        // PROV-002: a quantised variant says so.
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
        // PROV-005: a signature to verify.
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
        // GATE-001: a gate on a repository that claims to be open.
        let gated = data.get("extra_gated_prompt").is_some()
            || data.get("extra_gated_fields").is_some()
            || data
                .get("gated")
                .is_some_and(|g| g.as_bool() != Some(false));
        let claims_open = self.card.list_field("tags").iter().any(|t| {
            matches!(
                t.to_ascii_lowercase().as_str(),
                "open-weight" | "open-weights" | "open-source-ai" | "osaid" | "owd"
            )
        });
        if gated && claims_open {
            self.push(
                "GATE-001",
                Severity::Warning,
                Some("tags"),
                "the card claims open weights but declares a gate: OWD criteria 7 and 10 exclude a gate that acts as the licence condition".into(),
            );
        }
        // SEC-001: pickle-based weights.
        let pickles: Vec<&str> = entries
            .iter()
            .map(|e| e.path.as_str())
            .filter(|p| {
                let l = p.to_ascii_lowercase();
                [".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"]
                    .iter()
                    .any(|x| l.ends_with(x))
            })
            .collect();
        if !pickles.is_empty() {
            self.at(
                "SEC-001",
                Severity::Warning,
                None,
                format!(
                    "pickle-based files ({}): loading them can run code; publish safetensors instead",
                    pickles.iter().take(5).copied().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
}

impl Linter<'_> {
    fn eu_rules(&mut self, data: &Map<String, Value>) {
        let params = self.opts.files.and_then(crate::eu::parameter_count);
        for (rule, severity, field, message) in crate::eu::findings(data, self.opts.files, params) {
            self.push(rule, severity, field, message);
        }
    }

    /// LIC-001..007 on the resolved parents, through the derived-licence check.
    fn licence_rules(&mut self, data: &Map<String, Value>) {
        let bases = self.card.list_field("base_model");
        if bases.is_empty() {
            return;
        }
        let Some(parents) = self.opts.parents else {
            self.push(
                "LIC-001",
                Severity::Info,
                Some("base_model"),
                "the parents' licences were not resolved here: `wh license check` (with --endpoint) checks the licence against them".into(),
            );
            return;
        };
        let files = self.opts.files;
        let first = |names: &[&str]| files.and_then(|f| names.iter().find_map(|n| f.text(n)));
        let child = crate::derive::Child {
            license: data
                .get("license")
                .and_then(Value::as_str)
                .map(str::to_string),
            name: data
                .get("model-index")
                .and_then(|m| m[0]["name"].as_str())
                .map(str::to_string)
                .unwrap_or_default(),
            relation: data
                .get("base_model_relation")
                .and_then(Value::as_str)
                .and_then(crate::derive::Relation::parse),
            card: self.card.text.clone(),
            license_text: first(gate::LICENSE_FILES),
            notice: first(crate::derive::NOTICE_FILES),
            pipeline_tag: data
                .get("pipeline_tag")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        let outcome = crate::derive::check(&child, parents);
        for f in &outcome.findings {
            // Naming needs the published name, which a card alone does not give.
            if f.term == "naming" && child.name.is_empty() {
                continue;
            }
            let severity = if f.level == "error" {
                Severity::Policy
            } else {
                Severity::Warning
            };
            self.push(f.rule, severity, Some("license"), f.message.clone());
        }
        for d in outcome.unmet_duties() {
            self.push(
                d.rule,
                Severity::Policy,
                Some("base_model"),
                format!("{} (from {})", d.what, d.parent),
            );
        }
    }

    /// LIC-008; returns whether a GGUF file holds quantised tensors.
    fn gguf_metadata(&mut self, files: &dyn Files, entries: &[crate::files::Entry]) -> bool {
        let mut quantised = false;
        let declared = self.card.list_field("license");
        let bases = self.card.list_field("base_model");
        for e in entries
            .iter()
            .filter(|e| e.path.to_ascii_lowercase().ends_with(".gguf"))
            .take(8)
        {
            let limits = weighhouse_tensor::Limits::default();
            let Some(prefix) = files.read_prefix(&e.path, crate::files::HEADER_PREFIX.min(e.size))
            else {
                continue;
            };
            let Ok(Some(parsed)) = weighhouse_formats::gguf::parse_prefix(&prefix, e.size, &limits)
            else {
                continue;
            };
            quantised |= parsed.tensors.iter().any(|t| t.dtype.is_quantized());
            let meta = &parsed.metadata;
            if let Some(lic) = meta.get("general.license").and_then(Value::as_str) {
                let lower = lic.to_ascii_lowercase();
                let agrees = declared.iter().any(|d| {
                    *d == lower
                        || licenses::get(d).is_some_and(|l| l.spdx_id.eq_ignore_ascii_case(lic))
                });
                if !declared.is_empty() && !agrees {
                    self.push(
                        "LIC-008",
                        Severity::Warning,
                        Some("license"),
                        format!(
                            "{} says general.license = \"{lic}\" but the card declares {}",
                            e.path,
                            declared.join(", ")
                        ),
                    );
                }
            }
            // `general.base_model.count` says how many; files that omit it are read up to the
            // first missing index.
            let count = meta
                .get("general.base_model.count")
                .and_then(Value::as_u64)
                .unwrap_or(16);
            for i in 0..count.min(16) {
                let url = meta
                    .get(&format!("general.base_model.{i}.repo_url"))
                    .and_then(Value::as_str);
                let name = meta
                    .get(&format!("general.base_model.{i}.name"))
                    .and_then(Value::as_str);
                let known = bases.iter().any(|b| {
                    url.is_some_and(|u| u.trim_end_matches('/').ends_with(b.as_str()))
                        || name.is_some_and(|n| b.rsplit('/').next() == Some(n))
                });
                if url.is_none() && name.is_none() {
                    break;
                }
                if !known {
                    self.push(
                        "LIC-008",
                        Severity::Warning,
                        Some("base_model"),
                        format!(
                            "{} names base model {} but the card's base_model is [{}]",
                            e.path,
                            url.or(name).unwrap_or_default(),
                            bases.join(", ")
                        ),
                    );
                }
            }
        }
        quantised
    }
}

fn require_obj_str(
    r: &Map<String, Value>,
    key: &str,
    fields: &[&str],
    base: &str,
    errors: &mut Vec<(String, String)>,
) {
    match r.get(key) {
        Some(Value::Object(o)) => {
            for f in fields {
                match o.get(*f) {
                    Some(Value::String(_)) => {}
                    None | Some(Value::Null) => errors.push((
                        format!("{base}.{key}.{f}"),
                        format!("\"{base}.{key}.{f}\" is required"),
                    )),
                    Some(_) => errors.push((
                        format!("{base}.{key}.{f}"),
                        format!("\"{base}.{key}.{f}\" must be a string"),
                    )),
                }
            }
        }
        _ => errors.push((
            format!("{base}.{key}"),
            format!("\"{base}.{key}\" is required"),
        )),
    }
}

/// Which licence a licence text is, from phrases each licence's text carries; `None` when it is
/// not recognised.
pub fn detect_license(text: &str) -> Option<&'static str> {
    let t: String = text
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let has = |s: &str| t.contains(s);
    let table: &[(&str, &[&str])] = &[
        ("llama4", &["llama 4 community license"]),
        ("llama3.3", &["llama 3.3 community license"]),
        ("llama3.2", &["llama 3.2 community license"]),
        ("llama3.1", &["llama 3.1 community license"]),
        ("llama3", &["meta llama 3 community license"]),
        ("llama2", &["llama 2 community license"]),
        ("gemma", &["gemma terms of use"]),
        ("bigscience-bloom-rail-1.0", &["bigscience rail license"]),
        ("creativeml-openrail-m", &["creativeml open rail-m"]),
        ("bigcode-openrail-m", &["bigcode open rail-m"]),
        ("bigscience-openrail-m", &["bigscience open rail-m"]),
        ("openrail++", &["openrail++"]),
        ("openrail", &["open rail", "openrail"]),
        ("openmdw-1.0", &["openmdw", "open model, data & weights"]),
        (
            "agpl-3.0",
            &["gnu affero general public license", "version 3"],
        ),
        (
            "lgpl-3.0",
            &["gnu lesser general public license", "version 3"],
        ),
        (
            "lgpl-2.1",
            &["gnu lesser general public license", "version 2.1"],
        ),
        ("gpl-3.0", &["gnu general public license", "version 3"]),
        ("gpl-2.0", &["gnu general public license", "version 2"]),
        ("apache-2.0", &["apache license", "version 2.0"]),
        ("mpl-2.0", &["mozilla public license", "2.0"]),
        (
            "cc-by-nc-sa-4.0",
            &["attribution-noncommercial-sharealike 4.0"],
        ),
        (
            "cc-by-nc-nd-4.0",
            &["attribution-noncommercial-noderivatives 4.0"],
        ),
        ("cc-by-nc-4.0", &["attribution-noncommercial 4.0"]),
        ("cc-by-nd-4.0", &["attribution-noderivatives 4.0"]),
        ("cc-by-sa-4.0", &["attribution-sharealike 4.0"]),
        ("cc-by-4.0", &["attribution 4.0 international"]),
        ("cc0-1.0", &["cc0 1.0 universal"]),
        (
            "cdla-permissive-2.0",
            &[
                "community data license agreement",
                "permissive",
                "version 2.0",
            ],
        ),
        (
            "bsd-3-clause",
            &[
                "redistribution and use in source and binary forms",
                "neither the name",
            ],
        ),
        (
            "bsd-2-clause",
            &["redistribution and use in source and binary forms"],
        ),
        ("mit", &["permission is hereby granted, free of charge"]),
        (
            "unlicense",
            &["this is free and unencumbered software released into the public domain"],
        ),
    ];
    table
        .iter()
        .find(|(_, phrases)| phrases.iter().all(|p| has(p)))
        .map(|(id, _)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::MemFiles;

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
}
