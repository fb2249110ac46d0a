//! The licence-file rule (META-004): a licence file at the root whose text agrees with the
//! declared licence, and [`detect_license`], which tells which licence a text is.

use super::finding::Severity;
use super::linter::Linter;
use crate::files::Files;
use crate::{gate, licenses};

impl Linter<'_> {
    /// META-004: a licence file agreeing with the declared licence.
    pub(super) fn licence_file(&mut self, files: &dyn Files) {
        let declared: Vec<String> = self
            .card
            .list_field("license")
            .into_iter()
            .filter(|d| licenses::get(d).is_some())
            .collect();
        let license_file = gate::LICENSE_FILES.iter().find(|f| files.exists(f));
        match license_file {
            None => {
                if !declared.is_empty() {
                    self.push(
                        "META-004",
                        Severity::Policy,
                        Some("license"),
                        "no LICENSE file at the repository root: add the licence text".into(),
                    );
                }
            }
            Some(f) => {
                let text = files.text(f).unwrap_or_default();
                if let Some(found) = detect_license(&text) {
                    let agrees = declared.iter().any(|d| {
                        d == found
                            || licenses::get(d).is_some_and(|l| {
                                licenses::get(found).is_some_and(|g| {
                                    l.lineage().0 == g.lineage().0 && l.lineage().0 != l.id
                                })
                            })
                            || (d == "other")
                    });
                    if !declared.is_empty() && !agrees {
                        self.push(
                            "META-004",
                            Severity::Policy,
                            Some("license"),
                            format!(
                                "{f} reads like {found} but the card declares {}",
                                declared.join(", ")
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// Which licence a licence text is, from phrases each licence's text carries; `None` when it is
/// not recognised.
pub fn detect_license(text: &str) -> Option<&'static str> {
    let t: String = text
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let has = |s: &str| t.contains(s);
    let table: &[(&str, &[&str])] = &[
        ("llama4", &["llama 4 community license"]),
        ("llama3.3", &["llama 3.3 community license"]),
        ("llama3.2", &["llama 3.2 community license"]),
        ("llama3.1", &["llama 3.1 community license"]),
        ("llama3", &["meta llama 3 community license"]),
        ("llama2", &["llama 2 community license"]),
        ("gemma", &["gemma terms of use"]),
        ("bigscience-bloom-rail-1.0", &["bigscience rail license"]),
        ("creativeml-openrail-m", &["creativeml open rail-m"]),
        ("bigcode-openrail-m", &["bigcode open rail-m"]),
        ("bigscience-openrail-m", &["bigscience open rail-m"]),
        ("openrail++", &["openrail++"]),
        ("openrail", &["open rail", "openrail"]),
        ("openmdw-1.0", &["openmdw", "open model, data & weights"]),
        (
            "agpl-3.0",
            &["gnu affero general public license", "version 3"],
        ),
        (
            "lgpl-3.0",
            &["gnu lesser general public license", "version 3"],
        ),
        (
            "lgpl-2.1",
            &["gnu lesser general public license", "version 2.1"],
        ),
        ("gpl-3.0", &["gnu general public license", "version 3"]),
        ("gpl-2.0", &["gnu general public license", "version 2"]),
        ("apache-2.0", &["apache license", "version 2.0"]),
        ("mpl-2.0", &["mozilla public license", "2.0"]),
        (
            "cc-by-nc-sa-4.0",
            &["attribution-noncommercial-sharealike 4.0"],
        ),
        (
            "cc-by-nc-nd-4.0",
            &["attribution-noncommercial-noderivatives 4.0"],
        ),
        ("cc-by-nc-4.0", &["attribution-noncommercial 4.0"]),
        ("cc-by-nd-4.0", &["attribution-noderivatives 4.0"]),
        ("cc-by-sa-4.0", &["attribution-sharealike 4.0"]),
        ("cc-by-4.0", &["attribution 4.0 international"]),
        ("cc0-1.0", &["cc0 1.0 universal"]),
        (
            "cdla-permissive-2.0",
            &[
                "community data license agreement",
                "permissive",
                "version 2.0",
            ],
        ),
        (
            "bsd-3-clause",
            &[
                "redistribution and use in source and binary forms",
                "neither the name",
            ],
        ),
        (
            "bsd-2-clause",
            &["redistribution and use in source and binary forms"],
        ),
        ("mit", &["permission is hereby granted, free of charge"]),
        (
            "unlicense",
            &["this is free and unencumbered software released into the public domain"],
        ),
    ];
    table
        .iter()
        .find(|(_, phrases)| phrases.iter().all(|p| has(p)))
        .map(|(id, _)| *id)
}
