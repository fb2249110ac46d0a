//! The OSI Open Source AI Definition 1.0: one function per required element (OSAID-P, C1 to C4,
//! D1 to D4), and [`osaid`] putting them together. The verdict is never better than "review":
//! whether the information suffices to rebuild the system is for a person to judge.

use super::criterion::{Criterion, Evidence, Verdict};
use super::facts::{Scan, WeightFile, count};
use super::mof::{
    ContentType, LicenseStatus, MofYml, canonical_license, license_status, status_words,
};
use super::repo::{Repo, Section, is_filled, urls_in};
use super::report::Osaid;
use crate::licenses;

/// Whether every licence in `ids` is OSI-approved (or OSD-conformant per the table): `Pass`,
/// `Review` when one cannot be judged, `Fail` when one is not open.
fn osi_verdict(ids: &[String]) -> Verdict {
    if ids.is_empty() {
        return Verdict::Fail;
    }
    ids.iter()
        .map(|id| match licenses::get(&canonical_license(id)) {
            Some(r) if r.osi_approved.starts_with("yes") => Verdict::Pass,
            Some(r) if r.osaid_params_terms.starts_with("likely") => Verdict::Pass,
            Some(r) if r.undetermined() || r.osaid_params_terms.starts_with("unclear") => {
                Verdict::Review
            }
            _ => Verdict::Fail,
        })
        .fold(Verdict::Pass, Verdict::worst)
}

/// The Open Source AI Definition result: every element, and the verdict they give.
pub(super) fn osaid(repo: &Repo<'_>, scan: &Scan, yml: Option<&MofYml>) -> Osaid {
    let code_lic = scan.code_licenses.join(", ");
    let data = repo.filled(&["training data"]);
    let criteria = vec![
        parameters(scan),
        training_code(scan, &code_lic),
        data_code(scan),
        model_code(scan, &code_lic),
        training_settings(scan),
        data_description(repo, scan, data),
        public_data(repo, data),
        third_party_data(repo),
        data_information_licence(scan, yml),
    ];

    let failed: Vec<&str> = criteria
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| c.id.as_str())
        .collect();
    let (verdict, summary) = if failed.is_empty() {
        (
            Verdict::Review,
            "every element found; a person must judge whether they suffice to rebuild the system"
                .to_string(),
        )
    } else {
        (
            Verdict::Fail,
            format!("not Open Source AI: {} missing", failed.join(", ")),
        )
    };
    Osaid {
        version: "1.0".into(),
        verdict,
        summary,
        criteria,
    }
}

/// OSAID-P: the final weights, under terms OSAID accepts.
fn parameters(scan: &Scan) -> Criterion {
    let mut c = Criterion::new(
        "OSAID-P",
        "Parameters under OSI-approved or OSD-conformant terms",
    );
    let finals: Vec<&WeightFile> = scan.final_weights().collect();
    if finals.is_empty() {
        c.need("the final weights in the repository");
        c = c.set(Verdict::Fail);
    } else {
        c.ev(&finals[0].path, None, count(finals.len(), "weight file"));
        c = c.set(Verdict::Pass);
    }
    if scan.licenses.is_empty() {
        c.need("a licence for the weights");
        c.verdict = c.verdict.worst(Verdict::Fail);
    }
    for l in &scan.licenses {
        let row = l.table_id.as_deref().and_then(licenses::get);
        let v = match row {
            Some(r) if r.osaid_ok() => Verdict::Pass,
            Some(r) if r.undetermined() || r.osaid_params_terms.starts_with("unclear") => {
                Verdict::Review
            }
            _ => {
                c.need(format!(
                    "weights terms that OSAID accepts ({} does not qualify)",
                    l.id
                ));
                Verdict::Fail
            }
        };
        c.ev(
            &l.source,
            Some("license"),
            format!(
                "{}: OSAID parameters {}",
                l.id,
                l.osaid_params_terms
                    .as_deref()
                    .unwrap_or("not in the licence table")
            ),
        );
        c.verdict = c.verdict.worst(v);
    }
    c
}

