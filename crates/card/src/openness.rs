//! How open a model repository is, under three definitions computed independently: the Open
//! Weight Definition v0.3 (licence and artefact rules), the OSI Open Source AI Definition 1.0
//! (code and data information; never more than "review", since a person must judge it), and the
//! Model Openness Framework (17 components, classes III to I, as the Model Openness Tool rates
//! them), plus provenance and safety findings.
//!
//! [`evaluate`] reads only what [`crate::files::wanted`] loads (texts, and the first bytes of
//! weight files), so the hub can run it on every commit.

mod headers;
mod mof;
mod repo;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use mof::{
    ClassStatus, Component, ContentType, Declared, LicenseStatus, Mof, MofYml, canonical_license,
    class_label, component_names, license_status,
};

use self::headers::HeaderCheck;
use self::mof::Found;
use self::repo::{Repo, is_filled, is_paper_url, is_vcs_url, urls_in};
use crate::files::Files;
use crate::{gate, licenses, lint};

/// What is known about the repository besides its files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    /// `namespace/name`, when the repository is on a hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_id: Option<String>,
    /// The revision evaluated (a branch, tag or commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Whether access is gated; `None` when unknown (a local folder): then the card's
    /// `gated`/`extra_gated_*` fields decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gated: Option<bool>,
    /// Names of the repository's branches and tags (intermediate checkpoints such as `step1000`).
    #[serde(default)]
    pub refs: Vec<String>,
}

/// The outcome of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verdict {
    /// Holds.
    #[serde(rename = "pass")]
    Pass,
    /// Holds, with a caveat.
    #[serde(rename = "warn")]
    Warn,
    /// A person has to decide.
    #[serde(rename = "review")]
    Review,
    /// Does not hold.
    #[serde(rename = "fail")]
    Fail,
    /// Does not apply.
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl Verdict {
    /// `pass`, `warn`, `review`, `fail`, `n/a`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Review => "review",
            Self::Fail => "fail",
            Self::NotApplicable => "n/a",
        }
    }

    fn rank(self) -> u8 {
        match self {
            Self::NotApplicable => 0,
            Self::Pass => 1,
            Self::Warn => 2,
            Self::Review => 3,
            Self::Fail => 4,
        }
    }

    /// The worse of two verdicts (fail > review > warn > pass > n/a).
    pub fn worst(self, other: Self) -> Self {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    /// Pass, warn or n/a: nothing stands in the way.
    pub fn is_ok(self) -> bool {
        matches!(self, Self::Pass | Self::Warn | Self::NotApplicable)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a rule looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The file (repository path), or `refs` for branches and tags.
    pub file: String,
    /// The front-matter field, JSON key or section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What it showed.
    pub detail: String,
}

impl Evidence {
    /// Evidence from `file`.
    pub fn new(file: &str, field: Option<&str>, detail: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            field: field.map(str::to_string),
            detail: detail.into(),
        }
    }
}

/// One rule's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    /// Rule id (`OWD-2a`, `OSAID-C1`, `SEC-001`).
    pub id: String,
    /// What it checks.
    pub title: String,
    /// The outcome.
    pub verdict: Verdict,
    /// What it looked at.
    pub evidence: Vec<Evidence>,
    /// What would be needed for it to pass.
    pub missing: Vec<String>,
}

impl Criterion {
    fn new(id: &str, title: &str) -> Self {
        Self {
            id: id.to_string(),
            title: title.to_string(),
            verdict: Verdict::NotApplicable,
            evidence: Vec::new(),
            missing: Vec::new(),
        }
    }

    fn set(mut self, verdict: Verdict) -> Self {
        self.verdict = verdict;
        self
    }

    fn ev(&mut self, file: &str, field: Option<&str>, detail: impl Into<String>) {
        self.evidence.push(Evidence::new(file, field, detail));
    }

    fn need(&mut self, what: impl Into<String>) {
        self.missing.push(what.into());
    }
}

/// A licence the repository declares, with the table's verdicts on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseFact {
    /// The id as declared (a Hub id, or an SPDX id in `mof.yml`).
    pub id: String,
    /// Where it was found: `README.md`, `mof.yml`, or a licence file (detected from its text).
    pub source: String,
    /// The row of the licence table it names, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_id: Option<String>,
    /// The table's OWD v0.3 verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owd_v0_3: Option<String>,
    /// The table's OSAID parameters verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osaid_params_terms: Option<String>,
    /// The table's MOF verdict for weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mof_weights: Option<String>,
}

/// The Open Weight Definition result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owd {
    /// `0.3`.
    pub version: String,
    /// Every criterion passes (warnings allowed).
    pub open_weight: bool,
    /// `Open Weight (OWD v0.3)`, `weights available`, or `no weights`.
    pub label: String,
    /// The criteria.
    pub criteria: Vec<Criterion>,
}

/// The Open Source AI Definition result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Osaid {
    /// `1.0`.
    pub version: String,
    /// `fail` when a required element is missing, else `review`: whether the information is
    /// "sufficiently detailed" is for a person to judge.
    pub verdict: Verdict,
    /// One line saying so.
    pub summary: String,
    /// The criteria.
    pub criteria: Vec<Criterion>,
}

/// Everything [`evaluate`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The repository id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The revision, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Labels a page may show: the OWD label and the MOF class, if any. "Open Source AI" is
    /// never among them: it needs a person's review.
    pub labels: Vec<String>,
    /// Declared licences.
    pub licenses: Vec<LicenseFact>,
    /// Open Weight Definition v0.3.
    pub owd: Owd,
    /// Open Source AI Definition 1.0.
    pub osaid: Osaid,
    /// Model Openness Framework.
    pub mof: Mof,
    /// Provenance and safety findings (PROV-001..004, SEC-001).
    pub findings: Vec<Criterion>,
}

