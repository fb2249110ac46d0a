//! Entry point for the `card_input` fuzz target and its corpus replay: cards, gate forms and
//! parent licences built from arbitrary bytes must give a result, never a panic, and the results
//! must agree with themselves.

use serde_json::{Map, Value};

use crate::derive::{self, Child, Parent, Relation};
use crate::files::MemFiles;
use crate::frontmatter::Card;
use crate::lint::{self, Mode, Options};
use crate::{gate, licenses};

/// Run every parser of this crate on `data`.
pub fn exercise(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let card = Card::parse(&text);
    let lines = card.text.lines().count() + 1;
    let mut files = MemFiles::new();
    files.add("README.md", card.text.as_bytes().to_vec());
    // The second half of the input doubles as a licence text and an adapter config.
    let half = &text[text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map(|(i, _)| i)
        .unwrap_or(0)..];
    files.add("LICENSE", half.as_bytes().to_vec());
    files.add("adapter_config.json", half.as_bytes().to_vec());
    for mode in [Mode::Full, Mode::Metadata] {
        let opts = Options {
            mode,
            files: Some(&files),
            ..Options::default()
        };
        let report = lint::lint(&card, &opts);
        let errors = report
            .findings
            .iter()
            .filter(|f| f.severity == lint::Severity::Error)
            .count();
        assert_eq!(errors, report.errors);
        for f in &report.findings {
            if let Some(l) = f.line {
                assert!(l >= 1 && l <= lines + 1, "line {l} of a {lines}-line card");
            }
        }
        if card.front.is_err() {
            assert!(!report.passes());
        }
    }
    let agreement = gate::agreement("fuzz/model", &files);
    assert_eq!(agreement.sha256.len(), 64);
    if let Ok(Some(front)) = &card.front
        && let Some(f) = front.get("extra_gated_fields")
        && let Ok(form) = gate::fields(f)
    {
        // Answer every field with the value the input gives for it, or its own label.
        let mut answers = Map::new();
        for field in &form {
            let v = front
                .get(&field.label)
                .cloned()
                .unwrap_or(Value::String(field.label.clone()));
            answers.insert(field.label.clone(), v);
        }
        if let Ok(checked) = gate::check_answers(&form, &answers) {
            assert_eq!(checked.len(), form.len());
        }
    }
    let _ = lint::detect_license(half);
    // Parents and a child licence picked by the input's bytes.
    let all = licenses::all();
    let pick = |b: u8| all[b as usize % all.len()].id.clone();
    let parents: Vec<Parent> = data
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, &b)| Parent {
            id: format!("p/{i}"),
            license: Some(pick(b)),
            ..Parent::default()
        })
        .collect();
    let relations = [
        Relation::Finetune,
        Relation::Adapter,
        Relation::Merge,
        Relation::Quantized,
        Relation::Distillation,
        Relation::TrainedOnOutputs,
    ];
    let child = Child {
        license: data.get(3).map(|&b| pick(b)),
        name: card
            .headings
            .first()
            .map(|h| h.text.clone())
            .unwrap_or_default(),
        relation: data
            .get(4)
            .map(|&b| relations[b as usize % relations.len()]),
        card: card.text.clone(),
        license_text: Some(half.to_string()),
        notice: None,
        pipeline_tag: card.str_field("pipeline_tag"),
    };
    let outcome = derive::check(&child, &parents);
    // The lint's licence rules on the same parents.
    let opts = Options {
        files: Some(&files),
        parents: Some(&parents),
        ..Options::default()
    };
    let report = lint::lint(&card, &opts);
    assert_eq!(
        report.policy,
        report
            .findings
            .iter()
            .filter(|f| f.severity == lint::Severity::Policy)
            .count()
    );
    // The declared licence is allowed exactly when it is in the allowed set (unless it is a
    // custom or undetermined licence, which the set never holds).
    if let Some(l) = child.license.as_deref().and_then(licenses::get)
        && !l.undetermined()
        && !parents.is_empty()
    {
        let in_set = outcome.allowed.iter().any(|a| a == &l.id);
        let blocked = outcome
            .findings
            .iter()
            .any(|f| f.level == "error" && f.term != "naming");
        assert_eq!(in_set, !blocked, "{} vs {:?}", l.id, outcome.findings);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn corpus_replays() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/card_input");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("the corpus folder exists") {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            super::exercise(&data);
            n += 1;
        }
        assert!(n >= 5, "corpus has only {n} inputs");
    }

    /// A YAML error on a line ending in a lone CR was reported on a line past the card's end,
    /// and the finding's line lookup panicked (found by the fuzzer).
    #[test]
    fn regression_yaml_error_on_a_lone_cr_line() {
        super::exercise(include_bytes!(
            "../../../fuzz/regressions/card_input/yaml_error_on_a_lone_cr_line"
        ));
    }
}
