//! Provenance and safety findings, beside the three definitions: the parent revision pinned
//! (PROV-001), a quantised variant labelled (PROV-002), an adapter's base model matching the
//! card (PROV-003), a merge's recipe present (PROV-004), and no pickle-based files (SEC-001).

use super::criterion::{Criterion, Verdict};
use super::facts::Scan;
use super::names::shows_quant;
use super::repo::Repo;

/// The PROV-001..004 and SEC-001 findings, in that order.
pub(super) fn findings(repo: &Repo<'_>, scan: &Scan) -> Vec<Criterion> {
    let mut out = Vec::new();
    let bases = repo.list_field("base_model");
    let relation = repo.str_field("base_model_relation");

    let mut c = Criterion::new("PROV-001", "Parent revision pinned");
    if !bases.is_empty() {
        match repo.str_field("base_model_revision") {
            Some(r) if r.len() == 40 && r.chars().all(|c| c.is_ascii_hexdigit()) => {
                c.ev("README.md", Some("base_model_revision"), r);
                c = c.set(Verdict::Pass);
            }
            other => {
                if let Some(r) = other {
                    c.ev(
                        "README.md",
                        Some("base_model_revision"),
                        format!("{r} is not a commit id"),
                    );
                }
                c.need("base_model_revision: the parent's 40-hex commit id");
                c = c.set(Verdict::Warn);
            }
        }
    }
    out.push(c);

    let mut c = Criterion::new("PROV-002", "Quantised variant labelled");
    if !scan.quant.is_empty() {
        c.evidence.extend(scan.quant.iter().take(3).cloned());
        let tags = repo.list_field("tags").join(" ");
        if relation.as_deref() != Some("quantized") {
            c.need("base_model_relation: quantized");
            c = c.set(Verdict::Fail);
        } else if !shows_quant(&tags) {
            c.need("a tag naming the quantisation method (gguf, gptq, awq, ...)");
            c = c.set(Verdict::Warn);
        } else {
            c.ev("README.md", Some("tags"), tags);
            c = c.set(Verdict::Pass);
        }
    }
    out.push(c);

    let mut c = Criterion::new("PROV-003", "Adapter base model matches the card");
    if let Some(cfg) = repo.json("adapter_config.json") {
        match cfg["base_model_name_or_path"].as_str() {
            Some(b) if bases.iter().any(|x| x == b) => {
                c.ev(
                    "adapter_config.json",
                    Some("base_model_name_or_path"),
                    b.to_string(),
                );
                c = c.set(Verdict::Pass);
            }
            Some(b) => {
                c.ev(
                    "adapter_config.json",
                    Some("base_model_name_or_path"),
                    b.to_string(),
                );
                c.need(format!(
                    "base_model: {b} in the card (it lists [{}])",
                    bases.join(", ")
                ));
                c = c.set(Verdict::Warn);
            }
            None => {
                c.need("base_model_name_or_path in adapter_config.json");
                c = c.set(Verdict::Warn);
            }
        }
    }
    out.push(c);

    let mut c = Criterion::new("PROV-004", "Merge recipe present");
    if relation.as_deref() == Some("merge") {
        let recipe = repo.find(|_, n| n == "mergekit_config.yml" || n == "mergekit_config.yaml");
        match recipe.first() {
            Some(p) => {
                c.ev(p, None, "merge recipe");
                c = c.set(Verdict::Pass);
            }
            None => {
                c.need("mergekit_config.yml (the merge recipe)");
                c = c.set(Verdict::Warn);
            }
        }
    }
    out.push(c);

    let mut c = Criterion::new("SEC-001", "No pickle-based files");
    if scan.pickles.is_empty() {
        c = c.set(Verdict::Pass);
    } else {
        for p in scan.pickles.iter().take(10) {
            c.ev(p, None, "pickle-based: loading it can run code");
        }
        c.need("safetensors instead of pickle-based files");
        c = c.set(Verdict::Warn);
    }
    out.push(c);
    out
}