/// OSAID-C1: the training code, in the repository or linked, under an OSI-approved licence.
fn training_code(scan: &Scan, code_lic: &str) -> Criterion {
    let mut c = Criterion::new("OSAID-C1", "Training code under an OSI-approved licence");
    if !scan.train_files.is_empty() {
        c.evidence.extend(scan.train_files.iter().cloned());
        let v = osi_verdict(&scan.code_licenses);
        c.ev(
            "README.md",
            Some("license"),
            format!("code licence {code_lic}"),
        );
        if v == Verdict::Fail {
            c.need("the training code under an OSI-approved licence");
        }
        c = c.set(v);
    } else if !scan.train_links.is_empty() {
        c.evidence.extend(scan.train_links.iter().cloned());
        c.need("check that the linked repository holds the training code under an OSI-approved licence");
        c = c.set(Verdict::Review);
    } else {
        c.need("training code: a repository link under \"Model Sources\" or train*.py in the repository");
        c = c.set(Verdict::Fail);
    }
    c
}

/// OSAID-C2: the data processing and filtering code.
fn data_code(scan: &Scan) -> Criterion {
    let mut c = Criterion::new("OSAID-C2", "Data processing and filtering code");
    if !scan.data_code_files.is_empty() {
        c.evidence.extend(scan.data_code_files.iter().cloned());
        let v = osi_verdict(&scan.code_licenses);
        if v == Verdict::Fail {
            c.need("the data processing code under an OSI-approved licence");
        }
        c = c.set(v);
    } else if !scan.data_code_links.is_empty() {
        c.evidence.extend(scan.data_code_links.iter().cloned());
        c.need("check the linked data processing code and its licence");
        c = c.set(Verdict::Review);
    } else if !scan.train_links.is_empty() {
        c.evidence.extend(scan.train_links.iter().cloned());
        c.need("check whether the linked repository holds the data processing code");
        c = c.set(Verdict::Review);
    } else {
        c.need("data processing code: in the repository (preprocess*.py) or linked from the card");
        c = c.set(Verdict::Fail);
    }
    c
}

/// OSAID-C3: the inference and architecture code, in the repository or an open library.
fn model_code(scan: &Scan, code_lic: &str) -> Criterion {
    let mut c = Criterion::new("OSAID-C3", "Inference and architecture code");
    let in_repo: Vec<Evidence> = scan
        .arch_code
        .iter()
        .chain(&scan.inference_files)
        .cloned()
        .collect();
    if !in_repo.is_empty() {
        c.evidence.extend(in_repo);
        let v = osi_verdict(&scan.code_licenses);
        c.ev(
            "README.md",
            Some("license"),
            format!("code licence {code_lic}"),
        );
        if v == Verdict::Fail {
            c.need("the repository's code under an OSI-approved licence");
        }
        c = c.set(v);
    } else {
        match &scan.library {
            Some((name, how, Some(lic))) => {
                c.ev(
                    "README.md",
                    Some("library_name"),
                    format!("{name} ({lic}), from {how}"),
                );
                c = c.set(Verdict::Pass);
            }
            Some((name, how, None)) => {
                c.ev(
                    "README.md",
                    Some("library_name"),
                    format!("{name}, from {how}"),
                );
                c.need(format!("check that {name} is open source"));
                c = c.set(Verdict::Review);
            }
            None => {
                c.need("library_name naming an open library, or the model code in the repository");
                c = c.set(Verdict::Fail);
            }
        }
    }
    c
}

/// OSAID-C4: the training arguments and hyperparameters, readable.
fn training_settings(scan: &Scan) -> Criterion {
    let mut c = Criterion::new("OSAID-C4", "Training arguments and hyperparameters");
    if !scan.hyper.is_empty() {
        c.evidence.extend(scan.hyper.iter().take(5).cloned());
        c = c.set(Verdict::Pass);
    } else if !scan.hyper_pickle.is_empty() {
        c.evidence.extend(scan.hyper_pickle.iter().cloned());
        c.need("the hyperparameters in readable form (card section or JSON/YAML)");
        c = c.set(Verdict::Review);
    } else {
        c.need("a filled \"Training Hyperparameters\" section, or trainer_state.json / a training config");
        c = c.set(Verdict::Fail);
    }
    c
}

