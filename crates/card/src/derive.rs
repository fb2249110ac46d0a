//! What a derived model (fine-tune, adapter, merge, quantisation, distillation, model trained
//! on outputs) may be licensed as, given its parents' licences (governance.md section 3.4).
//!
//! Every licence of the table is tried as the child's licence against the parents' terms: the
//! ones that break no term are the allowed set, and the declared licence is judged by the same
//! test, so the two can never disagree. Duties that do not depend on the licence id (names,
//! notices, licence copies, attribution) are checked against the child's files.

use serde::Serialize;

use crate::licenses::{self, Carry, License};

/// Notice files, in the order they are looked for.
pub const NOTICE_FILES: &[&str] = &[
    "NOTICE",
    "NOTICE.md",
    "NOTICE.txt",
    "Notice",
    "Notice.txt",
    "notice",
    "notice.txt",
];

/// How the child was made from its parents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// Further training of the weights.
    Finetune,
    /// Extra weights (LoRA and the like) on top of the parent.
    Adapter,
    /// Weights combined from several parents.
    Merge,
    /// A lower-precision copy.
    Quantized,
    /// A student trained to imitate the parent.
    Distillation,
    /// Trained on text, images, ... the parent generated.
    TrainedOnOutputs,
}

impl Relation {
    /// Parse a `base_model_relation` value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "finetune" => Self::Finetune,
            "adapter" => Self::Adapter,
            "merge" => Self::Merge,
            "quantized" => Self::Quantized,
            "distillation" => Self::Distillation,
            "trained-on-outputs" => Self::TrainedOnOutputs,
            _ => return None,
        })
    }
    /// The card spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Finetune => "finetune",
            Self::Adapter => "adapter",
            Self::Merge => "merge",
            Self::Quantized => "quantized",
            Self::Distillation => "distillation",
            Self::TrainedOnOutputs => "trained-on-outputs",
        }
    }
}

/// A parent model as resolved.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Parent {
    /// Repository id.
    pub id: String,
    /// Its card's `license` (a Hub id), if any.
    pub license: Option<String>,
    /// `license_name` when the licence is `other`.
    pub license_name: Option<String>,
    /// Where the licence came from (`hub`, `folder`, `flag`).
    pub source: String,
    /// Its NOTICE file, if it has one.
    #[serde(skip)]
    pub notice: Option<String>,
    /// Why its card could not be read at all (no hub or folder given, the hub refused), when
    /// it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unresolved: Option<String>,
}

/// The derived model.
#[derive(Debug, Clone, Default)]
pub struct Child {
    /// Declared licence id.
    pub license: Option<String>,
    /// Published name (`Llama-3.1-Chat` or `acme/Llama-3.1-Chat`).
    pub name: String,
    /// How it was made (default: fine-tune, or merge with several parents).
    pub relation: Option<Relation>,
    /// The card text.
    pub card: String,
    /// Its licence file.
    pub license_text: Option<String>,
    /// Its NOTICE file.
    pub notice: Option<String>,
    /// `pipeline_tag`.
    pub pipeline_tag: Option<String>,
}

/// The outcome for the declared licence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The declared licence is allowed.
    Allowed,
    /// It is not (or none is declared, or the parents cannot be determined).
    NotAllowed,
    /// Allowed as far as a tool can tell, but a person must check.
    Review,
}

/// A term of a parent's licence that the child breaks, or a point to review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule id (LIC-001 ...).
    pub rule: &'static str,
    /// `error` or `review`.
    pub level: &'static str,
    /// The parent whose term it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The term (`non-commercial`, `share-alike`, `naming` ...).
    pub term: String,
    /// Explanation.
    pub message: String,
}

/// A duty the child must meet, and whether its files show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duty {
    /// Rule id.
    pub rule: &'static str,
    /// The parent it comes from.
    pub parent: String,
    /// What to do.
    pub what: String,
    /// Whether the child's files meet it.
    pub met: bool,
}

