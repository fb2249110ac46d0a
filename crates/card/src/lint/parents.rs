//! The licence rules on the parents (LIC-001 to LIC-007): the card's licence checked against the
//! resolved `base_model` parents' licences, through the derived-licence check of
//! [`crate::derive`].

use serde_json::{Map, Value};

use super::finding::Severity;
use super::linter::Linter;
use crate::gate;

impl Linter<'_> {
    /// LIC-001..007 on the resolved parents, through the derived-licence check.
    pub(super) fn licence_rules(&mut self, data: &Map<String, Value>) {
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
}