/// OSAID-D1: the training data and its preprocessing described (`data` is the card's filled
/// "Training Data" section), or a data card.
fn data_description(repo: &Repo<'_>, scan: &Scan, data: Option<&Section>) -> Criterion {
    let mut c = Criterion::new("OSAID-D1", "Complete description of the training data");
    let prep = repo.filled(&["preprocessing", "data preprocessing", "data processing"]);
    let data_card_files: Vec<&Evidence> = scan
        .data_cards
        .iter()
        .filter(|e| e.file != "README.md")
        .collect();
    if let Some(s) = data {
        c.ev(
            "README.md",
            Some(s.title.as_str()),
            "training data described",
        );
    }
    if let Some(s) = prep {
        c.ev(
            "README.md",
            Some(s.title.as_str()),
            "preprocessing described",
        );
    }
    c.evidence
        .extend(data_card_files.iter().map(|e| (*e).clone()));
    if !data_card_files.is_empty() || (data.is_some() && prep.is_some()) {
        c = c.set(Verdict::Pass);
    } else if data.is_some() {
        c.need("a filled \"Preprocessing\" section (processing and filtering methods)");
        c = c.set(Verdict::Review);
    } else {
        c.need("filled \"Training Data\" and \"Preprocessing\" sections, or a data card");
        c = c.set(Verdict::Fail);
    }
    c
}

/// OSAID-D2: the publicly available training data listed (`data` as for OSAID-D1).
fn public_data(repo: &Repo<'_>, data: Option<&Section>) -> Criterion {
    let mut c = Criterion::new("OSAID-D2", "List of publicly available training data");
    let ids = repo.list_field("datasets");
    if !ids.is_empty() {
        c.ev("README.md", Some("datasets"), ids.join(", "));
        c = c.set(Verdict::Pass);
    } else if let Some(s) = data.filter(|s| !urls_in(&s.content).is_empty()) {
        c.ev(
            "README.md",
            Some(s.title.as_str()),
            "training data section links sources",
        );
        c.need("the public datasets as ids in the card's datasets field");
        c = c.set(Verdict::Review);
    } else {
        c.need("the public training datasets in the card's datasets field");
        c = c.set(Verdict::Fail);
    }
    c
}

/// OSAID-D3: the training data obtainable from third parties listed.
fn third_party_data(repo: &Repo<'_>) -> Criterion {
    let mut c = Criterion::new(
        "OSAID-D3",
        "List of training data obtainable from third parties",
    );
    let third = repo.sections.iter().find(|s| {
        [
            "third-party",
            "third party",
            "proprietary data",
            "licensed data",
            "purchased data",
        ]
        .iter()
        .any(|w| s.key.contains(w))
            && is_filled(&s.content)
    });
    match third {
        Some(s) => {
            c.ev(
                "README.md",
                Some(s.title.as_str()),
                "third-party data listed",
            );
            c = c.set(Verdict::Pass);
        }
        None => {
            c.need("a \"Third-Party Data\" section listing data obtainable from others (\"none\" is an answer)");
            c = c.set(Verdict::Fail);
        }
    }
    c
}

/// OSAID-D4: the data information (card and documentation) under open terms.
fn data_information_licence(scan: &Scan, yml: Option<&MofYml>) -> Criterion {
    let mut c = Criterion::new("OSAID-D4", "Data information under open terms");
    if scan.document_licenses.is_empty() {
        c.need("a licence for the card and documentation");
        c = c.set(Verdict::Fail);
    }
    let source = yml
        .filter(|y| y.type_licenses.contains_key("document"))
        .map(|y| y.path.clone())
        .unwrap_or_else(|| "README.md".into());
    for l in &scan.document_licenses {
        let st = license_status(l, ContentType::Document);
        c.ev(
            &source,
            Some("license"),
            format!("{l}: {}", status_words(st)),
        );
        let v = match st {
            LicenseStatus::TypeAppropriate | LicenseStatus::OpenNotTypeAppropriate => Verdict::Pass,
            LicenseStatus::Review => Verdict::Review,
            _ => {
                c.need(format!(
                    "an open licence for the documentation ({l} is not)"
                ));
                Verdict::Fail
            }
        };
        c.verdict = c.verdict.worst(v);
    }
    c
}