/// The licence check of a derived model.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Verdict on the declared licence.
    pub verdict: Verdict,
    /// The declared licence.
    pub declared: Option<String>,
    /// The relation used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<Relation>,
    /// The parents.
    pub parents: Vec<Parent>,
    /// Licence ids the child may use (empty when none can be used).
    pub allowed: Vec<String>,
    /// What the child should be licensed as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended: Option<String>,
    /// Terms broken and points to review.
    pub findings: Vec<Finding>,
    /// Naming, notice and attribution duties.
    pub duties: Vec<Duty>,
    /// Tags the child should carry (`eu-restricted-multimodal`).
    pub tags: Vec<String>,
}

impl Outcome {
    /// Duties the child's files do not show.
    pub fn unmet_duties(&self) -> impl Iterator<Item = &Duty> {
        self.duties.iter().filter(|d| !d.met)
    }
}

fn norm(text: &str) -> String {
    text.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe(l: &License) -> String {
    let c = l.carry();
    if l.no_derivatives() {
        "no derivatives".into()
    } else if l.non_commercial() && c == Carry::ShareAlike {
        "non-commercial, share-alike".into()
    } else if l.non_commercial() && c == Carry::PassThrough {
        "non-commercial licence that derived models keep".into()
    } else if l.non_commercial() {
        "non-commercial".into()
    } else {
        match c {
            Carry::ShareAlike => "share-alike".into(),
            Carry::PassThrough => "licence that derived models keep".into(),
            Carry::UseRestrictions => {
                "use-based restrictions that derived models must carry".into()
            }
            Carry::Weak => "weak copyleft".into(),
            _ => "permissive".into(),
        }
    }
}

/// Does this parent's licence reach a child made with `rel`? Most licences cover the weights
/// and their adaptations; only some claim models trained on the parent's outputs.
fn reaches(l: &License, rel: Relation) -> bool {
    if rel != Relation::TrainedOnOutputs {
        return true;
    }
    matches!(
        l.lineage().0.as_str(),
        "llama" | "gemma" | "grok2-community"
    ) || l.carry() == Carry::UseRestrictions
}

/// Licences that forbid using the model or its outputs to improve other models.
fn forbids_improving_others(l: &License) -> bool {
    matches!(l.id.as_str(), "llama2" | "llama3" | "grok2-community")
}

fn is_rail(l: &License) -> bool {
    l.family.starts_with("RAIL")
}

/// The restriction families whose licence a child must keep (Llama, Grok, research-only,
/// Gemma), by family name.
fn keeper_family(l: &License) -> Option<String> {
    (l.carry() == Carry::PassThrough || l.id == "gemma").then(|| l.lineage().0)
}

/// Terms of the parents that child licence `c` breaks.
fn violations(c: &License, parents: &[(&Parent, &'static License)], rel: Relation) -> Vec<Finding> {
    let mut out = Vec::new();
    let keepers: Vec<String> = {
        let mut k: Vec<String> = parents
            .iter()
            .filter_map(|(_, l)| keeper_family(l))
            .collect();
        k.sort();
        k.dedup();
        k
    };
    for (p, l) in parents {
        if !reaches(l, rel) {
            continue;
        }
        let err = |term: &str, message: String| Finding {
            rule: "LIC-001",
            level: "error",
            parent: Some(p.id.clone()),
            term: term.to_string(),
            message,
        };
        if rel == Relation::TrainedOnOutputs && forbids_improving_others(l) {
            if c.lineage().0 != l.lineage().0 {
                out.push(Finding {
                    rule: "LIC-006",
                    level: "error",
                    parent: Some(p.id.clone()),
                    term: "no improving other models".into(),
                    message: format!("{} is licensed {}, which forbids using it or its outputs to improve other models: a {} outside its family is not allowed", p.id, l.id, rel.as_str()),
                });
            }
            continue;
        }
        if l.no_derivatives() {
            out.push(err(
                "no-derivatives",
                format!("{} is licensed {} (no derivatives): a {} of it may not be distributed under any licence", p.id, l.id, rel.as_str()),
            ));
            continue;
        }
        if l.non_commercial() && !c.non_commercial() {
            out.push(err(
                "non-commercial",
                format!("{} is licensed {} (non-commercial): the derived model must not permit commercial use, and {} does", p.id, l.id, c.id),
            ));
        }
        match l.carry() {
            Carry::ShareAlike => {
                let (fam, ver) = l.lineage();
                let (cfam, cver) = c.lineage();
                if cfam != fam || cver < ver {
                    out.push(err(
                        "share-alike",
                        format!("{} is licensed {} (share-alike): the derived model must be licensed {} too, not {}", p.id, l.id, l.id, c.id),
                    ));
                }
                for (q, m) in parents {
                    let compatible = m.permissive()
                        || m.lineage().0 == fam
                        || (m.non_commercial()
                            && l.non_commercial()
                            && m.carry() == Carry::None
                            && !m.no_derivatives());
                    if !compatible && reaches(m, rel) && q.id != p.id {
                        out.push(err(
                            "share-alike",
                            format!("{} is licensed {} (share-alike, no added restrictions) and {} is licensed {} ({}): no licence satisfies both", p.id, l.id, q.id, m.id, describe(m)),
                        ));
                    }
                }
            }
            Carry::PassThrough if keepers.len() < 2 => {
                let (fam, ver) = l.lineage();
                let (cfam, cver) = c.lineage();
                if cfam != fam || cver < ver {
                    out.push(err(
                        "licence pass-through",
                        format!("{} is licensed {}: derived models stay under that licence, so the derived model must be licensed {} (not {})", p.id, l.id, l.id, c.id),
                    ));
                }
            }
            Carry::UseRestrictions if keepers.len() < 2 => {
                if l.id == "gemma" {
                    if c.id != "gemma" {
                        out.push(err(
                            "use restrictions",
                            format!("{} is licensed gemma: every model derivative stays under the Gemma Terms of Use, so the derived model must be licensed gemma (not {})", p.id, c.id),
                        ));
                    }
                } else if !is_rail(c) {
                    out.push(err(
                        "use restrictions",
                        format!("{} is licensed {}: its use-based restrictions must travel with every derivative, so the derived model needs a RAIL licence carrying them (not {})", p.id, l.id, c.id),
                    ));
                }
            }
            _ => {}
        }
        if rel == Relation::Distillation
            && forbids_improving_others(l)
            && c.lineage().0 != l.lineage().0
        {
            out.push(Finding {
                rule: "LIC-006",
                level: "error",
                parent: Some(p.id.clone()),
                term: "no improving other models".into(),
                message: format!("{} is licensed {}, which forbids using it or its outputs to improve other models: a {} outside its family is not allowed", p.id, l.id, rel.as_str()),
            });
        }
    }
    if let Some(fam) = keeper_family(c)
        && !parents
            .iter()
            .any(|(_, l)| keeper_family(l).as_deref() == Some(fam.as_str()))
    {
        out.push(Finding {
            rule: "LIC-001",
            level: "error",
            parent: None,
            term: "vendor licence".into(),
            message: format!("{} is the licence of its vendor's own models and their derivatives, and no parent is under it", c.id),
        });
    }
    if keepers.len() >= 2 {
        let ok: Vec<&str> = parents
            .iter()
            .filter(|(_, l)| keeper_family(l).is_some())
            .map(|(_, l)| l.id.as_str())
            .collect();
        if !ok.contains(&c.id.as_str()) {
            out.push(Finding {
                rule: "LIC-001",
                level: "error",
                parent: None,
                term: "licence pass-through".into(),
                message: format!("parents under {} each require derived models to keep their licence: declare one of them ({})", keepers.join(" and "), ok.join(", ")),
            });
        }
    }
    out
}

/// Check `child` against `parents`.
pub fn check(child: &Child, parents: &[Parent]) -> Outcome {
    let mut findings = Vec::new();
    let rel = child.relation.unwrap_or(if parents.len() > 1 {
        Relation::Merge
    } else {
        Relation::Finetune
    });
    // Resolve the parents' licences.
    let mut resolved: Vec<(&Parent, &'static License)> = Vec::new();
    for p in parents {
        match p.license.as_deref().and_then(licenses::get) {
            Some(l) if l.id == "other" => findings.push(Finding {
                rule: "LIC-001",
                level: if p.license_name.is_some() { "review" } else { "error" },
                parent: Some(p.id.clone()),
                term: "custom licence".into(),
                message: match &p.license_name {
                    Some(n) => format!("{} uses a custom licence ({n}): its terms for derived models must be checked by hand", p.id),
                    None => format!("cannot determine the licence of {}: it declares other without license_name", p.id),
                },
            }),
            Some(l) if l.undetermined() => findings.push(Finding {
                rule: "LIC-001",
                level: "error",
                parent: Some(p.id.clone()),
                term: "unknown licence".into(),
                message: format!("cannot determine the licence of {}: it declares {}", p.id, l.id),
            }),
            Some(l) => resolved.push((p, l)),
            None => findings.push(Finding {
                rule: "LIC-001",
                level: "error",
                parent: Some(p.id.clone()),
                term: "unknown licence".into(),
                message: match (&p.license, &p.unresolved) {
                    (Some(x), _) => format!("cannot determine the licence of {}: \"{x}\" is not a licence id", p.id),
                    (None, Some(why)) => format!("cannot determine the licence of {}: it could not be resolved ({why})", p.id),
                    (None, None) => format!("cannot determine the licence of {}: its card declares no licence", p.id),
                },
            }),
        }
    }
    // Two licences that each insist on being kept.
    let mut keepers: Vec<(String, String)> = resolved
        .iter()
        .filter(|(_, l)| reaches(l, rel))
        .filter_map(|(p, l)| keeper_family(l).map(|f| (f, p.id.clone())))
        .collect();
    keepers.sort();
    keepers.dedup_by(|a, b| a.0 == b.0);
    if keepers.len() >= 2 {
        findings.push(Finding {
            rule: "LIC-001",
            level: "review",
            parent: None,
            term: "dual obligations".into(),
            message: format!(
                "parents under different licences that derived models must keep ({}): the derived model carries the duties of all of them; have the combination reviewed",
                keepers.iter().map(|(f, p)| format!("{p}: {f}")).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let undetermined = findings.iter().any(|f| f.level == "error");
    // The allowed set: every licence of the table that breaks no term.
    let allowed: Vec<String> = if undetermined {
        Vec::new()
    } else {
        licenses::all()
            .iter()
            .filter(|c| !c.undetermined())
            .filter(|c| violations(c, &resolved, rel).is_empty())
            .map(|c| c.id.clone())
            .collect()
    };
    let declared = child.license.clone();
    let declared_lic = declared.as_deref().and_then(licenses::get);
    match (&declared, declared_lic) {
        (None, _) => findings.push(Finding {
            rule: "LIC-001",
            level: "error",
            parent: None,
            term: "no licence".into(),
            message: "the model declares no licence (card \"license\")".into(),
        }),
        (Some(d), None) => findings.push(Finding {
            rule: "LIC-001",
            level: "error",
            parent: None,
            term: "unknown licence".into(),
            message: format!("\"{d}\" is not a Hub licence id"),
        }),
        (Some(_), Some(c)) if c.id == "other" => {
            if !resolved
                .iter()
                .all(|(_, l)| l.permissive() || !reaches(l, rel))
            {
                findings.push(Finding {
                    rule: "LIC-001",
                    level: "review",
                    parent: None,
                    term: "custom licence".into(),
                    message: format!("the model declares a custom licence (other): check by hand that it carries the parents' terms ({})", resolved.iter().filter(|(_, l)| !l.permissive()).map(|(p, l)| format!("{}: {}", p.id, describe(l))).collect::<Vec<_>>().join("; ")),
                });
            }
        }
        (Some(_), Some(c)) if c.undetermined() => findings.push(Finding {
            rule: "LIC-001",
            level: "error",
            parent: None,
            term: "unknown licence".into(),
            message: format!(
                "the model declares {}, which says nothing about its terms",
                c.id
            ),
        }),
        (Some(_), Some(c)) => findings.extend(violations(c, &resolved, rel)),
    }
    let mut tags = Vec::new();
    let duties = duties(child, &resolved, rel, &mut findings, &mut tags);
    // The most restrictive parent licence that is allowed, else the first allowed one.
    let recommended = resolved
        .iter()
        .map(|(_, l)| l)
        .filter(|l| allowed.contains(&l.id))
        .max_by_key(|l| restriction_rank(l))
        .map(|l| l.id.clone())
        .or_else(|| allowed.first().cloned());
    let verdict = if findings.iter().any(|f| f.level == "error") {
        Verdict::NotAllowed
    } else if findings.iter().any(|f| f.level == "review") {
        Verdict::Review
    } else {
        Verdict::Allowed
    };
    Outcome {
        verdict,
        declared,
        relation: (!parents.is_empty()).then_some(rel),
        parents: parents.to_vec(),
        allowed,
        recommended,
        findings,
        duties,
        tags,
    }
}

/// permissive < attribution < weak copyleft < restrictive.
fn restriction_rank(l: &License) -> u8 {
    if l.non_commercial()
        || matches!(
            l.carry(),
            Carry::ShareAlike | Carry::PassThrough | Carry::UseRestrictions
        )
    {
        3
    } else if l.carry() == Carry::Weak {
        2
    } else if l.family == "attribution" {
        1
    } else {
        0
    }
}

fn duties(
    child: &Child,
    parents: &[(&Parent, &'static License)],
    rel: Relation,
    findings: &mut Vec<Finding>,
    tags: &mut Vec<String>,
) -> Vec<Duty> {
    let card = norm(&child.card);
    let lic = child.license_text.as_deref().map(norm).unwrap_or_default();
    let notice = child.notice.as_deref().map(norm).unwrap_or_default();
    let name = child
        .name
        .rsplit('/')
        .next()
        .unwrap_or(&child.name)
        .replace(['_', ' '], "-");
    let mut out = Vec::new();
    let mut add = |rule, parent: &str, what: String, met: bool| {
        if !out.iter().any(|d: &Duty| d.what == what) {
            out.push(Duty {
                rule,
                parent: parent.to_string(),
                what,
                met,
            });
        }
    };
    for (p, l) in parents {
        if !reaches(l, rel) || rel == Relation::TrainedOnOutputs && forbids_improving_others(l) {
            continue;
        }
        let id = l.id.as_str();
        if let Some(ver) = id.strip_prefix("llama") {
            let v = ver.to_string();
            let (prefix_ok, prefix, built) = match id {
                "llama2" => (true, String::new(), String::new()),
                "llama3" => (
                    name.starts_with("Llama-3") || name.starts_with("Llama3"),
                    "Llama-3".to_string(),
                    "built with meta llama 3".to_string(),
                ),
                _ => (
                    name.starts_with("Llama"),
                    "Llama".to_string(),
                    "built with llama".to_string(),
                ),
            };
            if !prefix.is_empty() && !prefix_ok {
                findings.push(Finding {
                    rule: "LIC-002",
                    level: "error",
                    parent: Some(p.id.clone()),
                    term: "naming".into(),
                    message: format!("{} is licensed {id}: a model made from it must be named starting with \"{prefix}\" (e.g. {prefix}-{}), not \"{name}\"", p.id, name.trim_start_matches('-')),
                });
            }
            if !built.is_empty() {
                add(
                    "LIC-002",
                    &p.id,
                    format!(
                        "display \"{}\" in the model card",
                        if id == "llama3" {
                            "Built with Meta Llama 3"
                        } else {
                            "Built with Llama"
                        }
                    ),
                    card.contains(&built),
                );
            }
            let version = if v == "2" {
                "llama 2".to_string()
            } else {
                format!("llama {v}")
            };
            add(
                "LIC-002",
                &p.id,
                format!(
                    "ship a NOTICE (or Notice) file with the {} notice (\"... is licensed under the {} Community License, Copyright © Meta Platforms, Inc. ...\")",
                    id,
                    version.replace("llama", "Llama")
                ),
                notice.contains("licensed under the")
                    && notice.contains(&version)
                    && notice.contains("community license"),
            );
            add(
                "LIC-002",
                &p.id,
                format!("include a copy of the {id} community licence agreement in LICENSE"),
                lic.contains(&version) && lic.contains("community license"),
            );
            if id == "llama4"
                || id == "llama3.2"
                    && child
                        .pipeline_tag
                        .as_deref()
                        .is_some_and(|t| crate::vocab::MULTIMODAL_TAGS.contains(&t))
            {
                if !tags.iter().any(|t| t == "eu-restricted-multimodal") {
                    tags.push("eu-restricted-multimodal".into());
                }
                findings.push(Finding {
                    rule: "LIC-007",
                    level: "review",
                    parent: Some(p.id.clone()),
                    term: "EU exclusion".into(),
                    message: format!("{} is licensed {id}, whose multimodal rights are not granted to EU-domiciled individuals and companies: tag the model eu-restricted-multimodal and consider extra_gated_eu_disallowed", p.id),
                });
            }
        } else if id == "gemma" {
            add(
                "LIC-003",
                &p.id,
                "include a copy of the Gemma Terms of Use (LICENSE)".into(),
                lic.contains("gemma terms of use"),
            );
            add(
                "LIC-003",
                &p.id,
                "give the notice \"Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms\" (card or NOTICE)".into(),
                card.contains("ai.google.dev/gemma/terms") || notice.contains("ai.google.dev/gemma/terms"),
            );
        } else if is_rail(l) {
            add(
                "LIC-004",
                &p.id,
                format!(
                    "include {}'s use-based restrictions (Attachment A) in LICENSE as an enforceable provision",
                    l.id
                ),
                lic.contains("attachment a")
                    || lic.contains("use restrictions")
                    || lic.contains("use-based restrictions"),
            );
        } else if l.family == "research-only" || id == "grok2-community" {
            add(
                "LIC-001",
                &p.id,
                format!("include a copy of the {id} licence in LICENSE"),
                !lic.is_empty(),
            );
        }
        if id == "apache-2.0" {
            match &p.notice {
                Some(n) if !n.trim().is_empty() => {
                    let first = norm(n.lines().find(|l| !l.trim().is_empty()).unwrap_or(""));
                    add(
                        "LIC-005",
                        &p.id,
                        format!("carry {}'s NOTICE file contents in NOTICE", p.id),
                        notice.contains(&first),
                    );
                }
                _ => {}
            }
            add(
                "LIC-005",
                &p.id,
                format!(
                    "keep the Apache-2.0 licence text for {} (LICENSE, or a copy next to it) and state your changes",
                    p.id
                ),
                lic.contains("apache license")
                    || child.license.as_deref() == Some("apache-2.0") && !lic.is_empty()
                    || notice.contains("apache"),
            );
        }
        if id.starts_with("cc-by") {
            let pid = norm(&p.id);
            add(
                "LIC-005",
                &p.id,
                format!(
                    "attribute {} (title, author, source, licence {}) and say what was changed (card or NOTICE)",
                    p.id, l.id
                ),
                card.contains(&pid) || notice.contains(&pid),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent(id: &str, license: &str) -> Parent {
        Parent {
            id: id.into(),
            license: Some(license.into()),
            source: "flag".into(),
            ..Parent::default()
        }
    }

    fn child(license: &str, name: &str) -> Child {
        Child {
            license: Some(license.into()),
            name: name.into(),
            ..Child::default()
        }
    }

    fn terms(o: &Outcome) -> Vec<(&str, Option<&str>, &str)> {
        o.findings
            .iter()
            .map(|f| (f.level, f.parent.as_deref(), f.term.as_str()))
            .collect()
    }

    #[test]
    fn merge_of_nc_and_apache_is_non_commercial() {
        let parents = [
            parent("a/nc", "cc-by-nc-4.0"),
            parent("b/apache", "apache-2.0"),
        ];
        let mut c = child("apache-2.0", "acme/merged");
        c.relation = Some(Relation::Merge);
        let o = check(&c, &parents);
        assert_eq!(o.verdict, Verdict::NotAllowed);
        assert_eq!(terms(&o), [("error", Some("a/nc"), "non-commercial")]);
        assert!(
            o.allowed
                .iter()
                .all(|id| licenses::get(id).unwrap().non_commercial())
        );
        assert!(
            o.allowed.iter().all(|id| id.starts_with("cc-by-nc")),
            "{:?}",
            o.allowed
        );
        assert!(
            o.allowed.contains(&"cc-by-nc-4.0".to_string())
                && o.allowed.contains(&"cc-by-nc-sa-4.0".to_string())
        );
        assert_eq!(o.recommended.as_deref(), Some("cc-by-nc-4.0"));
        c.license = Some("cc-by-nc-4.0".into());
        let o = check(&c, &parents);
        assert_eq!(o.verdict, Verdict::Allowed, "{:?}", o.findings);
        // Attribution of the CC parent is a duty, met once the card names it.
        assert!(o.unmet_duties().any(|d| d.parent == "a/nc"));
        c.card =
            "Merged from a/nc and b/apache. Licensed CC-BY-NC-4.0 and Apache License 2.0".into();
        assert!(
            !check(&c, &parents)
                .unmet_duties()
                .any(|d| d.parent == "a/nc")
        );
    }

    #[test]
    fn no_derivatives_blocks_every_licence() {
        for rel in [Relation::Finetune, Relation::Quantized, Relation::Adapter] {
            let mut c = child("cc-by-nd-4.0", "x");
            c.relation = Some(rel);
            let o = check(&c, &[parent("a/nd", "cc-by-nd-4.0")]);
            assert_eq!(o.verdict, Verdict::NotAllowed);
            assert!(o.allowed.is_empty());
            assert_eq!(o.findings[0].term, "no-derivatives");
        }
    }

    #[test]
    fn share_alike_keeps_its_family_and_refuses_restrictions() {
        let p = [parent("a/sa", "cc-by-sa-4.0")];
        assert_eq!(
            check(&child("cc-by-sa-4.0", "x"), &p).verdict,
            Verdict::Allowed
        );
        let o = check(&child("cc-by-4.0", "x"), &p);
        assert_eq!(terms(&o), [("error", Some("a/sa"), "share-alike")]);
        assert_eq!(
            check(
                &child("cc-by-sa-4.0", "x"),
                &[parent("a/sa", "cc-by-sa-3.0")]
            )
            .verdict,
            Verdict::Allowed
        );
        // SA + NC: incompatible whatever the child says.
        let p = [
            parent("a/sa", "cc-by-sa-4.0"),
            parent("b/nc", "cc-by-nc-4.0"),
        ];
        let o = check(&child("cc-by-sa-4.0", "x"), &p);
        assert_eq!(o.verdict, Verdict::NotAllowed);
        assert!(o.allowed.is_empty());
        // GPL + OpenRAIL-M: incompatible.
        let o = check(
            &child("gpl-3.0", "x"),
            &[
                parent("a/gpl", "gpl-3.0"),
                parent("b/rail", "bigscience-openrail-m"),
            ],
        );
        assert_eq!(o.verdict, Verdict::NotAllowed);
        assert!(o.allowed.is_empty());
        // SA + permissive parent: stays SA.
        let o = check(
            &child("cc-by-sa-4.0", "x"),
            &[parent("a/sa", "cc-by-sa-4.0"), parent("b/mit", "mit")],
        );
        assert_eq!(o.verdict, Verdict::Allowed);
        assert_eq!(o.allowed, ["cc-by-sa-4.0"]);
    }

    #[test]
    fn llama_fine_tunes_keep_the_licence_and_the_name() {
        let p = [parent("meta-llama/Llama-3.1-8B", "llama3.1")];
        let o = check(&child("llama3.1", "acme/SuperChat-8B"), &p);
        assert_eq!(o.verdict, Verdict::NotAllowed);
        assert_eq!(
            terms(&o),
            [("error", Some("meta-llama/Llama-3.1-8B"), "naming")]
        );
        assert!(o.findings[0].message.contains("\"Llama\""));
        let o = check(&child("apache-2.0", "acme/Llama-3.1-SuperChat-8B"), &p);
        assert_eq!(
            terms(&o),
            [(
                "error",
                Some("meta-llama/Llama-3.1-8B"),
                "licence pass-through"
            )]
        );
        assert_eq!(o.allowed, ["llama3.1", "llama3.2", "llama3.3", "llama4"]);
        let mut c = child("llama3.1", "acme/Llama-3.1-SuperChat-8B");
        let o = check(&c, &p);
        assert_eq!(o.verdict, Verdict::Allowed);
        assert_eq!(o.unmet_duties().count(), 3);
        c.card = "Built with Llama".into();
        c.notice = Some("Llama 3.1 is licensed under the Llama 3.1 Community License, Copyright © Meta Platforms, Inc. All Rights Reserved.".into());
        c.license_text = Some("LLAMA 3.1 COMMUNITY LICENSE AGREEMENT ...".into());
        assert_eq!(check(&c, &p).unmet_duties().count(), 0);
        // Llama 3: the name starts with Llama-3, and "Built with Meta Llama 3".
        let o = check(
            &child("llama3", "acme/Llama-Chat"),
            &[parent("m/l3", "llama3")],
        );
        assert_eq!(o.findings[0].term, "naming");
    }

    #[test]
    fn outputs_of_llama3_may_not_train_other_models() {
        let mut c = child("apache-2.0", "acme/Student");
        c.relation = Some(Relation::TrainedOnOutputs);
        let o = check(&c, &[parent("m/l3", "llama3")]);
        assert_eq!(
            terms(&o),
            [("error", Some("m/l3"), "no improving other models")]
        );
        // Outputs of an Apache or NC model are not covered by its licence.
        assert_eq!(
            check(&c, &[parent("a/apache", "apache-2.0")]).verdict,
            Verdict::Allowed
        );
        assert_eq!(
            check(&c, &[parent("a/nc", "cc-by-nc-4.0")]).verdict,
            Verdict::Allowed
        );
        // Llama 3.1 allows it, but the name must start with Llama.
        let o = check(&c, &[parent("m/l31", "llama3.1")]);
        assert!(terms(&o).contains(&("error", Some("m/l31"), "naming")));
    }

    #[test]
    fn use_restrictions_travel() {
        let p = [parent("g/gemma-2", "gemma")];
        let mut c = child("apache-2.0", "acme/gemma-lora");
        c.relation = Some(Relation::Adapter);
        let o = check(&c, &p);
        assert_eq!(
            terms(&o),
            [("error", Some("g/gemma-2"), "use restrictions")]
        );
        assert_eq!(o.allowed, ["gemma"]);
        let o = check(
            &child("creativeml-openrail-m", "x"),
            &[parent("s/sd", "creativeml-openrail-m")],
        );
        assert_eq!(o.verdict, Verdict::Allowed);
        assert!(o.unmet_duties().any(|d| d.rule == "LIC-004"));
        let o = check(&child("mit", "x"), &[parent("s/sd", "openrail")]);
        assert_eq!(o.verdict, Verdict::NotAllowed);
    }

    #[test]
    fn dual_obligations_need_review() {
        let p = [parent("m/l", "llama3.1"), parent("g/g", "gemma")];
        let o = check(&child("llama3.1", "Llama-merge"), &p);
        assert_eq!(o.verdict, Verdict::Review, "{:?}", o.findings);
        let o = check(&child("mit", "Llama-merge"), &p);
        assert_eq!(o.verdict, Verdict::NotAllowed);
    }

    #[test]
    fn unknown_parents_and_missing_licences() {
        let o = check(&child("mit", "x"), &[parent("a/u", "unknown")]);
        assert_eq!(terms(&o), [("error", Some("a/u"), "unknown licence")]);
        let o = check(
            &child("mit", "x"),
            &[Parent {
                id: "a/none".into(),
                ..Parent::default()
            }],
        );
        assert_eq!(o.verdict, Verdict::NotAllowed);
        let mut other = parent("a/o", "other");
        other.license_name = Some("acme-1.0".into());
        assert_eq!(check(&child("mit", "x"), &[other]).verdict, Verdict::Review);
        let o = check(&Child::default(), &[parent("a/mit", "mit")]);
        assert_eq!(terms(&o), [("error", None, "no licence")]);
        // Permissive parents: anything goes, the recommendation keeps the parent's licence.
        let o = check(&child("cc-by-nc-4.0", "x"), &[parent("a/mit", "mit")]);
        assert_eq!(o.verdict, Verdict::Allowed);
        assert_eq!(o.recommended.as_deref(), Some("mit"));
    }

    #[test]
    fn eu_multimodal_restriction_is_flagged() {
        let mut c = child("llama3.2", "Llama-3.2-Vision-Tune");
        c.pipeline_tag = Some("image-text-to-text".into());
        let o = check(&c, &[parent("m/l32", "llama3.2")]);
        assert_eq!(o.tags, ["eu-restricted-multimodal"]);
        assert_eq!(o.verdict, Verdict::Review);
    }
}