/// Open-source libraries that implement model architectures and inference, with their licence
/// (SPDX). A repository naming one of these in `library_name` ships its architecture and
/// inference code by reference.
pub const OPEN_LIBRARIES: &[(&str, &str)] = &[
    ("transformers", "Apache-2.0"),
    ("diffusers", "Apache-2.0"),
    ("sentence-transformers", "Apache-2.0"),
    ("peft", "Apache-2.0"),
    ("timm", "Apache-2.0"),
    ("gguf", "MIT"),
    ("llama-cpp-python", "MIT"),
    ("mlx", "MIT"),
    ("mlx-lm", "MIT"),
    ("onnx", "Apache-2.0"),
    ("keras", "Apache-2.0"),
    ("keras-hub", "Apache-2.0"),
    ("tf-keras", "Apache-2.0"),
    ("open_clip", "MIT"),
    ("vllm", "Apache-2.0"),
    ("setfit", "Apache-2.0"),
    ("spacy", "MIT"),
    ("flair", "MIT"),
    ("fairseq", "MIT"),
    ("nemo", "Apache-2.0"),
    ("speechbrain", "Apache-2.0"),
    ("espnet", "Apache-2.0"),
    ("stanza", "Apache-2.0"),
    ("sklearn", "BSD-3-Clause"),
    ("fastai", "Apache-2.0"),
    ("pytorch", "BSD-3-Clause"),
    ("transformers.js", "Apache-2.0"),
    ("ctranslate2", "MIT"),
    ("model2vec", "MIT"),
    ("gliner", "Apache-2.0"),
    ("adapter-transformers", "Apache-2.0"),
    ("allennlp", "Apache-2.0"),
    ("asteroid", "MIT"),
    ("bertopic", "MIT"),
    ("pyannote-audio", "MIT"),
    ("stable-baselines3", "MIT"),
    ("ml-agents", "Apache-2.0"),
    ("paddlenlp", "Apache-2.0"),
    ("span-marker", "Apache-2.0"),
    ("fasttext", "MIT"),
    ("mlc-llm", "Apache-2.0"),
    ("openvino", "Apache-2.0"),
    ("optimum", "Apache-2.0"),
    ("jax", "Apache-2.0"),
    ("flax", "Apache-2.0"),
];

/// The licence of an open library named in `library_name`.
pub fn library_license(name: &str) -> Option<&'static str> {
    OPEN_LIBRARIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, l)| *l)
}

/// Weight files header-checked per evaluation (shards beyond are listed, not read).
const MAX_HEADER_CHECKS: usize = 256;

/// `1 weight file`, `2 weight files`.
fn count(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Evaluate `files` under OWD, OSAID and MOF.
pub fn evaluate(files: &dyn Files, ctx: &Context) -> Report {
    let repo = Repo::new(files);
    let yml = mof::read_mof_yml(&repo);
    let scan = Scan::run(&repo, ctx, yml.as_ref());

    let owd = owd(&repo, ctx, &scan);
    let osaid = osaid(&repo, &scan, yml.as_ref());
    let mut found = scan.mof_found(&repo);
    let ids: Vec<String> = scan.licenses.iter().map(|l| l.id.clone()).collect();
    let mof = mof::evaluate(&mut found, &repo, &ids, yml);
    let findings = findings(&repo, &scan);

    let mut labels = vec![owd.label.clone()];
    if mof.class.is_some() {
        labels.push(mof.label.clone());
    }
    Report {
        repo: ctx.repo_id.clone(),
        revision: ctx.revision.clone(),
        labels,
        licenses: scan.licenses.clone(),
        owd,
        osaid,
        mof,
        findings,
    }
}

/// How a weight file is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WeightFormat {
    Safetensors,
    Gguf,
    Pickle,
    Other,
}

#[derive(Debug, Clone)]
struct WeightFile {
    path: String,
    size: u64,
    format: WeightFormat,
    /// Inside a training checkpoint folder (`checkpoint-500/`, `step1000/`).
    intermediate: bool,
}

/// A sharded index and what it lacks.
#[derive(Debug)]
struct IndexCheck {
    path: String,
    shards: usize,
    missing: Vec<String>,
    error: Option<String>,
}

/// Training-state files that are pickles but not weights.
fn is_training_state(name: &str) -> bool {
    name == "training_args.bin"
        || name.starts_with("optimizer.")
        || name.starts_with("scheduler.")
        || name.starts_with("scaler.")
        || name.starts_with("rng_state")
}

fn weight_format(lower_name: &str) -> Option<WeightFormat> {
    let ext = lower_name.rsplit_once('.').map(|x| x.1)?;
    if is_training_state(lower_name) {
        return None;
    }
    match ext {
        "safetensors" => Some(WeightFormat::Safetensors),
        "gguf" => Some(WeightFormat::Gguf),
        "bin" | "pt" | "pth" | "ckpt" | "pkl" | "pickle" => Some(WeightFormat::Pickle),
        "onnx" | "h5" | "keras" | "msgpack" | "npz" | "tflite" | "mlmodel" | "ot" => {
            Some(WeightFormat::Other)
        }
        _ => None,
    }
}

fn is_pickle(lower_name: &str) -> bool {
    [".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"]
        .iter()
        .any(|x| lower_name.ends_with(x))
}

/// A folder name of a training checkpoint: `checkpoint-500`, `step1000`, `global_step20`,
/// `iter_0001000`, `epoch-3`.
fn is_checkpoint_dir(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let digits_after = |p: &str| {
        n.strip_prefix(p)
            .map(|r| r.trim_start_matches(['-', '_']))
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    };
    ["checkpoint", "ckpt", "step", "global_step", "iter", "epoch"]
        .iter()
        .any(|p| digits_after(p))
}

/// A branch or tag that names an intermediate checkpoint (`step1000-tokens4B`, `checkpoint-500`,
/// `stage1-step2000`).
fn is_step_ref(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.split(['-', '_', '/', '.']).any(is_checkpoint_dir) || is_checkpoint_dir(&n)
}

