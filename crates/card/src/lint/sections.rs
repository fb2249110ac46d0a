//! The card body rules: the template's sections present (CARD-001), no placeholder left
//! (CARD-002), an energy or emissions figure (CARD-003).

use serde_json::{Map, Value};

use super::finding::Severity;
use super::linter::Linter;

/// Sections of the card template that a card should have (CARD-001), each with the heading
/// texts that count for it.
pub const SECTIONS: &[(&str, &[&str])] = &[
    ("Model Details", &["model details"]),
    ("Uses", &["uses", "intended uses", "intended use"]),
    (
        "Out-of-Scope Use",
        &["out-of-scope use", "out-of-scope uses", "out of scope use"],
    ),
    (
        "Bias, Risks, and Limitations",
        &[
            "bias, risks, and limitations",
            "bias, risks and limitations",
            "limitations",
            "risks and limitations",
        ],
    ),
    (
        "How to Get Started with the Model",
        &[
            "how to get started with the model",
            "how to get started",
            "usage",
            "quickstart",
        ],
    ),
    ("Training Details", &["training details", "training"]),
    ("Training Data", &["training data"]),
    ("Evaluation", &["evaluation", "evaluation results"]),
    ("Environmental Impact", &["environmental impact"]),
];

/// The placeholder of the card template.
pub const PLACEHOLDER: &str = "[More Information Needed]";

impl Linter<'_> {
    pub(super) fn body_rules(&mut self, data: &Map<String, Value>) {
        let headings = &self.card.headings;
        let last_line = self.card.text.lines().count().max(1);
        for (name, accepted) in SECTIONS {
            let found = headings.iter().any(|h| {
                let t = h.text.to_ascii_lowercase();
                accepted.iter().any(|a| {
                    t == *a || t.starts_with(&format!("{a} ")) || t.starts_with(&format!("{a}:"))
                })
            });
            if !found {
                self.at(
                    "CARD-001",
                    Severity::Warning,
                    Some(last_line),
                    format!("section \"{name}\" is missing"),
                );
            }
        }
        // Placeholders, counted per top-level section.
        let lines: Vec<&str> = self.card.text.lines().collect();
        let mut sections: Vec<(String, usize, usize)> = Vec::new(); // (heading, first placeholder line, count)
        let mut current = String::from("(before the first heading)");
        let mut heading_iter = headings.iter().peekable();
        for (i, line) in lines.iter().enumerate() {
            let n = i + 1;
            if n < self.card.body_line {
                continue;
            }
            while let Some(h) = heading_iter.peek() {
                if h.line <= n {
                    if h.level <= 2 {
                        current = h.text.clone();
                    }
                    heading_iter.next();
                } else {
                    break;
                }
            }
            let c = line.matches(PLACEHOLDER).count();
            if c > 0 {
                match sections.iter_mut().find(|s| s.0 == current) {
                    Some(s) => s.2 += c,
                    None => sections.push((current.clone(), n, c)),
                }
            }
        }
        for (section, line, count) in sections {
            self.at(
                "CARD-002",
                Severity::Warning,
                Some(line),
                format!("{count} \"{PLACEHOLDER}\" placeholder(s) left in \"{section}\""),
            );
        }
        let energy = data.contains_key("co2_eq_emissions")
            || data.contains_key("energy_consumption")
            || data.get("gpai").is_some_and(|g| g.get("energy").is_some());
        if !energy {
            self.at(
                "CARD-003",
                Severity::Info,
                Some(self.card.line_of("co2_eq_emissions")),
                "no \"co2_eq_emissions\" (or energy) figure in the metadata".into(),
            );
        }
    }
}
