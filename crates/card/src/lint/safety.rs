//! The safety rule (SEC-001): pickle-based files, which can run code when loaded.

use super::finding::Severity;
use super::linter::Linter;
use crate::files::Entry;

impl Linter<'_> {
    /// SEC-001: pickle-based weights.
    pub(super) fn pickles(&mut self, entries: &[Entry]) {
        let pickles: Vec<&str> = entries
            .iter()
            .map(|e| e.path.as_str())
            .filter(|p| {
                let l = p.to_ascii_lowercase();
                [".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"]
                    .iter()
                    .any(|x| l.ends_with(x))
            })
            .collect();
        if !pickles.is_empty() {
            self.at(
                "SEC-001",
                Severity::Warning,
                None,
                format!(
                    "pickle-based files ({}): loading them can run code; publish safetensors instead",
                    pickles.iter().take(5).copied().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
}
