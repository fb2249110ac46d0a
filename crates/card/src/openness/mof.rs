//! The Model Openness Framework as the Model Openness Tool evaluates it: 17 components in three
//! cumulative classes, each component's licence resolved (component, type-global, distribution)
//! and judged for its content type, and an optional `mof.yml` (the tool's YAML format)
//! cross-checked against the repository.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::criterion::{Evidence, Verdict};
use super::repo::Repo;
use crate::licenses;

/// What a component is, for the licence it should carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
    /// Source code: OSI-approved licences are type-appropriate.
    Code,
    /// Data and weights: CDLA-Permissive, C-UDA, CC-PDDC, CC0, PDDL.
    Data,
    /// Documents: CC-BY-4.0, CC-BY-SA, FreeBSD-DOC, CC0, Apache-2.0.
    Document,
}

/// A component's licence as the Model Openness Tool judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LicenseStatus {
    /// An open licence meant for this content type.
    TypeAppropriate,
    /// Open, but meant for another content type (passes with a warning).
    OpenNotTypeAppropriate,
    /// Cannot be judged without a person (`other`, licences the tool does not know yet).
    Review,
    /// Not open (Llama, Gemma, RAIL, non-commercial, ...).
    Invalid,
    /// No licence applies.
    Unlicensed,
}

/// `open, type-appropriate` etc.
pub fn status_words(s: LicenseStatus) -> &'static str {
    match s {
        LicenseStatus::TypeAppropriate => "open, type-appropriate",
        LicenseStatus::OpenNotTypeAppropriate => "open, not type-appropriate",
        LicenseStatus::Review => "needs review",
        LicenseStatus::Invalid => "not open",
        LicenseStatus::Unlicensed => "unlicensed",
    }
}

/// One of the 17 components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// The tool's component id.
    pub id: u32,
    /// The tool's component name (`Model parameters (Final)`).
    pub name: String,
    /// The class that requires it: 3 (III), 2 (II) or 1 (I).
    pub class: u8,
    /// Required for its class (else optional).
    pub required: bool,
    /// Its content type.
    pub content_type: ContentType,
    /// Evidence of it was found (in the files, the card, or `mof.yml`).
    pub present: bool,
    /// pass (present, type-appropriate licence), warn (open licence, not type-appropriate),
    /// review, fail (missing, unlicensed, not open, or declared but missing), n/a (optional and
    /// absent).
    pub verdict: Verdict,
    /// The resolved licence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Where the licence came from: `mof.yml component`, `library`, `mof.yml code`,
    /// `mof.yml distribution`, `card`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_source: Option<String>,
    /// The licence's status for this content type.
    pub license_status: LicenseStatus,
    /// What was found.
    pub evidence: Vec<Evidence>,
    /// What is missing.
    pub missing: Vec<String>,
}

/// Progress towards one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassStatus {
    /// 3 (III), 2 (II) or 1 (I).
    pub class: u8,
    /// `Class III - Open Model`.
    pub label: String,
    /// Every required component of this class and the classes below it is present and openly
    /// licensed.
    pub met: bool,
    /// Percentage of those components that are.
    pub progress: f64,
    /// Required components not found (this class and below).
    pub missing: Vec<String>,
    /// Required components found whose licence does not count (unlicensed, not open, review).
    pub not_open: Vec<String>,
}

/// A component declared in `mof.yml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Declared {
    /// Component name.
    pub name: String,
    /// `location` (or `component_path`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// `license_name` (or `license`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// `license_path`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_path: Option<String>,
    /// `found`, `url` (not fetched), `missing` (declared but not in the repository),
    /// `not-included`, or `no-location`.
    pub status: String,
}

/// What `mof.yml` says and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MofYml {
    /// Its path.
    pub path: String,
    /// Problems against the tool's schema.
    pub errors: Vec<String>,
    /// `release.license.distribution.name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distribution_license: Option<String>,
    /// Type-global licences (`code`, `data`, `document`).
    pub type_licenses: BTreeMap<String, String>,
    /// Declared components.
    pub components: Vec<Declared>,
}