/// A GGUF quantisation type in a file name (`model-Q4_K_M.gguf` → `Q4_K_M`).
fn quant_in_name(name: &str) -> Option<String> {
    let up = name.to_ascii_uppercase();
    let stem = up.strip_suffix(".GGUF").unwrap_or(&up);
    let b = stem.as_bytes();
    for i in 0..b.len() {
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if !boundary {
            continue;
        }
        let rest = &stem[i..];
        let after = rest
            .strip_prefix("IQ")
            .or_else(|| rest.strip_prefix("TQ"))
            .or_else(|| rest.strip_prefix('Q'));
        if let Some(a) = after
            && a.starts_with(|c: char| c.is_ascii_digit())
            && a[1..].starts_with(['_', 'K'])
        {
            let end = rest.find(['.', '-']).unwrap_or(rest.len());
            return Some(rest[..end].to_string());
        }
    }
    None
}

/// Words in tags or names that show a quantised form.
const QUANT_WORDS: &[&str] = &[
    "gguf",
    "ggml",
    "gptq",
    "awq",
    "exl2",
    "bnb",
    "bitsandbytes",
    "4bit",
    "8bit",
    "int4",
    "int8",
    "fp8",
    "nf4",
    "w4a16",
    "w8a8",
    "quantized",
    "quantised",
    "quant",
];

/// Whether tags or a name show a quantised form (`gguf`, `4-bit`, `Q4_K_M`, ...).
fn shows_quant(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    if t.contains("4-bit") || t.contains("8-bit") || quant_in_name(&t).is_some() {
        return true;
    }
    t.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| QUANT_WORDS.contains(&w) || w.starts_with("quantiz") || w.starts_with("quantis"))
}

