//! The facts the openness rules read, gathered once per evaluation ([`Scan`]): every file of the
//! listing classified (weights, shards, code, settings, documents, samples), the weight headers
//! checked, the card's links, sections and fields read, the branches and tags looked at, and the
//! declared licences.

use std::collections::BTreeSet;

use serde_json::Value;

use super::criterion::Evidence;
use super::headers::{self, HeaderCheck};
use super::libraries::library_license;
use super::mof::{MofYml, canonical_license};
use super::names::{
    WeightFormat, is_checkpoint_dir, is_pickle, is_step_ref, is_training_state, quant_in_name,
    weight_format,
};
use super::repo::{Repo, is_paper_url, is_vcs_url};
use super::report::{Context, LicenseFact};
use crate::{gate, licenses, lint};

/// Weight files header-checked per evaluation (shards beyond are listed, not read).
const MAX_HEADER_CHECKS: usize = 256;

/// `1 weight file`, `2 weight files`.
pub(super) fn count(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

#[derive(Debug, Clone)]
pub(super) struct WeightFile {
    pub(super) path: String,
    pub(super) size: u64,
    pub(super) format: WeightFormat,
    /// Inside a training checkpoint folder (`checkpoint-500/`, `step1000/`).
    pub(super) intermediate: bool,
}

/// A sharded index and what it lacks.
#[derive(Debug)]
pub(super) struct IndexCheck {
    pub(super) path: String,
    pub(super) shards: usize,
    pub(super) missing: Vec<String>,
    pub(super) error: Option<String>,
}

/// Facts gathered once and shared by the rules.
pub(super) struct Scan {
    pub(super) licenses: Vec<LicenseFact>,
    pub(super) weights: Vec<WeightFile>,
    pub(super) headers: Vec<HeaderCheck>,
    pub(super) unchecked: usize,
    pub(super) indexes: Vec<IndexCheck>,
    pub(super) encrypted: Vec<String>,
    pub(super) quant: Vec<Evidence>,
    pub(super) pickles: Vec<String>,
    /// `library_name` (declared or inferred), how it was found, and its licence when it is a
    /// known open library.
    pub(super) library: Option<(String, String, Option<&'static str>)>,
    pub(super) arch_config: Vec<Evidence>,
    pub(super) arch_code: Vec<Evidence>,
    pub(super) train_files: Vec<Evidence>,
    pub(super) train_links: Vec<Evidence>,
    pub(super) data_code_files: Vec<Evidence>,
    pub(super) data_code_links: Vec<Evidence>,
    pub(super) inference_files: Vec<Evidence>,
    pub(super) start_code: Vec<Evidence>,
    pub(super) hyper: Vec<Evidence>,
    pub(super) hyper_pickle: Vec<Evidence>,
    pub(super) metadata: Vec<Evidence>,
    pub(super) support: Vec<Evidence>,
    pub(super) papers: Vec<Evidence>,
    pub(super) eval_results: Vec<Evidence>,
    pub(super) eval_data: Vec<Evidence>,
    pub(super) eval_code: Vec<Evidence>,
    pub(super) samples: Vec<Evidence>,
    pub(super) intermediate: Vec<Evidence>,
    pub(super) data_cards: Vec<Evidence>,
    /// The code licence: `mof.yml` code licence, else the declared licences.
    pub(super) code_licenses: Vec<String>,
    /// The document licence, likewise.
    pub(super) document_licenses: Vec<String>,
    pub(super) gated: bool,
    pub(super) gate_agreement: bool,
}

impl Scan {
    pub(super) fn run(repo: &Repo<'_>, ctx: &Context, yml: Option<&MofYml>) -> Self {
        let mut s = Scan {
            licenses: declared_licenses(repo, yml),
            weights: Vec::new(),
            headers: Vec::new(),
            unchecked: 0,
            indexes: Vec::new(),
            encrypted: Vec::new(),
            quant: Vec::new(),
            pickles: Vec::new(),
            library: None,
            arch_config: Vec::new(),
            arch_code: Vec::new(),
            train_files: Vec::new(),
            train_links: Vec::new(),
            data_code_files: Vec::new(),
            data_code_links: Vec::new(),
            inference_files: Vec::new(),
            start_code: Vec::new(),
            hyper: Vec::new(),
            hyper_pickle: Vec::new(),
            metadata: Vec::new(),
            support: Vec::new(),
            papers: Vec::new(),
            eval_results: Vec::new(),
            eval_data: Vec::new(),
            eval_code: Vec::new(),
            samples: Vec::new(),
            intermediate: Vec::new(),
            data_cards: Vec::new(),
            code_licenses: Vec::new(),
            document_licenses: Vec::new(),
            gated: false,
            gate_agreement: false,
        };
        let ids: Vec<String> = s.licenses.iter().map(|l| l.id.clone()).collect();
        s.code_licenses = yml
            .and_then(|y| y.type_licenses.get("code").cloned())
            .map(|l| vec![l])
            .unwrap_or_else(|| ids.clone());
        s.document_licenses = yml
            .and_then(|y| y.type_licenses.get("document").cloned())
            .map(|l| vec![l])
            .unwrap_or(ids);
        s.files(repo);
        s.weight_headers(repo);
        s.card_signals(repo);
        s.refs(ctx);
        let card_gated = match repo.data.get("gated") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(v)) => !matches!(v.as_str(), "false" | "no" | ""),
            _ => false,
        };
        s.gate_agreement = repo.data.contains_key("extra_gated_prompt")
            || repo.data.contains_key("extra_gated_fields");
        s.gated = ctx.gated.unwrap_or(card_gated || s.gate_agreement);
        s
    }

    /// Classify every file of the listing.
    fn files(&mut self, repo: &Repo<'_>) {
        for (path, &size) in &repo.sizes {
            let lower = path.to_ascii_lowercase();
            let (dir, name) = lower.rsplit_once('/').unwrap_or(("", lower.as_str()));
            let top = dir.is_empty();
            let in_checkpoint = dir.split('/').any(is_checkpoint_dir);
            if let Some(format) = weight_format(name) {
                self.weights.push(WeightFile {
                    path: path.clone(),
                    size,
                    format,
                    intermediate: in_checkpoint,
                });
            }
            if is_pickle(name) {
                self.pickles.push(path.clone());
            }
            if [".enc", ".encrypted", ".gpg", ".age", ".aes"]
                .iter()
                .any(|x| name.ends_with(x))
            {
                self.encrypted.push(path.clone());
            }
            if [
                ".safetensors.index.json",
                ".bin.index.json",
                ".pt.index.json",
            ]
            .iter()
            .any(|x| name.ends_with(x))
            {
                self.indexes.push(check_index(repo, path));
            }
            let code = name.ends_with(".py") || name.ends_with(".sh") || name.ends_with(".ipynb");
            let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
            // Training code and recipes.
            if (code
                && [
                    "train",
                    "finetune",
                    "fine_tune",
                    "pretrain",
                    "sft",
                    "run_clm",
                    "run_mlm",
                ]
                .iter()
                .any(|p| name.starts_with(p)))
                || (yaml && name.starts_with("axolotl"))
            {
                self.train_files
                    .push(Evidence::new(path, None, "training code in the repository"));
            }
            // Data processing code.
            let data_dir = dir.split('/').any(|d| {
                matches!(
                    d,
                    "data" | "data_processing" | "preprocessing" | "data_prep"
                )
            });
            if code
                && ([
                    "preprocess",
                    "prepare",
                    "data_prep",
                    "clean",
                    "filter",
                    "dedup",
                    "tokenize",
                ]
                .iter()
                .any(|p| name.starts_with(p))
                    || data_dir)
            {
                self.data_code_files.push(Evidence::new(
                    path,
                    None,
                    "data processing code in the repository",
                ));
            }
            // Architecture and inference code.
            if code && name.starts_with("modeling_") {
                self.arch_code.push(Evidence::new(
                    path,
                    None,
                    "model architecture code in the repository",
                ));
            }
            if code
                && [
                    "inference",
                    "handler",
                    "predict",
                    "generate",
                    "run_inference",
                    "pipeline",
                ]
                .iter()
                .any(|p| name.starts_with(p))
            {
                self.inference_files.push(Evidence::new(
                    path,
                    None,
                    "inference code in the repository",
                ));
            }
            // Evaluation code.
            let eval_dir = dir.split('/').any(|d| {
                matches!(
                    d,
                    "eval" | "evals" | "evaluation" | "lm_eval" | "benchmarks"
                )
            });
            if ((code || yaml) && eval_dir)
                || (code
                    && ["eval", "evaluate", "run_eval", "benchmark"]
                        .iter()
                        .any(|p| name.starts_with(p)))
            {
                self.eval_code.push(Evidence::new(
                    path,
                    None,
                    "evaluation code in the repository",
                ));
            }
            if lower.starts_with(".eval_results/") && yaml {
                self.eval_results
                    .push(Evidence::new(path, None, "evaluation results file"));
                if let Some(v) = repo.yaml(path) {
                    let entries = match &v {
                        Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    };
                    for e in entries {
                        if let Some(id) = e["dataset"]["id"].as_str() {
                            self.eval_data.push(Evidence::new(
                                path,
                                Some("dataset.id"),
                                id.to_string(),
                            ));
                        }
                    }
                }
            }
            // Hyperparameters, training state and metadata.
            let hyper_file = matches!(
                name,
                "trainer_state.json"
                    | "training_args.json"
                    | "training_config.json"
                    | "training_config.yaml"
                    | "training_config.yml"
                    | "train_config.json"
                    | "train_config.yaml"
                    | "hparams.yaml"
                    | "hparams.json"
                    | "hyperparameters.json"
                    | "hyperparameters.yaml"
                    | "args.json"
            ) || (yaml && name.starts_with("axolotl"));
            if hyper_file {
                self.hyper
                    .push(Evidence::new(path, None, "training settings file"));
                self.metadata
                    .push(Evidence::new(path, None, "training configuration"));
            }
            if name == "training_args.bin" {
                self.hyper_pickle.push(Evidence::new(
                    path,
                    None,
                    "training arguments, pickled (not read)",
                ));
                self.metadata
                    .push(Evidence::new(path, None, "training arguments"));
            }
            if is_training_state(name) && name != "training_args.bin" {
                self.metadata
                    .push(Evidence::new(path, None, "optimizer or scheduler state"));
            }
            // Supporting libraries.
            if top
                && (name.starts_with("requirements") && name.ends_with(".txt")
                    || matches!(
                        name,
                        "pyproject.toml"
                            | "setup.py"
                            | "setup.cfg"
                            | "environment.yml"
                            | "environment.yaml"
                            | "pipfile"
                    ))
            {
                self.support
                    .push(Evidence::new(path, None, "dependency list"));
            }
            // Papers and reports.
            if name.ends_with(".pdf") {
                self.papers
                    .push(Evidence::new(path, None, "document in the repository"));
            }
            // Data cards.
            if matches!(
                name,
                "data_card.md"
                    | "datacard.md"
                    | "data-card.md"
                    | "datasheet.md"
                    | "training-data-summary.md"
                    | "training_data_summary.md"
            ) {
                self.data_cards.push(Evidence::new(path, None, "data card"));
            }
            // Samples.
            if self.samples.is_empty()
                && dir
                    .split('/')
                    .next()
                    .is_some_and(|d| matches!(d, "samples" | "sample_outputs" | "generations"))
            {
                self.samples
                    .push(Evidence::new(path, None, "sample outputs folder"));
            }
            // Quantisation files.
            if matches!(name, "quantize_config.json" | "quant_config.json") {
                self.quant.push(Evidence::new(
                    path,
                    None,
                    "quantisation settings (GPTQ/AWQ)",
                ));
            }
            if name.ends_with(".gguf")
                && let Some(q) = quant_in_name(name)
            {
                self.quant.push(Evidence::new(
                    path,
                    None,
                    format!("GGUF quantisation {q} in the name"),
                ));
            }
        }
        // Intermediate checkpoint folders, once each.
        let dirs: BTreeSet<String> = self
            .weights
            .iter()
            .filter(|w| w.intermediate)
            .filter_map(|w| w.path.rsplit_once('/').map(|x| x.0.to_string()))
            .collect();
        for d in dirs.iter().take(10) {
            self.intermediate.push(Evidence::new(
                &format!("{d}/"),
                None,
                "intermediate checkpoint folder",
            ));
        }
        if dirs.len() > 10 {
            self.intermediate.push(Evidence::new(
                "",
                None,
                format!("{} more checkpoint folders", dirs.len() - 10),
            ));
        }
        // config.json facts.
        if let Some(cfg) = &repo.config {
            if let Some(q) = cfg.get("quantization_config") {
                let method = q["quant_method"].as_str().unwrap_or("unnamed");
                self.quant.push(Evidence::new(
                    "config.json",
                    Some("quantization_config"),
                    format!("quantisation method {method}"),
                ));
            }
            let arch = cfg
                .get("architectures")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|a| !a.is_empty());
            let model_type = cfg.get("model_type").and_then(Value::as_str);
            if arch.is_some() || model_type.is_some() {
                let what = [arch.as_deref(), model_type]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" / ");
                self.arch_config.push(Evidence::new(
                    "config.json",
                    Some("architectures"),
                    format!("architecture {what}"),
                ));
            }
            if cfg.contains_key("auto_map") && !self.arch_code.is_empty() {
                self.arch_code.push(Evidence::new(
                    "config.json",
                    Some("auto_map"),
                    "auto_map points at code in the repository",
                ));
            }
        }
    }

    fn weight_headers(&mut self, repo: &Repo<'_>) {
        let mut checkable: Vec<&WeightFile> = self
            .weights
            .iter()
            .filter(|w| matches!(w.format, WeightFormat::Safetensors | WeightFormat::Gguf))
            .collect();
        // Final weights first.
        checkable.sort_by_key(|w| w.intermediate);
        self.unchecked = checkable.len().saturating_sub(MAX_HEADER_CHECKS);
        for w in checkable.into_iter().take(MAX_HEADER_CHECKS) {
            let check = match w.format {
                WeightFormat::Gguf => headers::gguf(repo.files, &w.path, w.size),
                _ => headers::safetensors(repo.files, &w.path, w.size),
            };
            for q in &check.quant {
                if !self.quant.iter().any(|e| e.file == w.path) {
                    let what = if w.format == WeightFormat::Gguf {
                        format!("quantised tensor type {q}")
                    } else {
                        q.clone()
                    };
                    self.quant.push(Evidence::new(&w.path, None, what));
                }
            }
            if let Some(a) = check.meta.get("general.architecture")
                && self.arch_config.is_empty()
            {
                self.arch_config.push(Evidence::new(
                    &w.path,
                    Some("general.architecture"),
                    format!("GGUF architecture {a}"),
                ));
            }
            self.headers.push(check);
        }
    }

    fn card_signals(&mut self, repo: &Repo<'_>) {
        // The library: declared, or inferred from the files.
        let declared = repo.str_field("library_name");
        let config_tf = repo
            .config
            .as_ref()
            .is_some_and(|c| c.contains_key("transformers_version"));
        let diffusers = repo
            .json("model_index.json")
            .is_some_and(|v| v.get("_diffusers_version").is_some());
        let gguf = self.weights.iter().any(|w| w.format == WeightFormat::Gguf);
        self.library = if let Some(l) = declared {
            let lic = library_license(&l);
            Some((l, "README.md library_name".into(), lic))
        } else if config_tf {
            Some((
                "transformers".into(),
                "config.json transformers_version".into(),
                library_license("transformers"),
            ))
        } else if diffusers {
            Some((
                "diffusers".into(),
                "model_index.json _diffusers_version".into(),
                library_license("diffusers"),
            ))
        } else if gguf {
            Some((
                "gguf".into(),
                "GGUF weights".into(),
                library_license("gguf"),
            ))
        } else {
            None
        };

        // Links in the card.
        let sources = ["model sources", "sources", "links", "resources", "code"];
        for link in &repo.links {
            let ctx = &link.context;
            let in_sources = sources
                .iter()
                .any(|s| link.section == *s || link.section.starts_with(&format!("{s} ")));
            if is_vcs_url(&link.url) {
                let data_section = ["preprocessing", "training data", "data", "data processing"]
                    .iter()
                    .any(|s| link.section.starts_with(s));
                let data_words = ctx.contains("data") || ctx.contains("preprocess");
                if data_section
                    || (data_words
                        && (ctx.contains("code")
                            || ctx.contains("pipeline")
                            || ctx.contains("script")))
                {
                    self.data_code_links.push(Evidence::new(
                        "README.md",
                        Some(format!("line {}", link.line).as_str()),
                        format!("data processing code linked: {}", link.url),
                    ));
                }
                if in_sources
                    || ["repository", "code", "training", "github", "source"]
                        .iter()
                        .any(|w| ctx.contains(w))
                {
                    self.train_links.push(Evidence::new(
                        "README.md",
                        Some(format!("line {}", link.line).as_str()),
                        format!("code repository linked: {}", link.url),
                    ));
                }
                if ctx.contains("eval") || link.section.starts_with("evaluation") {
                    self.eval_code.push(Evidence::new(
                        "README.md",
                        Some(format!("line {}", link.line).as_str()),
                        format!("evaluation code linked: {}", link.url),
                    ));
                }
            }
            if is_paper_url(&link.url) {
                self.papers.push(Evidence::new(
                    "README.md",
                    Some(format!("line {}", link.line).as_str()),
                    format!("paper: {}", link.url),
                ));
            }
        }
        for tag in repo.list_field("tags") {
            if let Some(id) = tag.strip_prefix("arxiv:") {
                self.papers.push(Evidence::new(
                    "README.md",
                    Some("tags"),
                    format!("arxiv:{id}"),
                ));
            }
        }

        // How to get started: a code block.
        if let Some(sec) = repo.section(&[
            "how to get started with the model",
            "how to get started",
            "usage",
            "quickstart",
        ]) && sec.content.contains("```")
        {
            self.start_code.push(Evidence::new(
                "README.md",
                Some(sec.title.as_str()),
                "usage code in the card",
            ));
        }
        // Hyperparameters in the card.
        if let Some(sec) = repo.filled(&["training hyperparameters", "hyperparameters"]) {
            self.hyper.insert(
                0,
                Evidence::new(
                    "README.md",
                    Some(sec.title.as_str()),
                    "hyperparameters described",
                ),
            );
        }
        // Evaluation results and data.
        if let Some(Value::Array(index)) = repo.data.get("model-index") {
            let results: Vec<&Value> = index
                .iter()
                .filter_map(|m| m.get("results").and_then(Value::as_array))
                .flatten()
                .collect();
            if !results.is_empty() {
                self.eval_results.insert(
                    0,
                    Evidence::new(
                        "README.md",
                        Some("model-index"),
                        format!("{} evaluation results", results.len()),
                    ),
                );
            }
            let mut seen = BTreeSet::new();
            for r in results {
                if let Some(d) = r["dataset"]["type"].as_str()
                    && seen.insert(d.to_string())
                {
                    self.eval_data.push(Evidence::new(
                        "README.md",
                        Some("model-index.results.dataset.type"),
                        d.to_string(),
                    ));
                }
            }
        }
        if let Some(sec) = repo.filled(&["results", "evaluation results"]) {
            self.eval_results.push(Evidence::new(
                "README.md",
                Some(sec.title.as_str()),
                "results reported in the card",
            ));
        }
        if let Some(sec) = repo.filled(&["testing data"]) {
            self.eval_data.push(Evidence::new(
                "README.md",
                Some(sec.title.as_str()),
                "testing data described",
            ));
        }
        // Samples.
        if repo
            .data
            .get("widget")
            .and_then(Value::as_array)
            .is_some_and(|w| !w.is_empty())
        {
            self.samples.push(Evidence::new(
                "README.md",
                Some("widget"),
                "widget examples",
            ));
        }
        if repo
            .card
            .as_ref()
            .is_some_and(|c| c.body().contains("<Gallery"))
        {
            self.samples
                .push(Evidence::new("README.md", None, "image gallery"));
        }
        // Data card inside the model card (MOT rule).
        if let Some(sec) = repo.filled(&["training data"]) {
            self.data_cards.push(Evidence::new(
                "README.md",
                Some(sec.title.as_str()),
                "training data described in the model card",
            ));
        }
    }

    fn refs(&mut self, ctx: &Context) {
        let steps: Vec<&String> = ctx.refs.iter().filter(|r| is_step_ref(r)).collect();
        if !steps.is_empty() {
            let shown: Vec<&str> = steps.iter().take(5).map(|s| s.as_str()).collect();
            let more = if steps.len() > 5 {
                format!(" and {} more", steps.len() - 5)
            } else {
                String::new()
            };
            self.intermediate.push(Evidence::new(
                "refs",
                None,
                format!(
                    "{} branches/tags of intermediate checkpoints: {}{more}",
                    steps.len(),
                    shown.join(", ")
                ),
            ));
        }
    }

    pub(super) fn final_weights(&self) -> impl Iterator<Item = &WeightFile> {
        self.weights.iter().filter(|w| !w.intermediate)
    }
}

