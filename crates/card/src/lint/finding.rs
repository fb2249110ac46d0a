//! What a lint reports: a [`Finding`] of one rule, with its [`Severity`]. Every rule file, the
//! EU AI Act rules included, reports with these and nothing else of the module.

use serde::Serialize;

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
