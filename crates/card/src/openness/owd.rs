//! The Open Weight Definition v0.3: one function per criterion (OWD-1 to OWD-10), each reading
//! the declared licences with their rows of the licence table and the scanned facts, and [`owd`]
//! putting them together into the verdict and label.

use serde_json::Value;

use super::criterion::{Criterion, Verdict};
use super::facts::{IndexCheck, Scan, WeightFile, count};
use super::names::{WeightFormat, is_step_ref, shows_quant};
use super::repo::Repo;
use super::report::{Context, LicenseFact, Owd};
use crate::{gate, licenses};

/// A declared licence with its row of the licence table, when it names one.
type Row<'a> = (&'a LicenseFact, Option<&'static licenses::License>);

/// What is missing when the repository declares no licence.
const NO_LICENSE: &str = "a licence in the card's front matter (`license:` with a Hub licence id)";

/// The criteria list of a table verdict such as `fail (5,6,9)`.
pub(super) fn failed_criteria(owd: &str) -> Vec<String> {
    owd.split_once('(')
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(inside, _)| {
            inside
                .split([',', ' ', ':'])
                .map(str::trim)
                .filter(|s| s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Phrases of licence texts that forbid improving other models (OWD criterion 9).
const NO_IMPROVING_OTHERS: &[&str] = &[
    "improve any other large language model",
    "to improve any other",
    "train or improve other",
    "to train, improve",
    "improve other large language models",
];

/// The Open Weight Definition result: every criterion, and the label they give.
pub(super) fn owd(repo: &Repo<'_>, ctx: &Context, scan: &Scan) -> Owd {
    let rows: Vec<Row<'_>> = scan
        .licenses
        .iter()
        .map(|l| (l, l.table_id.as_deref().and_then(licenses::get)))
        .collect();
    let criteria = vec![
        redistribution(repo, &rows),
        weights_included(scan),
        not_obfuscated(scan),
        not_intermediate(repo, ctx, scan),
        quantised_distinguished(repo, ctx, scan),
        derived_works(&rows),
        no_discrimination(repo, &rows),
        no_licence_to_execute(ctx, scan, &rows),
        no_restriction_on_others(repo, &rows),
        technology_neutral(scan, &rows),
    ];

    let has_weights = !scan.weights.is_empty();
    let open_weight = has_weights && criteria.iter().all(|c| c.verdict.is_ok());
    Owd {
        version: "0.3".into(),
        open_weight,
        label: if open_weight {
            "Open Weight (OWD v0.3)".into()
        } else if has_weights {
            "weights available".into()
        } else {
            "no weights".into()
        },
        criteria,
    }
}

/// OWD-1: free redistribution, every declared licence on the OWD allowlist.
fn redistribution(repo: &Repo<'_>, rows: &[Row<'_>]) -> Criterion {
    let mut c = Criterion::new("OWD-1", "Free redistribution (licence allowlisted)");
    if rows.is_empty() {
        c.need(NO_LICENSE);
        c = c.set(Verdict::Fail);
    }
    for (fact, row) in rows {
        let v = match row {
            None => {
                c.need(format!(
                    "{} is not a licence of the table: use a Hub licence id",
                    fact.id
                ));
                Verdict::Fail
            }
            Some(r) if r.undetermined() => {
                let name = repo.str_field("license_name").unwrap_or_default();
                c.need(format!(
                    "read the custom licence {name} against the OWD criteria"
                ));
                Verdict::Review
            }
            Some(r) if r.owd_pass() => Verdict::Pass,
            Some(r) if r.owd_v0_3.starts_with("fail") => {
                c.need(format!(
                    "a licence on the OWD allowlist instead of {}",
                    r.id
                ));
                Verdict::Fail
            }
            Some(_) => Verdict::Review,
        };
        c.ev(
            &fact.source,
            Some("license"),
            format!(
                "{}: OWD v0.3 {}",
                fact.id,
                fact.owd_v0_3
                    .as_deref()
                    .unwrap_or("not in the licence table")
            ),
        );
        c.verdict = c.verdict.worst(v);
    }
    c
}

/// OWD-2a: weights present in a usable form, every shard of a sharded index present.
fn weights_included(scan: &Scan) -> Criterion {
    let mut c = Criterion::new("OWD-2a", "Weights included in a usable form");
    if scan.weights.is_empty() {
        c.need("weight files (*.safetensors or *.gguf)");
        c = c.set(Verdict::Fail);
    } else {
        c = weight_forms(c, scan);
        for ix in &scan.indexes {
            shard_check(&mut c, ix);
        }
    }
    c
}

/// OWD-2a's weight files: safetensors or GGUF pass, other formats only warn.
fn weight_forms(mut c: Criterion, scan: &Scan) -> Criterion {
    let main_formats: Vec<&WeightFile> = scan
        .weights
        .iter()
        .filter(|w| matches!(w.format, WeightFormat::Safetensors | WeightFormat::Gguf))
        .collect();
    let total: u64 = scan.weights.iter().map(|w| w.size).sum();
    if main_formats.is_empty() {
        let names: Vec<&str> = scan
            .weights
            .iter()
            .take(3)
            .map(|w| w.path.as_str())
            .collect();
        c.ev(
            names[0],
            None,
            format!(
                "{} in other formats ({})",
                count(scan.weights.len(), "weight file"),
                names.join(", ")
            ),
        );
        c.need("weights as safetensors or GGUF");
        c = c.set(Verdict::Warn);
    } else {
        c.ev(
            &main_formats[0].path,
            None,
            format!(
                "{} ({} safetensors, {} GGUF), {total} bytes",
                count(scan.weights.len(), "weight file"),
                main_formats
                    .iter()
                    .filter(|w| w.format == WeightFormat::Safetensors)
                    .count(),
                main_formats
                    .iter()
                    .filter(|w| w.format == WeightFormat::Gguf)
                    .count(),
            ),
        );
        c = c.set(Verdict::Pass);
    }
    c
}

/// OWD-2a's sharded index `ix`: readable, and every shard it names present.
fn shard_check(c: &mut Criterion, ix: &IndexCheck) {
    if let Some(e) = &ix.error {
        c.ev(&ix.path, None, format!("sharded index {e}"));
        c.need(format!("a readable {}", ix.path));
        c.verdict = c.verdict.worst(Verdict::Fail);
    } else if ix.missing.is_empty() {
        c.ev(
            &ix.path,
            Some("weight_map"),
            format!("all {} shards present", ix.shards),
        );
    } else {
        c.ev(
            &ix.path,
            Some("weight_map"),
            format!(
                "{} of {} shards missing: {}",
                ix.missing.len(),
                ix.shards,
                ix.missing
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        for m in ix.missing.iter().take(20) {
            c.need(format!("shard {m}"));
        }
        c.verdict = c.verdict.worst(Verdict::Fail);
    }
}

/// OWD-2b: weight files not encrypted, their headers parse.
fn not_obfuscated(scan: &Scan) -> Criterion {
    let mut c = Criterion::new("OWD-2b", "Weights not obfuscated (headers parse)");
    for e in &scan.encrypted {
        c.ev(e, None, "looks encrypted");
        c.need(format!("{e} in a readable format"));
        c.verdict = c.verdict.worst(Verdict::Fail);
    }
    let mut passed = 0;
    for h in &scan.headers {
        match h.verdict {
            Verdict::Pass => {
                passed += 1;
                if passed <= 8 {
                    c.ev(
                        &h.path,
                        None,
                        format!("{} header parses: {}", h.format, h.detail),
                    );
                }
            }
            v => {
                c.ev(&h.path, None, format!("{} header: {}", h.format, h.detail));
                if v == Verdict::Fail {
                    c.need(format!("a valid {} header in {}", h.format, h.path));
                }
            }
        }
        c.verdict = c.verdict.worst(h.verdict);
    }
    if passed > 8 {
        c.ev("", None, format!("{} more headers parse", passed - 8));
    }
    if scan.unchecked > 0 {
        c.ev(
            "",
            None,
            format!("{} more weight files not checked", scan.unchecked),
        );
    }
    if scan.headers.is_empty() && !scan.weights.is_empty() {
        c.ev(
            &scan.weights[0].path,
            None,
            "no safetensors or GGUF header to check",
        );
        c.need("weights as safetensors or GGUF, whose headers can be checked");
        c.verdict = c.verdict.worst(Verdict::Review);
    }
    c
}

/// OWD-2c: the final weights, not an intermediate training state.
fn not_intermediate(repo: &Repo<'_>, ctx: &Context, scan: &Scan) -> Criterion {
    let mut c = Criterion::new("OWD-2c", "Not an intermediate training state");
    if !scan.weights.is_empty() {
        let finals: Vec<&WeightFile> = scan.final_weights().collect();
        let rev_step = ctx.revision.as_deref().filter(|r| is_step_ref(r));
        if let Some(r) = rev_step {
            c.ev("refs", None, format!("revision {r} names a training step"));
            c.need("the final weights on the main branch");
            c = c.set(Verdict::Review);
        } else if finals.is_empty() {
            c.ev(
                &scan.weights[0].path,
                None,
                "weights only inside training checkpoint folders",
            );
            if repo.exists("trainer_state.json") {
                c.ev(
                    "trainer_state.json",
                    None,
                    "trainer state without final weights",
                );
            }
            c.need("final weights outside checkpoint-*/ folders");
            c = c.set(Verdict::Review);
        } else {
            let also = if scan.weights.len() > finals.len() {
                " (intermediate checkpoints also shipped)"
            } else {
                ""
            };
            c.ev(&finals[0].path, None, format!("final weights{also}"));
            c = c.set(Verdict::Pass);
        }
    }
    c
}

/// OWD-2d: a quantised form says so, and names the model it was quantised from.
fn quantised_distinguished(repo: &Repo<'_>, ctx: &Context, scan: &Scan) -> Criterion {
    let mut c = Criterion::new("OWD-2d", "Quantised forms clearly distinguished");
    if !scan.quant.is_empty() {
        c.evidence.extend(scan.quant.iter().take(8).cloned());
        let relation = repo.str_field("base_model_relation");
        let bases = repo.list_field("base_model");
        let mut v = Verdict::Pass;
        if relation.as_deref() != Some("quantized") {
            c.need("base_model_relation: quantized in the card");
            v = Verdict::Fail;
        } else {
            c.ev("README.md", Some("base_model_relation"), "quantized");
        }
        if bases.is_empty() {
            c.need("base_model: the model it was quantised from");
            v = Verdict::Fail;
        } else {
            c.ev("README.md", Some("base_model"), bases.join(", "));
        }
        if v == Verdict::Pass {
            let tags = repo.list_field("tags").join(" ");
            let name = ctx.repo_id.clone().unwrap_or_default();
            if !shows_quant(&tags) && !shows_quant(&name) {
                c.need("a tag or name showing the quantisation (e.g. gguf, gptq, q4_k_m)");
                v = Verdict::Warn;
            }
        }
        c = c.set(v);
    }
    c
}

/// OWD-3/4: the licences allow derived works and their distribution.
fn derived_works(rows: &[Row<'_>]) -> Criterion {
    let mut c = Criterion::new("OWD-3/4", "Derived works and their distribution allowed");
    if rows.is_empty() {
        c.need(NO_LICENSE);
        c = c.set(Verdict::Fail);
    }
    for (fact, row) in rows {
        let v = match row {
            None => Verdict::Fail,
            Some(r) if r.undetermined() => Verdict::Review,
            Some(r) if r.no_derivatives() => {
                c.need(format!(
                    "a licence that allows sharing modified weights ({} does not)",
                    r.id
                ));
                Verdict::Fail
            }
            Some(r) if r.modification.starts_with("yes") && r.redistribution.starts_with("yes") => {
                Verdict::Pass
            }
            Some(_) => Verdict::Review,
        };
        if let Some(r) = row {
            c.ev(
                &fact.source,
                Some("license"),
                format!(
                    "{}: modification {}; redistribution {}",
                    r.id, r.modification, r.redistribution
                ),
            );
        }
        c.verdict = c.verdict.worst(v);
    }
    c
}

/// OWD-5/6: no discrimination against persons, groups or fields of use, nor by geography.
fn no_discrimination(repo: &Repo<'_>, rows: &[Row<'_>]) -> Criterion {
    let mut c = Criterion::new(
        "OWD-5/6",
        "No discrimination against persons, groups or fields of use",
    );
    if rows.is_empty() {
        c.need(NO_LICENSE);
        c = c.set(Verdict::Fail);
    }
    for (fact, row) in rows {
        let v = match row {
            None => Verdict::Fail,
            Some(r) if r.id == "other" || r.id == "cc" => Verdict::Review,
            Some(r) => {
                c.ev(
                    &fact.source,
                    Some("license"),
                    format!(
                        "{}: use restrictions: {}; commercial use: {}",
                        r.id, r.use_restrictions, r.commercial_use
                    ),
                );
                if !r.restricts_use() && r.commercial_use.starts_with("yes") {
                    Verdict::Pass
                } else {
                    c.need(format!(
                        "a licence without use restrictions or user/revenue thresholds ({})",
                        r.id
                    ));
                    Verdict::Fail
                }
            }
        };
        c.verdict = c.verdict.worst(v);
    }
    if repo
        .data
        .get("extra_gated_eu_disallowed")
        .and_then(Value::as_bool)
        == Some(true)
    {
        c.ev(
            "README.md",
            Some("extra_gated_eu_disallowed"),
            "access refused to EU users",
        );
        c.need("no geographic exclusion");
        c.verdict = c.verdict.worst(Verdict::Fail);
    }
    c
}

/// OWD-7: no additional licence to execute: a gate must not act as a licence condition.
fn no_licence_to_execute(ctx: &Context, scan: &Scan, rows: &[Row<'_>]) -> Criterion {
    let allowlisted = !rows.is_empty() && rows.iter().all(|(_, r)| r.is_some_and(|r| r.owd_pass()));
    let mut c = Criterion::new("OWD-7", "No additional licence to execute (gating)");
    if scan.gated {
        let how = if ctx.gated.is_some() {
            "the hub"
        } else {
            "the card"
        };
        c.ev(
            "README.md",
            Some("gated"),
            format!("access is gated (from {how})"),
        );
        if allowlisted {
            c.need("keep the gate informational: the licence alone must grant the rights");
            c = c.set(Verdict::Warn);
        } else {
            c.need("ungated access, or a licence on the OWD allowlist");
            c = c.set(Verdict::Fail);
        }
    } else {
        let how = if ctx.gated.is_some() {
            "the hub: access is not gated"
        } else {
            "no gate declared in the card"
        };
        c.ev("README.md", None, how);
        c = c.set(Verdict::Pass);
    }
    c
}

/// OWD-9: the licences do not restrict other models or software.
fn no_restriction_on_others(repo: &Repo<'_>, rows: &[Row<'_>]) -> Criterion {
    let mut c = Criterion::new("OWD-9", "No restriction on other models or software");
    if rows.is_empty() {
        c.need(NO_LICENSE);
        c = c.set(Verdict::Fail);
    }
    for (fact, row) in rows {
        let v = match row {
            None => Verdict::Review,
            Some(r) if r.undetermined() => {
                let text = gate::LICENSE_FILES
                    .iter()
                    .find_map(|f| repo.text(f).map(|t| (f, t.to_lowercase())));
                match text {
                    Some((f, t)) if NO_IMPROVING_OTHERS.iter().any(|p| t.contains(p)) => {
                        c.ev(f, None, "forbids using the model to improve other models");
                        c.need("a licence without the clause on improving other models");
                        Verdict::Fail
                    }
                    _ => Verdict::Review,
                }
            }
            Some(r) => {
                let clause = failed_criteria(&r.owd_v0_3).iter().any(|n| n == "9")
                    || r.use_restrictions.to_lowercase().contains("improv");
                if clause {
                    c.ev(
                        &fact.source,
                        Some("license"),
                        format!("{}: {}", r.id, r.use_restrictions),
                    );
                    c.need(format!(
                        "a licence without the clause on improving other models ({})",
                        r.id
                    ));
                    Verdict::Fail
                } else {
                    c.ev(
                        &fact.source,
                        Some("license"),
                        format!("{}: no such clause", r.id),
                    );
                    Verdict::Pass
                }
            }
        };
        c.verdict = c.verdict.worst(v);
    }
    c
}

/// OWD-10: technology-neutral terms, not an agreement clicked through.
fn technology_neutral(scan: &Scan, rows: &[Row<'_>]) -> Criterion {
    let mut c = Criterion::new("OWD-10", "Technology-neutral (not click-wrap only)");
    if scan.gated && scan.gate_agreement {
        c.ev(
            "README.md",
            Some("extra_gated_prompt"),
            "access requires accepting an agreement",
        );
        c.need("a person to judge whether the agreement adds terms to the licence");
        c = c.set(Verdict::Review);
    } else if scan.gated {
        c.ev(
            "README.md",
            Some("gated"),
            "access is gated without extra terms",
        );
        c = c.set(Verdict::Warn);
    } else if rows
        .iter()
        .any(|(_, r)| r.is_some_and(|r| r.undetermined()))
    {
        c.need("a person to read the custom licence");
        c = c.set(Verdict::Review);
    } else if rows.is_empty() {
        c.need(NO_LICENSE);
        c = c.set(Verdict::Review);
    } else {
        c.ev(
            "README.md",
            Some("license"),
            "terms in the licence alone, no click-through",
        );
        c = c.set(Verdict::Pass);
    }
    c
}