/// The MOF result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mof {
    /// The class met: 3 (III), 2 (II), 1 (I), or none.
    pub class: Option<u8>,
    /// `MOF Class III - Open Model`, or `MOF: unclassified`.
    pub label: String,
    /// Classes III, II and I.
    pub classes: Vec<ClassStatus>,
    /// Required components not found.
    pub missing: Vec<String>,
    /// Components found without any licence.
    pub unlicensed: Vec<String>,
    /// Components found under a licence that is not open, or declared in `mof.yml` but missing.
    pub invalid: Vec<String>,
    /// Components whose licence needs a person.
    pub review: Vec<String>,
    /// Components under an open licence meant for another content type.
    pub not_type_appropriate: Vec<String>,
    /// Every component.
    pub components: Vec<Component>,
    /// The repository's `mof.yml`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mof_yml: Option<MofYml>,
}

struct Spec {
    id: u32,
    name: &'static str,
    class: u8,
    required: bool,
    kind: ContentType,
    hint: &'static str,
}

const fn spec(
    id: u32,
    name: &'static str,
    class: u8,
    required: bool,
    kind: ContentType,
    hint: &'static str,
) -> Spec {
    Spec {
        id,
        name,
        class,
        required,
        kind,
        hint,
    }
}

use ContentType::{Code, Data, Document};

const SPECS: &[Spec] = &[
    spec(
        9,
        "Model architecture",
        3,
        true,
        Code,
        "config.json with a known open library_name, or modeling_*.py in the repository",
    ),
    spec(
        10,
        "Model parameters (Final)",
        3,
        true,
        Data,
        "final weights (*.safetensors, *.gguf) outside checkpoint folders",
    ),
    spec(
        13,
        "Model card",
        3,
        true,
        Document,
        "README.md with YAML front matter and filled \"Uses\" and \"Bias, Risks, and Limitations\" sections",
    ),
    spec(
        14,
        "Data card",
        3,
        true,
        Document,
        "a filled \"Training Data\" section, or DATA_CARD.md",
    ),
    spec(
        11,
        "Technical report",
        3,
        true,
        Document,
        "an arXiv/DOI link in the card, or a PDF in the repository",
    ),
    spec(
        12,
        "Evaluation results",
        3,
        true,
        Document,
        "model-index results, .eval_results/*.yaml, or a filled \"Results\" section",
    ),
    spec(
        20,
        "Sample model outputs",
        3,
        false,
        Document,
        "samples/ in the repository, or widget examples",
    ),
    spec(
        7,
        "Training code",
        2,
        true,
        Code,
        "a link to the training code repository under \"Model Sources\", or train*.py in the repository",
    ),
    spec(
        8,
        "Inference code",
        2,
        true,
        Code,
        "a known open library_name, or inference code in the repository",
    ),
    spec(
        18,
        "Evaluation code",
        2,
        true,
        Code,
        "evaluation scripts or harness configs (eval*.py, eval/ or evaluation/)",
    ),
    spec(
        19,
        "Evaluation data",
        2,
        true,
        Data,
        "model-index dataset ids or .eval_results dataset ids",
    ),
    spec(
        22,
        "Supporting libraries and tools",
        2,
        false,
        Code,
        "requirements.txt or pyproject.toml",
    ),
    spec(
        15,
        "Datasets",
        1,
        true,
        Data,
        "dataset ids in the card's datasets field",
    ),
    spec(
        16,
        "Data preprocessing code",
        1,
        true,
        Code,
        "preprocess*.py or data-processing scripts",
    ),
    spec(
        24,
        "Model parameters (Intermediate)",
        1,
        true,
        Data,
        "checkpoint-*/ folders or step branches/tags",
    ),
    spec(
        21,
        "Research paper",
        1,
        true,
        Document,
        "an arXiv/DOI link in the card, or a PDF in the repository",
    ),
    spec(
        17,
        "Model metadata",
        1,
        false,
        Data,
        "trainer_state.json, training configuration or optimizer states",
    ),
];

