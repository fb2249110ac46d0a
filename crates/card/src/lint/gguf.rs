//! The GGUF rule (LIC-008): the licence and parents written in GGUF files' metadata agree with
//! the card's.

use serde_json::Value;

use super::finding::Severity;
use super::linter::Linter;
use crate::files::{Entry, Files};
use crate::licenses;

impl Linter<'_> {
    /// LIC-008; returns whether a GGUF file holds quantised tensors.
    pub(super) fn gguf_metadata(&mut self, files: &dyn Files, entries: &[Entry]) -> bool {
        let mut quantised = false;
        let declared = self.card.list_field("license");
        let bases = self.card.list_field("base_model");
        for e in entries
            .iter()
            .filter(|e| e.path.to_ascii_lowercase().ends_with(".gguf"))
            .take(8)
        {
            let limits = weighhouse_tensor::Limits::default();
            let Some(prefix) = files.read_prefix(&e.path, crate::files::HEADER_PREFIX.min(e.size))
            else {
                continue;
            };
            let Ok(Some(parsed)) = weighhouse_formats::gguf::parse_prefix(&prefix, e.size, &limits)
            else {
                continue;
            };
            quantised |= parsed.tensors.iter().any(|t| t.dtype.is_quantized());
            let meta = &parsed.metadata;
            if let Some(lic) = meta.get("general.license").and_then(Value::as_str) {
                let lower = lic.to_ascii_lowercase();
                let agrees = declared.iter().any(|d| {
                    *d == lower
                        || licenses::get(d).is_some_and(|l| l.spdx_id.eq_ignore_ascii_case(lic))
                });
                if !declared.is_empty() && !agrees {
                    self.push(
                        "LIC-008",
                        Severity::Warning,
                        Some("license"),
                        format!(
                            "{} says general.license = \"{lic}\" but the card declares {}",
                            e.path,
                            declared.join(", ")
                        ),
                    );
                }
            }
            // `general.base_model.count` says how many; files that omit it are read up to the
            // first missing index.
            let count = meta
                .get("general.base_model.count")
                .and_then(Value::as_u64)
                .unwrap_or(16);
            for i in 0..count.min(16) {
                let url = meta
                    .get(&format!("general.base_model.{i}.repo_url"))
                    .and_then(Value::as_str);
                let name = meta
                    .get(&format!("general.base_model.{i}.name"))
                    .and_then(Value::as_str);
                let known = bases.iter().any(|b| {
                    url.is_some_and(|u| u.trim_end_matches('/').ends_with(b.as_str()))
                        || name.is_some_and(|n| b.rsplit('/').next() == Some(n))
                });
                if url.is_none() && name.is_none() {
                    break;
                }
                if !known {
                    self.push(
                        "LIC-008",
                        Severity::Warning,
                        Some("base_model"),
                        format!(
                            "{} names base model {} but the card's base_model is [{}]",
                            e.path,
                            url.or(name).unwrap_or_default(),
                            bases.join(", ")
                        ),
                    );
                }
            }
        }
        quantised
    }
}
