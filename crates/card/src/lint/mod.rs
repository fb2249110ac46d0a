//! The card rules (`data/card-rules.yaml`, governance.md section 8) applied to a model card and,
//! when its repository is at hand, to the files next to it.
//!
//! The front-matter rules speak the Hub's validator wording (`"license" must be one of [...]`),
//! so that `huggingface_hub` clients pointed at the hub show them unchanged; the same function
//! backs `wh card lint` and the hub's `/api/validate-yaml`.
//!
//! The module's files, by concern: what a lint reports (`finding`), what it knows besides the
//! card (`options`), the state of one lint (`linter`), and the rule families, each adding its
//! methods to the linter: front matter (`metadata`), evaluation results (`eval_results`), the
//! card's sections (`sections`), the licence file (`licence_file`), provenance (`provenance`),
//! the gate (`gating`), pickles (`safety`), GGUF metadata (`gguf`), the parents' licences
//! (`parents`) and the EU AI Act (`eu`). [`lint`] runs them in order.

mod eu;
mod eval_results;
mod finding;
mod gating;
mod gguf;
mod licence_file;
mod linter;
mod metadata;
mod options;
mod parents;
mod provenance;
mod safety;
mod sections;

use serde::Serialize;
use serde_json::{Map, Value};

pub use self::finding::{Finding, Severity};
pub use self::licence_file::detect_license;
pub use self::metadata::{RELATIONS, is_repo_id};
pub use self::options::{Mode, ModelExists, Options};
pub use self::sections::{PLACEHOLDER, SECTIONS};

use self::linter::Linter;
use crate::frontmatter::Card;

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

impl Linter<'_> {
    /// Every rule family that applies, in order. PROV-001 runs right after the body rules, as
    /// when it was part of them; a card without front matter has no `base_model` for it to read.
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
            self.parent_pinned(&data);
            self.files_rules(&data);
            self.licence_rules(&data);
            self.eu_rules(&data);
        }
    }

    /// The rules that read the repository's files, when they are at hand, in this order.
    fn files_rules(&mut self, data: &Map<String, Value>) {
        let Some(files) = self.opts.files else { return };
        let entries = files.entries();
        self.licence_file(files);
        self.adapter_base(files);
        self.merge_recipe(data, &entries);
        let quantised_gguf = self.gguf_metadata(files, &entries);
        self.quantised_labelled(data, files, &entries, quantised_gguf);
        self.signature(&entries);
        self.gate_on_open_claim(data);
        self.pickles(&entries);
    }

    /// EU-01..10, from [`eu`].
    fn eu_rules(&mut self, data: &Map<String, Value>) {
        let params = self.opts.files.and_then(eu::parameter_count);
        for (rule, severity, field, message) in eu::findings(data, self.opts.files, params) {
            self.push(rule, severity, field, message);
        }
    }
}

#[cfg(test)]
mod tests;