/// The tool's component names, in the order reports list them.
pub fn component_names() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|s| s.name)
}

/// `Class III - Open Model`.
pub fn class_label(class: u8) -> &'static str {
    match class {
        3 => "Class III - Open Model",
        2 => "Class II - Open Tooling",
        1 => "Class I - Open Science",
        _ => "Unclassified",
    }
}

/// Licences the tool lists as type-appropriate for data (and weights).
const DATA_LICENSES: &[&str] = &[
    "cdla-permissive-1.0",
    "cdla-permissive-2.0",
    "c-uda",
    "cc-pddc",
    "cc0-1.0",
    "pddl",
    "openmdw-1.0",
];

/// Licences the tool lists as type-appropriate for documents.
const DOCUMENT_LICENSES: &[&str] = &[
    "cc-by-4.0",
    "cc-by-sa-3.0",
    "cc-by-sa-4.0",
    "freebsd-doc",
    "cc0-1.0",
    "apache-2.0",
    "openmdw-1.0",
];

/// Open licences the Hub table does not have (SPDX ids, lowercased).
const OTHER_OPEN: &[&str] = &[
    "cc-pddc",
    "freebsd-doc",
    "gfdl-1.3",
    "ogl-uk-3.0",
    "ogl-canada-2.0",
];

/// Spellings that name a Hub table row.
const ALIASES: &[(&str, &str)] = &[
    ("odc-pddl-1.0", "pddl"),
    ("pddl-1.0", "pddl"),
    ("c-uda-1.0", "c-uda"),
    ("odc-by-1.0", "odc-by"),
    ("odbl-1.0", "odbl"),
    ("gfdl-1.3-only", "gfdl"),
    ("gfdl-1.3-or-later", "gfdl"),
];

/// The lowercase Hub id for a licence given as a Hub id or an SPDX id; the lowercased input when
/// neither is known.
pub fn canonical_license(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    if licenses::get(&lower).is_some() {
        return lower;
    }
    if let Some((_, id)) = ALIASES.iter().find(|(a, _)| *a == lower) {
        return (*id).to_string();
    }
    let by_spdx = licenses::all().iter().find(|l| {
        l.spdx_id
            .split_whitespace()
            .next()
            .is_some_and(|s| s.eq_ignore_ascii_case(name.trim()))
    });
    if let Some(l) = by_spdx {
        return l.id.clone();
    }
    for suffix in ["-only", "-or-later", "+"] {
        if let Some(base) = lower.strip_suffix(suffix)
            && licenses::get(base).is_some()
        {
            return base.to_string();
        }
    }
    lower
}

/// How the tool judges licence `name` for content of type `kind`.
pub fn license_status(name: &str, kind: ContentType) -> LicenseStatus {
    let key = canonical_license(name);
    if key.is_empty()
        || matches!(
            key.as_str(),
            "unknown" | "unlicensed" | "none" | "noassertion" | "license not specified"
        )
    {
        return LicenseStatus::Unlicensed;
    }
    let row = licenses::get(&key);
    if matches!(key.as_str(), "other" | "cc") {
        return LicenseStatus::Review;
    }
    let osi = row.is_some_and(|r| r.osi_approved.starts_with("yes"));
    let fits = match kind {
        ContentType::Code => osi || key == "openmdw-1.0",
        ContentType::Data => DATA_LICENSES.contains(&key.as_str()),
        ContentType::Document => DOCUMENT_LICENSES.contains(&key.as_str()),
    };
    if fits {
        return LicenseStatus::TypeAppropriate;
    }
    let open = osi
        || OTHER_OPEN.contains(&key.as_str())
        || row.is_some_and(|r| {
            matches!(
                r.mof_weights(),
                licenses::MofLicense::TypeAppropriate
                    | licenses::MofLicense::OpenNotTypeAppropriate
            )
        });
    if open {
        return LicenseStatus::OpenNotTypeAppropriate;
    }
    if row.is_some_and(|r| r.mof_weights() == licenses::MofLicense::Review) {
        return LicenseStatus::Review;
    }
    LicenseStatus::Invalid
}

