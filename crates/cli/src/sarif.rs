//! SARIF 2.1.0 (the OASIS Static Analysis Results Interchange Format), the subset `wh scan
//! --sarif` writes: one run of one tool, its rules, and one result per finding with the file and
//! the location inside it. Code-scanning services read this.

use serde::Serialize;
use weighhouse_scan::{FileReport, Severity};

/// The schema the document declares.
const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// A SARIF log.
#[derive(Debug, Serialize)]
pub struct Log {
    version: &'static str,
    #[serde(rename = "$schema")]
    schema: &'static str,
    runs: Vec<Run>,
}

#[derive(Debug, Serialize)]
struct Run {
    tool: Tool,
    results: Vec<SarifResult>,
}

#[derive(Debug, Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    rules: Vec<Rule>,
}

#[derive(Debug, Serialize)]
struct Rule {
    id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    level: Level,
    message: Message,
    properties: Properties,
    locations: Vec<Location>,
}

/// SARIF's result levels.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Error,
    Warning,
    Note,
}

impl From<Severity> for Level {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Critical | Severity::High => Level::Error,
            Severity::Medium => Level::Warning,
            _ => Level::Note,
        }
    }
}

#[derive(Debug, Serialize)]
struct Message {
    text: String,
}

#[derive(Debug, Serialize)]
struct Properties {
    severity: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
}

#[derive(Debug, Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    fully_qualified_name: String,
}

impl Log {
    /// The log of a scan: every rule that fired, and every finding of every file.
    pub fn of(reports: &[FileReport]) -> Self {
        let mut rules: Vec<String> = reports
            .iter()
            .flat_map(|r| r.findings.iter().map(|f| f.rule.clone()))
            .collect();
        rules.sort();
        rules.dedup();
        let results = reports
            .iter()
            .flat_map(|r| {
                r.findings.iter().map(move |f| SarifResult {
                    rule_id: f.rule.clone(),
                    level: f.severity.into(),
                    message: Message {
                        text: f.message.clone(),
                    },
                    properties: Properties {
                        severity: f.severity.as_str(),
                    },
                    locations: vec![Location {
                        physical_location: PhysicalLocation {
                            artifact_location: ArtifactLocation {
                                uri: r.path.clone(),
                            },
                        },
                        logical_locations: vec![LogicalLocation {
                            fully_qualified_name: f.location.clone(),
                        }],
                    }],
                })
            })
            .collect();
        Self {
            version: "2.1.0",
            schema: SCHEMA,
            runs: vec![Run {
                tool: Tool {
                    driver: Driver {
                        name: "wh scan",
                        version: env!("CARGO_PKG_VERSION"),
                        rules: rules.into_iter().map(|id| Rule { id }).collect(),
                    },
                },
                results,
            }],
        }
    }
}