/// The licences the repository declares: the card's `license`, else `mof.yml`'s distribution
/// licence, else what the licence file's text reads as.
fn declared_licenses(repo: &Repo<'_>, yml: Option<&MofYml>) -> Vec<LicenseFact> {
    let fact = |id: String, source: String| {
        let row = licenses::get(&id).or_else(|| licenses::get(&canonical_license(&id)));
        LicenseFact {
            table_id: row.map(|r| r.id.clone()),
            owd_v0_3: row.map(|r| r.owd_v0_3.clone()),
            osaid_params_terms: row.map(|r| r.osaid_params_terms.clone()),
            mof_weights: row.map(|r| r.mof_type_appropriate_for_weights.clone()),
            id,
            source,
        }
    };
    let card = repo.list_field("license");
    if !card.is_empty() {
        return card
            .into_iter()
            .map(|l| fact(l, "README.md".into()))
            .collect();
    }
    if let Some(l) = yml.and_then(|y| y.distribution_license.clone()) {
        return vec![fact(l, yml.map(|y| y.path.clone()).unwrap_or_default())];
    }
    for f in gate::LICENSE_FILES {
        if let Some(text) = repo.text(f)
            && let Some(id) = lint::detect_license(&text)
        {
            return vec![fact(
                id.to_string(),
                format!("{f} (detected from its text)"),
            )];
        }
    }
    Vec::new()
}

fn check_index(repo: &Repo<'_>, path: &str) -> IndexCheck {
    let mut out = IndexCheck {
        path: path.to_string(),
        shards: 0,
        missing: Vec::new(),
        error: None,
    };
    let Some(doc) = repo.json(path) else {
        out.error = Some("cannot be read as JSON".into());
        return out;
    };
    let Some(map) = doc.get("weight_map").and_then(Value::as_object) else {
        out.error = Some("has no weight_map".into());
        return out;
    };
    let dir = path.rsplit_once('/').map(|x| x.0);
    let shards: BTreeSet<&str> = map.values().filter_map(Value::as_str).collect();
    out.shards = shards.len();
    for s in shards {
        let bad = s.is_empty() || s.split('/').any(|c| c == ".." || c.is_empty());
        let full = match dir {
            Some(d) => format!("{d}/{s}"),
            None => s.to_string(),
        };
        if bad || !repo.exists(&full) {
            out.missing.push(full);
        }
    }
    out
}