/// What the repository scan found for one component, before licences.
#[derive(Debug, Default)]
pub(super) struct Found {
    pub evidence: Vec<Evidence>,
    /// A licence the evidence itself carries (a library's licence), with its source.
    pub license: Option<String>,
}

/// Read and check `mof.yml`.
pub(super) fn read_mof_yml(repo: &Repo<'_>) -> Option<MofYml> {
    let path = ["mof.yml", "mof.yaml", "MOF.yml", "MOF.yaml"]
        .into_iter()
        .find(|p| repo.exists(p))?;
    let mut out = MofYml {
        path: path.to_string(),
        errors: Vec::new(),
        distribution_license: None,
        type_licenses: BTreeMap::new(),
        components: Vec::new(),
    };
    let Some(text) = repo.text(path) else {
        out.errors.push("cannot be read".into());
        return Some(out);
    };
    let doc: Value = match serde_yaml_ng::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            out.errors.push(format!("invalid YAML: {e}"));
            return Some(out);
        }
    };
    let Value::Object(doc) = doc else {
        out.errors.push("must be a mapping".into());
        return Some(out);
    };
    if let Some(framework) = doc.get("framework")
        && framework.get("name").and_then(Value::as_str) != Some("Model Openness Framework")
    {
        out.errors
            .push("framework.name must be 'Model Openness Framework'".into());
    }
    if doc.get("framework").is_none() {
        out.errors.push("framework is required".into());
    }
    let Some(release) = doc.get("release").and_then(Value::as_object) else {
        out.errors.push("release is required".into());
        return Some(out);
    };
    if release
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(|n| n.trim().is_empty())
    {
        out.errors.push("release.name is required".into());
    }
    let text_of = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let Some(lic) = release.get("license").and_then(Value::as_object) {
        out.distribution_license = text_of(lic.get("distribution").and_then(|d| d.get("name")));
        for kind in ["code", "data", "document"] {
            if let Some(n) = text_of(lic.get(kind).and_then(|d| d.get("name"))) {
                out.type_licenses.insert(kind.to_string(), n);
            }
        }
    }
    let Some(components) = release.get("components").and_then(Value::as_array) else {
        out.errors.push("release.components must be a list".into());
        return Some(out);
    };
    for (i, c) in components.iter().enumerate() {
        let Some(c) = c.as_object() else {
            out.errors
                .push(format!("release.components[{i}] must be a mapping"));
            continue;
        };
        let Some(name) = text_of(c.get("name")) else {
            out.errors
                .push(format!("release.components[{i}].name is required"));
            continue;
        };
        if !SPECS.iter().any(|s| s.name == name) {
            out.errors.push(format!(
                "release.components[{i}]: unknown component {name:?}"
            ));
            continue;
        }
        if out.components.iter().any(|d| d.name == name) {
            out.errors.push(format!(
                "release.components[{i}]: {name:?} is declared twice"
            ));
            continue;
        }
        let location = text_of(c.get("location")).or_else(|| text_of(c.get("component_path")));
        let license = text_of(c.get("license_name")).or_else(|| text_of(c.get("license")));
        let license_path = text_of(c.get("license_path"));
        let status = if license
            .as_deref()
            .is_some_and(|l| l.eq_ignore_ascii_case("component not included"))
        {
            "not-included"
        } else {
            match &location {
                None => "no-location",
                Some(l) if l.starts_with("http://") || l.starts_with("https://") => "url",
                Some(l) if repo.exists_any(l) => "found",
                Some(_) => "missing",
            }
        };
        out.components.push(Declared {
            name,
            location,
            license,
            license_path,
            status: status.to_string(),
        });
    }
    Some(out)
}

fn worst(a: LicenseStatus, b: LicenseStatus) -> LicenseStatus {
    a.max(b)
}

