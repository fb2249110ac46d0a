//! The report that [`super::evaluate`] returns: what is known besides the files ([`Context`]),
//! the declared licences, the OWD and OSAID results, and the whole [`Report`].

use serde::{Deserialize, Serialize};

use super::criterion::{Criterion, Verdict};
use super::mof::Mof;

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

/// Everything [`super::evaluate`] found.
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
