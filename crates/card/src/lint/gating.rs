//! The gate rule (GATE-001): a card that claims open weights but declares a gate.

use serde_json::{Map, Value};

use super::finding::Severity;
use super::linter::Linter;

impl Linter<'_> {
    /// GATE-001: a gate on a repository that claims to be open.
    pub(super) fn gate_on_open_claim(&mut self, data: &Map<String, Value>) {
        let gated = data.get("extra_gated_prompt").is_some()
            || data.get("extra_gated_fields").is_some()
            || data
                .get("gated")
                .is_some_and(|g| g.as_bool() != Some(false));
        let claims_open = self.card.list_field("tags").iter().any(|t| {
            matches!(
                t.to_ascii_lowercase().as_str(),
                "open-weight" | "open-weights" | "open-source-ai" | "osaid" | "owd"
            )
        });
        if gated && claims_open {
            self.push(
                "GATE-001",
                Severity::Warning,
                Some("tags"),
                "the card claims open weights but declares a gate: OWD criteria 7 and 10 exclude a gate that acts as the licence condition".into(),
            );
        }
    }
}