/// Judge every component from what the scan found and what `mof.yml` declares.
pub(super) fn evaluate(
    found: &mut BTreeMap<u32, Found>,
    repo: &Repo<'_>,
    distribution: &[String],
    yml: Option<MofYml>,
) -> Mof {
    let mut components = Vec::new();
    for s in SPECS {
        let mut f = found.remove(&s.id).unwrap_or_default();
        let declared = yml
            .as_ref()
            .and_then(|y| y.components.iter().find(|d| d.name == s.name));
        let mut missing = Vec::new();
        let mut declared_missing = false;
        if let (Some(d), Some(y)) = (declared, &yml) {
            let at = d.location.clone().unwrap_or_default();
            match d.status.as_str() {
                "found" => f.evidence.push(Evidence::new(
                    &y.path,
                    Some(s.name),
                    format!("declared at {at}, found"),
                )),
                "url" => f.evidence.push(Evidence::new(
                    &y.path,
                    Some(s.name),
                    format!("declared at {at} (not fetched)"),
                )),
                "missing" => {
                    declared_missing = true;
                    missing.push(format!(
                        "declared in {} at {at}, but the repository has no such file or folder",
                        y.path
                    ));
                }
                _ => {}
            }
            if let Some(lp) = &d.license_path
                && !lp.starts_with("http")
                && !repo.exists_any(lp)
            {
                missing.push(format!("licence file {lp} named in {} is missing", y.path));
            }
        }
        let present = !f.evidence.is_empty() && !declared_missing;

        // MOT's resolution: component, type-global, distribution, else unlicensed.
        let declared_license = declared
            .and_then(|d| d.license.clone())
            .filter(|l| !l.eq_ignore_ascii_case("component not included"));
        let kind_key = match s.kind {
            Code => "code",
            Data => "data",
            Document => "document",
        };
        let (license, source, status): (Option<String>, Option<String>, LicenseStatus) =
            if let Some(l) = declared_license {
                let st = license_status(&l, s.kind);
                (Some(l), Some("mof.yml component".into()), st)
            } else if let Some(l) = f.license.clone() {
                let st = license_status(&l, s.kind);
                (Some(l), Some("library".into()), st)
            } else if let Some(l) = yml.as_ref().and_then(|y| y.type_licenses.get(kind_key)) {
                let st = license_status(l, s.kind);
                (Some(l.clone()), Some(format!("mof.yml {kind_key}")), st)
            } else if let Some(l) = yml.as_ref().and_then(|y| y.distribution_license.clone()) {
                let st = license_status(&l, s.kind);
                (Some(l), Some("mof.yml distribution".into()), st)
            } else if !distribution.is_empty() {
                let st = distribution
                    .iter()
                    .map(|l| license_status(l, s.kind))
                    .fold(LicenseStatus::TypeAppropriate, worst);
                (Some(distribution.join(", ")), Some("card".into()), st)
            } else {
                (None, None, LicenseStatus::Unlicensed)
            };

        let verdict = if declared_missing {
            Verdict::Fail
        } else if !present {
            missing.push(format!("no evidence found; expected {}", s.hint));
            if s.required {
                Verdict::Fail
            } else {
                Verdict::NotApplicable
            }
        } else {
            match status {
                LicenseStatus::TypeAppropriate => Verdict::Pass,
                LicenseStatus::OpenNotTypeAppropriate => Verdict::Warn,
                LicenseStatus::Review => Verdict::Review,
                LicenseStatus::Invalid | LicenseStatus::Unlicensed => Verdict::Fail,
            }
        };
        let verdict = if verdict == Verdict::Pass && !missing.is_empty() {
            Verdict::Warn
        } else {
            verdict
        };
        components.push(Component {
            id: s.id,
            name: s.name.to_string(),
            class: s.class,
            required: s.required,
            content_type: s.kind,
            present,
            verdict,
            license,
            license_source: source,
            license_status: status,
            evidence: f.evidence,
            missing,
        });
    }

    let counts = |c: &Component| {
        c.present
            && matches!(
                c.license_status,
                LicenseStatus::TypeAppropriate | LicenseStatus::OpenNotTypeAppropriate
            )
    };
    let mut classes = Vec::new();
    for class in [3u8, 2, 1] {
        let required: Vec<&Component> = components
            .iter()
            .filter(|c| c.required && c.class >= class)
            .collect();
        let ok = required.iter().filter(|c| counts(c)).count();
        let progress = (ok as f64 * 1000.0 / required.len() as f64).round() / 10.0;
        classes.push(ClassStatus {
            class,
            label: class_label(class).to_string(),
            met: ok == required.len(),
            progress,
            missing: required
                .iter()
                .filter(|c| !c.present)
                .map(|c| c.name.clone())
                .collect(),
            not_open: required
                .iter()
                .filter(|c| c.present && !counts(c))
                .map(|c| c.name.clone())
                .collect(),
        });
    }
    let class = classes.iter().rev().find(|c| c.met).map(|c| c.class);
    let names = |f: &dyn Fn(&Component) -> bool| {
        components
            .iter()
            .filter(|c| f(c))
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    let declared_missing = |c: &Component| {
        c.verdict == Verdict::Fail && c.missing.iter().any(|m| m.starts_with("declared in"))
    };
    Mof {
        class,
        label: match class {
            Some(c) => format!("MOF {}", class_label(c)),
            None => "MOF: unclassified".into(),
        },
        missing: names(&|c| c.required && !c.present && !declared_missing(c)),
        unlicensed: names(&|c| c.present && c.license_status == LicenseStatus::Unlicensed),
        invalid: names(&|c| {
            (c.present && c.license_status == LicenseStatus::Invalid) || declared_missing(c)
        }),
        review: names(&|c| c.present && c.license_status == LicenseStatus::Review),
        not_type_appropriate: names(&|c| {
            c.present && c.license_status == LicenseStatus::OpenNotTypeAppropriate
        }),
        classes,
        components,
        mof_yml: yml,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seventeen_components() {
        assert_eq!(SPECS.len(), 17);
        let mut ids: Vec<u32> = SPECS.iter().map(|s| s.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 17);
        assert_eq!(SPECS.iter().filter(|s| s.required).count(), 14);
    }

    #[test]
    fn licences_by_type() {
        use LicenseStatus::*;
        assert_eq!(license_status("apache-2.0", Code), TypeAppropriate);
        assert_eq!(license_status("Apache-2.0", Data), OpenNotTypeAppropriate);
        assert_eq!(license_status("Apache-2.0", Document), TypeAppropriate);
        assert_eq!(license_status("MIT", Document), OpenNotTypeAppropriate);
        assert_eq!(license_status("CDLA-Permissive-2.0", Data), TypeAppropriate);
        assert_eq!(
            license_status("cdla-permissive-2.0", Code),
            OpenNotTypeAppropriate
        );
        assert_eq!(license_status("cc-by-4.0", Data), OpenNotTypeAppropriate);
        assert_eq!(license_status("CC-BY-4.0", Document), TypeAppropriate);
        assert_eq!(license_status("ODC-PDDL-1.0", Data), TypeAppropriate);
        assert_eq!(license_status("CC-PDDC", Data), TypeAppropriate);
        assert_eq!(license_status("OpenMDW-1.0", Code), TypeAppropriate);
        assert_eq!(license_status("openmdw-1.0", Data), TypeAppropriate);
        assert_eq!(license_status("llama3.1", Data), Invalid);
        assert_eq!(license_status("gemma", Document), Invalid);
        assert_eq!(license_status("cc-by-nc-4.0", Document), Invalid);
        assert_eq!(license_status("Some-Vendor-Licence", Code), Invalid);
        assert_eq!(license_status("other", Data), Review);
        assert_eq!(license_status("openmdw-1.1", Data), Review);
        assert_eq!(license_status("unknown", Data), Unlicensed);
        assert_eq!(license_status("License not specified", Data), Unlicensed);
        assert_eq!(canonical_license("GPL-3.0-only"), "gpl-3.0");
        assert_eq!(canonical_license("AGPL-3.0-or-later"), "agpl-3.0");
        assert_eq!(canonical_license("ODC-By-1.0"), "odc-by");
    }
}
