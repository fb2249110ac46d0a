//! Findings, severities and per-file reports.

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing (an allowlisted compatibility global, an extension mismatch).
    Info,
    /// Unusual but harmless in itself.
    Low,
    /// Suspicious: a non-allowlisted global referenced but not called, an unreadable member.
    Medium,
    /// A non-allowlisted callable is called.
    High,
    /// Code execution: a denylisted callable, a dynamic global, Lambda bytecode, a template
    /// injection, a path escape, a structure that makes a loader read other bytes than scanners.
    Critical,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parse a lower-case name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `pickle.global.denylisted`.
    pub rule: String,
    /// Severity.
    pub severity: Severity,
    /// One line for people.
    pub message: String,
    /// Where: a layer path such as `model.pt!zip:archive/data.pkl!pickle@72`.
    pub location: String,
}

/// The verdict on a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing at or above `high` was found and the whole file was read.
    Safe,
    /// Something at or above `high` was found.
    Unsafe,
    /// The file could not be read completely (a parse error or a limit), and nothing at or
    /// above `high` was found: it is not known to be safe.
    Incomplete,
}

/// Findings being collected for one file.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Findings in the order they were made.
    pub findings: Vec<Finding>,
    /// Why the scan could not read everything, if it could not.
    pub incomplete: Vec<String>,
    /// Formats seen, outermost first (e.g. `torch-zip`, `pickle`).
    pub formats: Vec<String>,
}

impl Report {
    /// Add a finding.
    pub fn add(
        &mut self,
        rule: &str,
        severity: Severity,
        location: &str,
        message: impl Into<String>,
    ) {
        let f = Finding {
            rule: rule.into(),
            severity,
            message: message.into(),
            location: location.into(),
        };
        if !self.findings.contains(&f) {
            self.findings.push(f);
        }
    }

    /// Record that part of the file could not be read.
    pub fn incomplete(&mut self, location: &str, why: impl Into<String>) {
        self.incomplete.push(format!("{location}: {}", why.into()));
    }

    /// Note a format seen.
    pub fn format(&mut self, name: &str) {
        if !self.formats.iter().any(|f| f == name) {
            self.formats.push(name.to_string());
        }
    }

    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        if self.findings.iter().any(|f| f.severity >= Severity::High) {
            Verdict::Unsafe
        } else if !self.incomplete.is_empty() {
            Verdict::Incomplete
        } else {
            Verdict::Safe
        }
    }

    /// The highest severity found.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}
