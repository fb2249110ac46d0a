//! The building blocks every openness rule reports with: a [`Verdict`], the [`Evidence`] it
//! looked at, and the [`Criterion`] that holds both with what is missing.

use serde::{Deserialize, Serialize};

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
    pub(super) fn new(id: &str, title: &str) -> Self {
        Self {
            id: id.to_string(),
            title: title.to_string(),
            verdict: Verdict::NotApplicable,
            evidence: Vec::new(),
            missing: Vec::new(),
        }
    }

    pub(super) fn set(mut self, verdict: Verdict) -> Self {
        self.verdict = verdict;
        self
    }

    pub(super) fn ev(&mut self, file: &str, field: Option<&str>, detail: impl Into<String>) {
        self.evidence.push(Evidence::new(file, field, detail));
    }

    pub(super) fn need(&mut self, what: impl Into<String>) {
        self.missing.push(what.into());
    }
}
