//! The state of one lint ([`Linter`]) and what every rule family uses: placing a finding on the
//! card's line, the mode, reading a string-or-list field, and the JSON type and URL tests.

use serde_json::{Map, Value};

use super::finding::{Finding, Severity};
use super::options::{Mode, Options};
use crate::frontmatter::Card;

/// One lint in progress: the card, what is known besides it, and the findings so far. The rule
/// families add their methods to it, each in its own file.
pub(super) struct Linter<'a> {
    pub(super) card: &'a Card,
    pub(super) opts: &'a Options<'a>,
    pub(super) out: Vec<Finding>,
}

/// The name of a JSON value's type, as the Hub's validator words it.
pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An `http(s)://` URL without white space.
pub(super) fn is_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() > 8
        && !s.contains(char::is_whitespace)
}

impl Linter<'_> {
    pub(super) fn push(
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

    pub(super) fn at(
        &mut self,
        rule: &'static str,
        severity: Severity,
        line: Option<usize>,
        message: String,
    ) {
        self.out.push(Finding {
            rule,
            severity,
            message,
            line,
            field: None,
        });
    }

    pub(super) fn full(&self) -> bool {
        self.opts.mode == Mode::Full
    }

    pub(super) fn is_model(&self) -> bool {
        self.opts.repo_type == "model"
    }

    pub(super) fn string_list(
        &mut self,
        data: &Map<String, Value>,
        key: &str,
    ) -> Vec<(String, String)> {
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
}