/// Facts gathered once and shared by the rules.
struct Scan {
    licenses: Vec<LicenseFact>,
    weights: Vec<WeightFile>,
    headers: Vec<HeaderCheck>,
    unchecked: usize,
    indexes: Vec<IndexCheck>,
    encrypted: Vec<String>,
    quant: Vec<Evidence>,
    pickles: Vec<String>,
    /// `library_name` (declared or inferred), how it was found, and its licence when it is a
    /// known open library.
    library: Option<(String, String, Option<&'static str>)>,
    arch_config: Vec<Evidence>,
    arch_code: Vec<Evidence>,
    train_files: Vec<Evidence>,
    train_links: Vec<Evidence>,
    data_code_files: Vec<Evidence>,
    data_code_links: Vec<Evidence>,
    inference_files: Vec<Evidence>,
    start_code: Vec<Evidence>,
    hyper: Vec<Evidence>,
    hyper_pickle: Vec<Evidence>,
    metadata: Vec<Evidence>,
    support: Vec<Evidence>,
    papers: Vec<Evidence>,
    eval_results: Vec<Evidence>,
    eval_data: Vec<Evidence>,
    eval_code: Vec<Evidence>,
    samples: Vec<Evidence>,
    intermediate: Vec<Evidence>,
    data_cards: Vec<Evidence>,
    /// The code licence: `mof.yml` code licence, else the declared licences.
    code_licenses: Vec<String>,
    /// The document licence, likewise.
    document_licenses: Vec<String>,
    gated: bool,
    gate_agreement: bool,
}

impl Scan {
    fn run(repo: &Repo<'_>, ctx: &Context, yml: Option<&MofYml>) -> Self {
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

    fn final_weights(&self) -> impl Iterator<Item = &WeightFile> {
        self.weights.iter().filter(|w| !w.intermediate)
    }

    /// Evidence per MOF component id.
    fn mof_found(&self, repo: &Repo<'_>) -> BTreeMap<u32, Found> {
        let mut m: BTreeMap<u32, Found> = BTreeMap::new();
        let lib = self.library.as_ref();
        let lib_ev = lib.and_then(|(name, how, lic)| {
            lic.map(|l| {
                (
                    Evidence::new(
                        "README.md",
                        Some("library_name"),
                        format!("{name} ({l}), from {how}"),
                    ),
                    l.to_string(),
                )
            })
        });
        // 9 architecture: the library implements it, or code in the repository.
        let mut arch = Found::default();
        if !self.arch_code.is_empty() {
            arch.evidence.extend(self.arch_code.iter().cloned());
            arch.evidence.extend(self.arch_config.iter().cloned());
        } else if let Some((ev, l)) = &lib_ev
            && !self.arch_config.is_empty()
        {
            arch.evidence.extend(self.arch_config.iter().cloned());
            arch.evidence.push(ev.clone());
            arch.license = Some(l.clone());
        }
        m.insert(9, arch);
        // 10 final parameters.
        let mut params = Found::default();
        let finals: Vec<&WeightFile> = self.final_weights().collect();
        if !finals.is_empty() {
            let total: u64 = finals.iter().map(|w| w.size).sum();
            params.evidence.push(Evidence::new(
                &finals[0].path,
                None,
                format!("{}, {total} bytes", count(finals.len(), "weight file")),
            ));
        }
        m.insert(10, params);
        // 13 model card.
        let mut card = Found::default();
        let uses = lint::SECTIONS
            .iter()
            .find(|s| s.0 == "Uses")
            .map(|s| s.1)
            .unwrap_or(&[]);
        let limits = lint::SECTIONS
            .iter()
            .find(|s| s.0 == "Bias, Risks, and Limitations")
            .map(|s| s.1)
            .unwrap_or(&[]);
        if repo.has_front_matter() && repo.filled(uses).is_some() && repo.filled(limits).is_some() {
            card.evidence.push(Evidence::new(
                "README.md",
                None,
                "front matter, intended uses and limitations",
            ));
        }
        m.insert(13, card);
        m.insert(14, found(&self.data_cards));
        m.insert(11, found(&self.papers));
        m.insert(12, found(&self.eval_results));
        m.insert(20, found(&self.samples));
        // 7 training code.
        let mut train = found(&self.train_files);
        train.evidence.extend(self.train_links.iter().cloned());
        m.insert(7, train);
        // 8 inference code.
        let mut inference = found(&self.inference_files);
        inference.evidence.extend(self.arch_code.iter().cloned());
        if inference.evidence.is_empty()
            && let Some((ev, l)) = &lib_ev
        {
            inference.evidence.push(ev.clone());
            inference.license = Some(l.clone());
        }
        inference.evidence.extend(self.start_code.iter().cloned());
        m.insert(8, inference);
        m.insert(18, found(&self.eval_code));
        m.insert(19, found(&self.eval_data));
        let mut support = found(&self.support);
        if support.evidence.is_empty()
            && let Some((ev, l)) = &lib_ev
        {
            support.evidence.push(ev.clone());
            support.license = Some(l.clone());
        }
        m.insert(22, support);
        // 15 datasets.
        let mut datasets = Found::default();
        let ids = repo.list_field("datasets");
        if !ids.is_empty() {
            datasets.evidence.push(Evidence::new(
                "README.md",
                Some("datasets"),
                format!("{} (dataset licences not checked)", ids.join(", ")),
            ));
        }
        m.insert(15, datasets);
        let mut prep = found(&self.data_code_files);
        prep.evidence.extend(self.data_code_links.iter().cloned());
        m.insert(16, prep);
        m.insert(24, found(&self.intermediate));
        m.insert(21, found(&self.papers));
        m.insert(17, found(&self.metadata));
        m
    }
}

fn found(ev: &[Evidence]) -> Found {
    Found {
        evidence: ev.to_vec(),
        license: None,
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

/// The criteria list of a table verdict such as `fail (5,6,9)`.
fn failed_criteria(owd: &str) -> Vec<String> {
    owd.split_once('(')
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(inside, _)| {
            inside
                .split([',', ' ', ':'])
                .map(str::trim)
                .filter(|s| s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Phrases of licence texts that forbid improving other models (OWD criterion 9).
const NO_IMPROVING_OTHERS: &[&str] = &[
    "improve any other large language model",
    "to improve any other",
    "train or improve other",
    "to train, improve",
    "improve other large language models",
];

fn owd(repo: &Repo<'_>, ctx: &Context, scan: &Scan) -> Owd {
    let rows: Vec<(&LicenseFact, Option<&'static licenses::License>)> = scan
        .licenses
        .iter()
        .map(|l| (l, l.table_id.as_deref().and_then(licenses::get)))
        .collect();
    let no_license = "a licence in the card's front matter (`license:` with a Hub licence id)";
    let mut criteria = Vec::new();

    // OWD-1 free redistribution.
    let mut c = Criterion::new("OWD-1", "Free redistribution (licence allowlisted)");
    if rows.is_empty() {
        c.need(no_license);
        c = c.set(Verdict::Fail);
    }
    for (fact, row) in &rows {
        let v = match row {
            None => {
                c.need(format!(
                    "{} is not a licence of the table: use a Hub licence id",
                    fact.id
                ));
                Verdict::Fail
            }
            Some(r) if r.undetermined() => {
                let name = repo.str_field("license_name").unwrap_or_default();
                c.need(format!(
                    "read the custom licence {name} against the OWD criteria"
                ));
                Verdict::Review
            }
            Some(r) if r.owd_pass() => Verdict::Pass,
            Some(r) if r.owd_v0_3.starts_with("fail") => {
                c.need(format!(
                    "a licence on the OWD allowlist instead of {}",
                    r.id
                ));
                Verdict::Fail
            }
            Some(_) => Verdict::Review,
        };
        c.ev(
            &fact.source,
            Some("license"),
            format!(
                "{}: OWD v0.3 {}",
                fact.id,
                fact.owd_v0_3
                    .as_deref()
                    .unwrap_or("not in the licence table")
            ),
        );
        c.verdict = c.verdict.worst(v);
    }
    criteria.push(c);

    // OWD-2a weights present, shards complete.
    let mut c = Criterion::new("OWD-2a", "Weights included in a usable form");
    let main_formats: Vec<&WeightFile> = scan
        .weights
        .iter()
        .filter(|w| matches!(w.format, WeightFormat::Safetensors | WeightFormat::Gguf))
        .collect();
    if scan.weights.is_empty() {
        c.need("weight files (*.safetensors or *.gguf)");
        c = c.set(Verdict::Fail);
    } else {
        let total: u64 = scan.weights.iter().map(|w| w.size).sum();
        if main_formats.is_empty() {
            let names: Vec<&str> = scan
                .weights
                .iter()
                .take(3)
                .map(|w| w.path.as_str())
                .collect();
            c.ev(
                names[0],
                None,
                format!(
                    "{} in other formats ({})",
                    count(scan.weights.len(), "weight file"),
                    names.join(", ")
                ),
            );
            c.need("weights as safetensors or GGUF");
            c = c.set(Verdict::Warn);
        } else {
            c.ev(
                &main_formats[0].path,
                None,
                format!(
                    "{} ({} safetensors, {} GGUF), {total} bytes",
                    count(scan.weights.len(), "weight file"),
                    main_formats
                        .iter()
                        .filter(|w| w.format == WeightFormat::Safetensors)
                        .count(),
                    main_formats
                        .iter()
                        .filter(|w| w.format == WeightFormat::Gguf)
                        .count(),
                ),
            );
            c = c.set(Verdict::Pass);
        }
        for ix in &scan.indexes {
            if let Some(e) = &ix.error {
                c.ev(&ix.path, None, format!("sharded index {e}"));
                c.need(format!("a readable {}", ix.path));
                c.verdict = c.verdict.worst(Verdict::Fail);
            } else if ix.missing.is_empty() {
                c.ev(
                    &ix.path,
                    Some("weight_map"),
                    format!("all {} shards present", ix.shards),
                );
            } else {
                c.ev(
                    &ix.path,
                    Some("weight_map"),
                    format!(
                        "{} of {} shards missing: {}",
                        ix.missing.len(),
                        ix.shards,
                        ix.missing
                            .iter()
                            .take(5)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                for m in ix.missing.iter().take(20) {
                    c.need(format!("shard {m}"));
                }
                c.verdict = c.verdict.worst(Verdict::Fail);
            }
        }
    }
    criteria.push(c);

    // OWD-2b no obfuscation.
    let mut c = Criterion::new("OWD-2b", "Weights not obfuscated (headers parse)");
    for e in &scan.encrypted {
        c.ev(e, None, "looks encrypted");
        c.need(format!("{e} in a readable format"));
        c.verdict = c.verdict.worst(Verdict::Fail);
    }
    let mut passed = 0;
    for h in &scan.headers {
        match h.verdict {
            Verdict::Pass => {
                passed += 1;
                if passed <= 8 {
                    c.ev(
                        &h.path,
                        None,
                        format!("{} header parses: {}", h.format, h.detail),
                    );
                }
            }
            v => {
                c.ev(&h.path, None, format!("{} header: {}", h.format, h.detail));
                if v == Verdict::Fail {
                    c.need(format!("a valid {} header in {}", h.format, h.path));
                }
            }
        }
        c.verdict = c.verdict.worst(h.verdict);
    }
    if passed > 8 {
        c.ev("", None, format!("{} more headers parse", passed - 8));
    }
    if scan.unchecked > 0 {
        c.ev(
            "",
            None,
            format!("{} more weight files not checked", scan.unchecked),
        );
    }
    if scan.headers.is_empty() && !scan.weights.is_empty() {
        c.ev(
            &scan.weights[0].path,
            None,
            "no safetensors or GGUF header to check",
        );
        c.need("weights as safetensors or GGUF, whose headers can be checked");
        c.verdict = c.verdict.worst(Verdict::Review);
    }
    criteria.push(c);

    // OWD-2c not an intermediate state.
    let mut c = Criterion::new("OWD-2c", "Not an intermediate training state");
    if !scan.weights.is_empty() {
        let finals: Vec<&WeightFile> = scan.final_weights().collect();
        let rev_step = ctx.revision.as_deref().filter(|r| is_step_ref(r));
        if let Some(r) = rev_step {
            c.ev("refs", None, format!("revision {r} names a training step"));
            c.need("the final weights on the main branch");
            c = c.set(Verdict::Review);
        } else if finals.is_empty() {
            c.ev(
                &scan.weights[0].path,
                None,
                "weights only inside training checkpoint folders",
            );
            if repo.exists("trainer_state.json") {
                c.ev(
                    "trainer_state.json",
                    None,
                    "trainer state without final weights",
                );
            }
            c.need("final weights outside checkpoint-*/ folders");
            c = c.set(Verdict::Review);
        } else {
            let also = if scan.weights.len() > finals.len() {
                " (intermediate checkpoints also shipped)"
            } else {
                ""
            };
            c.ev(&finals[0].path, None, format!("final weights{also}"));
            c = c.set(Verdict::Pass);
        }
    }
    criteria.push(c);

    // OWD-2d quantised forms distinguished.
    let mut c = Criterion::new("OWD-2d", "Quantised forms clearly distinguished");
    if !scan.quant.is_empty() {
        c.evidence.extend(scan.quant.iter().take(8).cloned());
        let relation = repo.str_field("base_model_relation");
        let bases = repo.list_field("base_model");
        let mut v = Verdict::Pass;
        if relation.as_deref() != Some("quantized") {
            c.need("base_model_relation: quantized in the card");
            v = Verdict::Fail;
        } else {
            c.ev("README.md", Some("base_model_relation"), "quantized");
        }
        if bases.is_empty() {
            c.need("base_model: the model it was quantised from");
            v = Verdict::Fail;
        } else {
            c.ev("README.md", Some("base_model"), bases.join(", "));
        }
        if v == Verdict::Pass {
            let tags = repo.list_field("tags").join(" ");
            let name = ctx.repo_id.clone().unwrap_or_default();
            if !shows_quant(&tags) && !shows_quant(&name) {
                c.need("a tag or name showing the quantisation (e.g. gguf, gptq, q4_k_m)");
                v = Verdict::Warn;
            }
        }
        c = c.set(v);
    }
    criteria.push(c);

    // OWD-3/4 derived works.
    let mut c = Criterion::new("OWD-3/4", "Derived works and their distribution allowed");
    if rows.is_empty() {
        c.need(no_license);
        c = c.set(Verdict::Fail);
    }
    for (fact, row) in &rows {
        let v = match row {
            None => Verdict::Fail,
            Some(r) if r.undetermined() => Verdict::Review,
            Some(r) if r.no_derivatives() => {
                c.need(format!(
                    "a licence that allows sharing modified weights ({} does not)",
                    r.id
                ));
                Verdict::Fail
            }
            Some(r) if r.modification.starts_with("yes") && r.redistribution.starts_with("yes") => {
                Verdict::Pass
            }
            Some(_) => Verdict::Review,
        };
        if let Some(r) = row {
            c.ev(
                &fact.source,
                Some("license"),
                format!(
                    "{}: modification {}; redistribution {}",
                    r.id, r.modification, r.redistribution
                ),
            );
        }
        c.verdict = c.verdict.worst(v);
    }
    criteria.push(c);

    // OWD-5/6 no discrimination.
    let mut c = Criterion::new(
        "OWD-5/6",
        "No discrimination against persons, groups or fields of use",
    );
    if rows.is_empty() {
        c.need(no_license);
        c = c.set(Verdict::Fail);
    }
    for (fact, row) in &rows {
        let v = match row {
            None => Verdict::Fail,
            Some(r) if r.id == "other" || r.id == "cc" => Verdict::Review,
            Some(r) => {
                c.ev(
                    &fact.source,
                    Some("license"),
                    format!(
                        "{}: use restrictions: {}; commercial use: {}",
                        r.id, r.use_restrictions, r.commercial_use
                    ),
                );
                if !r.restricts_use() && r.commercial_use.starts_with("yes") {
                    Verdict::Pass
                } else {
                    c.need(format!(
                        "a licence without use restrictions or user/revenue thresholds ({})",
                        r.id
                    ));
                    Verdict::Fail
                }
            }
        };
        c.verdict = c.verdict.worst(v);
    }
    if repo
        .data
        .get("extra_gated_eu_disallowed")
        .and_then(Value::as_bool)
        == Some(true)
    {
        c.ev(
            "README.md",
            Some("extra_gated_eu_disallowed"),
            "access refused to EU users",
        );
        c.need("no geographic exclusion");
        c.verdict = c.verdict.worst(Verdict::Fail);
    }
    criteria.push(c);

    // OWD-7 distribution of licence: the gate is not a licence condition.
    let allowlisted = !rows.is_empty() && rows.iter().all(|(_, r)| r.is_some_and(|r| r.owd_pass()));
    let mut c = Criterion::new("OWD-7", "No additional licence to execute (gating)");
    if scan.gated {
        let how = if ctx.gated.is_some() {
            "the hub"
        } else {
            "the card"
        };
        c.ev(
            "README.md",
            Some("gated"),
            format!("access is gated (from {how})"),
        );
        if allowlisted {
            c.need("keep the gate informational: the licence alone must grant the rights");
            c = c.set(Verdict::Warn);
        } else {
            c.need("ungated access, or a licence on the OWD allowlist");
            c = c.set(Verdict::Fail);
        }
    } else {
        let how = if ctx.gated.is_some() {
            "the hub: access is not gated"
        } else {
            "no gate declared in the card"
        };
        c.ev("README.md", None, how);
        c = c.set(Verdict::Pass);
    }
    criteria.push(c);

    // OWD-9 must not restrict other software.
    let mut c = Criterion::new("OWD-9", "No restriction on other models or software");
    if rows.is_empty() {
        c.need(no_license);
        c = c.set(Verdict::Fail);
    }
    for (fact, row) in &rows {
        let v = match row {
            None => Verdict::Review,
            Some(r) if r.undetermined() => {
                let text = gate::LICENSE_FILES
                    .iter()
                    .find_map(|f| repo.text(f).map(|t| (f, t.to_lowercase())));
                match text {
                    Some((f, t)) if NO_IMPROVING_OTHERS.iter().any(|p| t.contains(p)) => {
                        c.ev(f, None, "forbids using the model to improve other models");
                        c.need("a licence without the clause on improving other models");
                        Verdict::Fail
                    }
                    _ => Verdict::Review,
                }
            }
            Some(r) => {
                let clause = failed_criteria(&r.owd_v0_3).iter().any(|n| n == "9")
                    || r.use_restrictions.to_lowercase().contains("improv");
                if clause {
                    c.ev(
                        &fact.source,
                        Some("license"),
                        format!("{}: {}", r.id, r.use_restrictions),
                    );
                    c.need(format!(
                        "a licence without the clause on improving other models ({})",
                        r.id
                    ));
                    Verdict::Fail
                } else {
                    c.ev(
                        &fact.source,
                        Some("license"),
                        format!("{}: no such clause", r.id),
                    );
                    Verdict::Pass
                }
            }
        };
        c.verdict = c.verdict.worst(v);
    }
    criteria.push(c);

    // OWD-10 technology-neutral (no click-wrap).
    let mut c = Criterion::new("OWD-10", "Technology-neutral (not click-wrap only)");
    if scan.gated && scan.gate_agreement {
        c.ev(
            "README.md",
            Some("extra_gated_prompt"),
            "access requires accepting an agreement",
        );
        c.need("a person to judge whether the agreement adds terms to the licence");
        c = c.set(Verdict::Review);
    } else if scan.gated {
        c.ev(
            "README.md",
            Some("gated"),
            "access is gated without extra terms",
        );
        c = c.set(Verdict::Warn);
    } else if rows
        .iter()
        .any(|(_, r)| r.is_some_and(|r| r.undetermined()))
    {
        c.need("a person to read the custom licence");
        c = c.set(Verdict::Review);
    } else if rows.is_empty() {
        c.need(no_license);
        c = c.set(Verdict::Review);
    } else {
        c.ev(
            "README.md",
            Some("license"),
            "terms in the licence alone, no click-through",
        );
        c = c.set(Verdict::Pass);
    }
    criteria.push(c);

    let has_weights = !scan.weights.is_empty();
    let open_weight = has_weights && criteria.iter().all(|c| c.verdict.is_ok());
    Owd {
        version: "0.3".into(),
        open_weight,
        label: if open_weight {
            "Open Weight (OWD v0.3)".into()
        } else if has_weights {
            "weights available".into()
        } else {
            "no weights".into()
        },
        criteria,
    }
}

/// Whether every licence in `ids` is OSI-approved (or OSD-conformant per the table): `Pass`,
/// `Review` when one cannot be judged, `Fail` when one is not open.
fn osi_verdict(ids: &[String]) -> Verdict {
    if ids.is_empty() {
        return Verdict::Fail;
    }
    ids.iter()
        .map(|id| match licenses::get(&canonical_license(id)) {
            Some(r) if r.osi_approved.starts_with("yes") => Verdict::Pass,
            Some(r) if r.osaid_params_terms.starts_with("likely") => Verdict::Pass,
            Some(r) if r.undetermined() || r.osaid_params_terms.starts_with("unclear") => {
                Verdict::Review
            }
            _ => Verdict::Fail,
        })
        .fold(Verdict::Pass, Verdict::worst)
}

fn osaid(repo: &Repo<'_>, scan: &Scan, yml: Option<&MofYml>) -> Osaid {
    let mut criteria = Vec::new();
    let code_lic = scan.code_licenses.join(", ");

    // OSAID-P parameters.
    let mut c = Criterion::new(
        "OSAID-P",
        "Parameters under OSI-approved or OSD-conformant terms",
    );
    let finals: Vec<&WeightFile> = scan.final_weights().collect();
    if finals.is_empty() {
        c.need("the final weights in the repository");
        c = c.set(Verdict::Fail);
    } else {
        c.ev(&finals[0].path, None, count(finals.len(), "weight file"));
        c = c.set(Verdict::Pass);
    }
    if scan.licenses.is_empty() {
        c.need("a licence for the weights");
        c.verdict = c.verdict.worst(Verdict::Fail);
    }
    for l in &scan.licenses {
        let row = l.table_id.as_deref().and_then(licenses::get);
        let v = match row {
            Some(r) if r.osaid_ok() => Verdict::Pass,
            Some(r) if r.undetermined() || r.osaid_params_terms.starts_with("unclear") => {
                Verdict::Review
            }
            _ => {
                c.need(format!(
                    "weights terms that OSAID accepts ({} does not qualify)",
                    l.id
                ));
                Verdict::Fail
            }
        };
        c.ev(
            &l.source,
            Some("license"),
            format!(
                "{}: OSAID parameters {}",
                l.id,
                l.osaid_params_terms
                    .as_deref()
                    .unwrap_or("not in the licence table")
            ),
        );
        c.verdict = c.verdict.worst(v);
    }
    criteria.push(c);

    // OSAID-C1 training code.
    let mut c = Criterion::new("OSAID-C1", "Training code under an OSI-approved licence");
    if !scan.train_files.is_empty() {
        c.evidence.extend(scan.train_files.iter().cloned());
        let v = osi_verdict(&scan.code_licenses);
        c.ev(
            "README.md",
            Some("license"),
            format!("code licence {code_lic}"),
        );
        if v == Verdict::Fail {
            c.need("the training code under an OSI-approved licence");
        }
        c = c.set(v);
    } else if !scan.train_links.is_empty() {
        c.evidence.extend(scan.train_links.iter().cloned());
        c.need("check that the linked repository holds the training code under an OSI-approved licence");
        c = c.set(Verdict::Review);
    } else {
        c.need("training code: a repository link under \"Model Sources\" or train*.py in the repository");
        c = c.set(Verdict::Fail);
    }
    criteria.push(c);

    // OSAID-C2 data processing code.
    let mut c = Criterion::new("OSAID-C2", "Data processing and filtering code");
    if !scan.data_code_files.is_empty() {
        c.evidence.extend(scan.data_code_files.iter().cloned());
        let v = osi_verdict(&scan.code_licenses);
        if v == Verdict::Fail {
            c.need("the data processing code under an OSI-approved licence");
        }
        c = c.set(v);
    } else if !scan.data_code_links.is_empty() {
        c.evidence.extend(scan.data_code_links.iter().cloned());
        c.need("check the linked data processing code and its licence");
        c = c.set(Verdict::Review);
    } else if !scan.train_links.is_empty() {
        c.evidence.extend(scan.train_links.iter().cloned());
        c.need("check whether the linked repository holds the data processing code");
        c = c.set(Verdict::Review);
    } else {
        c.need("data processing code: in the repository (preprocess*.py) or linked from the card");
        c = c.set(Verdict::Fail);
    }
    criteria.push(c);

    // OSAID-C3 inference and architecture code.
    let mut c = Criterion::new("OSAID-C3", "Inference and architecture code");
    let in_repo: Vec<Evidence> = scan
        .arch_code
        .iter()
        .chain(&scan.inference_files)
        .cloned()
        .collect();
    if !in_repo.is_empty() {
        c.evidence.extend(in_repo);
        let v = osi_verdict(&scan.code_licenses);
        c.ev(
            "README.md",
            Some("license"),
            format!("code licence {code_lic}"),
        );
        if v == Verdict::Fail {
            c.need("the repository's code under an OSI-approved licence");
        }
        c = c.set(v);
    } else {
        match &scan.library {
            Some((name, how, Some(lic))) => {
                c.ev(
                    "README.md",
                    Some("library_name"),
                    format!("{name} ({lic}), from {how}"),
                );
                c = c.set(Verdict::Pass);
            }
            Some((name, how, None)) => {
                c.ev(
                    "README.md",
                    Some("library_name"),
                    format!("{name}, from {how}"),
                );
                c.need(format!("check that {name} is open source"));
                c = c.set(Verdict::Review);
            }
            None => {
                c.need("library_name naming an open library, or the model code in the repository");
                c = c.set(Verdict::Fail);
            }
        }
    }
    criteria.push(c);

    // OSAID-C4 training settings.
    let mut c = Criterion::new("OSAID-C4", "Training arguments and hyperparameters");
    if !scan.hyper.is_empty() {
        c.evidence.extend(scan.hyper.iter().take(5).cloned());
        c = c.set(Verdict::Pass);
    } else if !scan.hyper_pickle.is_empty() {
        c.evidence.extend(scan.hyper_pickle.iter().cloned());
        c.need("the hyperparameters in readable form (card section or JSON/YAML)");
        c = c.set(Verdict::Review);
    } else {
        c.need("a filled \"Training Hyperparameters\" section, or trainer_state.json / a training config");
        c = c.set(Verdict::Fail);
    }
    criteria.push(c);

    // OSAID-D1 data description.
    let mut c = Criterion::new("OSAID-D1", "Complete description of the training data");
    let data = repo.filled(&["training data"]);
    let prep = repo.filled(&["preprocessing", "data preprocessing", "data processing"]);
    let data_card_files: Vec<&Evidence> = scan
        .data_cards
        .iter()
        .filter(|e| e.file != "README.md")
        .collect();
    if let Some(s) = data {
        c.ev(
            "README.md",
            Some(s.title.as_str()),
            "training data described",
        );
    }
    if let Some(s) = prep {
        c.ev(
            "README.md",
            Some(s.title.as_str()),
            "preprocessing described",
        );
    }
    c.evidence
        .extend(data_card_files.iter().map(|e| (*e).clone()));
    if !data_card_files.is_empty() || (data.is_some() && prep.is_some()) {
        c = c.set(Verdict::Pass);
    } else if data.is_some() {
        c.need("a filled \"Preprocessing\" section (processing and filtering methods)");
        c = c.set(Verdict::Review);
    } else {
        c.need("filled \"Training Data\" and \"Preprocessing\" sections, or a data card");
        c = c.set(Verdict::Fail);
    }
    criteria.push(c);

    // OSAID-D2 public data listing.
    let mut c = Criterion::new("OSAID-D2", "List of publicly available training data");
    let ids = repo.list_field("datasets");
    if !ids.is_empty() {
        c.ev("README.md", Some("datasets"), ids.join(", "));
        c = c.set(Verdict::Pass);
    } else if let Some(s) = data.filter(|s| !urls_in(&s.content).is_empty()) {
        c.ev(
            "README.md",
            Some(s.title.as_str()),
            "training data section links sources",
        );
        c.need("the public datasets as ids in the card's datasets field");
        c = c.set(Verdict::Review);
    } else {
        c.need("the public training datasets in the card's datasets field");
        c = c.set(Verdict::Fail);
    }
    criteria.push(c);

    // OSAID-D3 third-party data listing.
    let mut c = Criterion::new(
        "OSAID-D3",
        "List of training data obtainable from third parties",
    );
    let third = repo.sections.iter().find(|s| {
        [
            "third-party",
            "third party",
            "proprietary data",
            "licensed data",
            "purchased data",
        ]
        .iter()
        .any(|w| s.key.contains(w))
            && is_filled(&s.content)
    });
    match third {
        Some(s) => {
            c.ev(
                "README.md",
                Some(s.title.as_str()),
                "third-party data listed",
            );
            c = c.set(Verdict::Pass);
        }
        None => {
            c.need("a \"Third-Party Data\" section listing data obtainable from others (\"none\" is an answer)");
            c = c.set(Verdict::Fail);
        }
    }
    criteria.push(c);

    // OSAID-D4 data information licence.
    let mut c = Criterion::new("OSAID-D4", "Data information under open terms");
    if scan.document_licenses.is_empty() {
        c.need("a licence for the card and documentation");
        c = c.set(Verdict::Fail);
    }
    let source = yml
        .filter(|y| y.type_licenses.contains_key("document"))
        .map(|y| y.path.clone())
        .unwrap_or_else(|| "README.md".into());
    for l in &scan.document_licenses {
        let st = license_status(l, ContentType::Document);
        c.ev(
            &source,
            Some("license"),
            format!("{l}: {}", status_words(st)),
        );
        let v = match st {
            LicenseStatus::TypeAppropriate | LicenseStatus::OpenNotTypeAppropriate => Verdict::Pass,
            LicenseStatus::Review => Verdict::Review,
            _ => {
                c.need(format!(
                    "an open licence for the documentation ({l} is not)"
                ));
                Verdict::Fail
            }
        };
        c.verdict = c.verdict.worst(v);
    }
    criteria.push(c);

    let failed: Vec<&str> = criteria
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| c.id.as_str())
        .collect();
    let (verdict, summary) = if failed.is_empty() {
        (
            Verdict::Review,
            "every element found; a person must judge whether they suffice to rebuild the system"
                .to_string(),
        )
    } else {
        (
            Verdict::Fail,
            format!("not Open Source AI: {} missing", failed.join(", ")),
        )
    };
    Osaid {
        version: "1.0".into(),
        verdict,
        summary,
        criteria,
    }
}

/// `open, type-appropriate` etc.
pub fn status_words(s: LicenseStatus) -> &'static str {
    match s {
        LicenseStatus::TypeAppropriate => "open, type-appropriate",
        LicenseStatus::OpenNotTypeAppropriate => "open, not type-appropriate",
        LicenseStatus::Review => "needs review",
        LicenseStatus::Invalid => "not open",
        LicenseStatus::Unlicensed => "unlicensed",
    }
}

fn findings(repo: &Repo<'_>, scan: &Scan) -> Vec<Criterion> {
    let mut out = Vec::new();
    let bases = repo.list_field("base_model");
    let relation = repo.str_field("base_model_relation");

    let mut c = Criterion::new("PROV-001", "Parent revision pinned");
    if !bases.is_empty() {
        match repo.str_field("base_model_revision") {
            Some(r) if r.len() == 40 && r.chars().all(|c| c.is_ascii_hexdigit()) => {
                c.ev("README.md", Some("base_model_revision"), r);
                c = c.set(Verdict::Pass);
            }
            other => {
                if let Some(r) = other {
                    c.ev(
                        "README.md",
                        Some("base_model_revision"),
                        format!("{r} is not a commit id"),
                    );
                }
                c.need("base_model_revision: the parent's 40-hex commit id");
                c = c.set(Verdict::Warn);
            }
        }
    }
    out.push(c);

    let mut c = Criterion::new("PROV-002", "Quantised variant labelled");
    if !scan.quant.is_empty() {
        c.evidence.extend(scan.quant.iter().take(3).cloned());
        let tags = repo.list_field("tags").join(" ");
        if relation.as_deref() != Some("quantized") {
            c.need("base_model_relation: quantized");
            c = c.set(Verdict::Fail);
        } else if !shows_quant(&tags) {
            c.need("a tag naming the quantisation method (gguf, gptq, awq, ...)");
            c = c.set(Verdict::Warn);
        } else {
            c.ev("README.md", Some("tags"), tags);
            c = c.set(Verdict::Pass);
        }
    }
    out.push(c);

    let mut c = Criterion::new("PROV-003", "Adapter base model matches the card");
    if let Some(cfg) = repo.json("adapter_config.json") {
        match cfg["base_model_name_or_path"].as_str() {
            Some(b) if bases.iter().any(|x| x == b) => {
                c.ev(
                    "adapter_config.json",
                    Some("base_model_name_or_path"),
                    b.to_string(),
                );
                c = c.set(Verdict::Pass);
            }
            Some(b) => {
                c.ev(
                    "adapter_config.json",
                    Some("base_model_name_or_path"),
                    b.to_string(),
                );
                c.need(format!(
                    "base_model: {b} in the card (it lists [{}])",
                    bases.join(", ")
                ));
                c = c.set(Verdict::Warn);
            }
            None => {
                c.need("base_model_name_or_path in adapter_config.json");
                c = c.set(Verdict::Warn);
            }
        }
    }
    out.push(c);

    let mut c = Criterion::new("PROV-004", "Merge recipe present");
    if relation.as_deref() == Some("merge") {
        let recipe = repo.find(|_, n| n == "mergekit_config.yml" || n == "mergekit_config.yaml");
        match recipe.first() {
            Some(p) => {
                c.ev(p, None, "merge recipe");
                c = c.set(Verdict::Pass);
            }
            None => {
                c.need("mergekit_config.yml (the merge recipe)");
                c = c.set(Verdict::Warn);
            }
        }
    }
    out.push(c);

    let mut c = Criterion::new("SEC-001", "No pickle-based files");
    if scan.pickles.is_empty() {
        c = c.set(Verdict::Pass);
    } else {
        for p in scan.pickles.iter().take(10) {
            c.ev(p, None, "pickle-based: loading it can run code");
        }
        c.need("safetensors instead of pickle-based files");
        c = c.set(Verdict::Warn);
    }
    out.push(c);
    out
}

#[cfg(test)]
mod tests;
