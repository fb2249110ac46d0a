//! Card rules for the EU AI Act's duties of general-purpose AI model providers (EU-01..10,
//! governance.md section 6.4), read from the card's `gpai` block and the documents next to it:
//! `docs/copyright-policy.md`, `docs/training-content-summary.{md,pdf,json}`,
//! `docs/technical-documentation.md`, `docs/downstream-info.md` (or URLs in the `gpai` block).
//!
//! These are presence and consistency checks of what a publisher must provide; whether the
//! documents say enough is for a person.

use serde_json::{Map, Value};

use super::finding::Severity;
use crate::files::Files;
use crate::licenses;

/// A finding before it is placed on a line: rule, severity, the field it concerns, message.
pub(crate) type Raw = (&'static str, Severity, Option<&'static str>, String);

/// Tasks that generate language, images, video or audio.
const GENERATIVE: &[&str] = &[
    "text-generation",
    "text2text-generation",
    "image-text-to-text",
    "text-to-image",
    "image-text-to-image",
    "text-to-video",
    "image-text-to-video",
    "image-to-video",
    "text-to-speech",
    "text-to-audio",
    "audio-text-to-text",
    "video-text-to-text",
    "any-to-any",
    "conversational",
];

/// EU member states (ISO 3166-1 alpha-2).
const EU: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

/// Where each document may be, as files or a URL field of the `gpai` block.
const COPYRIGHT: (&[&str], &str) = (
    &["docs/copyright-policy.md", "COPYRIGHT_POLICY.md"],
    "copyright_policy",
);
const SUMMARY: (&[&str], &str) = (
    &[
        "docs/training-content-summary.md",
        "docs/training-content-summary.pdf",
        "docs/training-content-summary.json",
    ],
    "training_content_summary",
);
const TECHNICAL: (&[&str], &str) = (
    &["docs/technical-documentation.md"],
    "technical_documentation",
);
const DOWNSTREAM: (&[&str], &str) = (&["docs/downstream-info.md"], "downstream_info");

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The document's file, or its URL in the `gpai` block.
fn document(
    files: Option<&dyn Files>,
    gpai: &Map<String, Value>,
    doc: (&[&str], &str),
) -> Option<String> {
    if let Some(url) = gpai.get(doc.1).and_then(Value::as_str)
        && (url.starts_with("https://") || url.starts_with("http://"))
    {
        return Some(url.to_string());
    }
    let files = files?;
    doc.0
        .iter()
        .find(|p| files.exists(p))
        .map(|p| p.to_string())
}

/// The EU-* findings of a card. `params` is the parameter count read from the weights, if known.
pub(crate) fn findings(
    data: &Map<String, Value>,
    files: Option<&dyn Files>,
    params: Option<u64>,
) -> Vec<Raw> {
    let mut out: Vec<Raw> = Vec::new();
    let empty = Map::new();
    let gpai = data
        .get("gpai")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let flag = |k: &str| gpai.get(k).and_then(Value::as_bool);
    let compute = number(gpai.get("training_compute_flop"));
    let pipeline = data
        .get("pipeline_tag")
        .and_then(Value::as_str)
        .unwrap_or("");
    let generative = GENERATIVE.contains(&pipeline);

    // EU-01: classification.
    let big = params.is_some_and(|p| p >= 1_000_000_000);
    if data.get("gpai").is_none() {
        if compute.is_some_and(|c| c >= 1e23) || generative && big {
            out.push((
                "EU-01",
                Severity::Warning,
                Some("pipeline_tag"),
                format!(
                    "a generative model{} may be a general-purpose AI model under the EU AI Act: add a \"gpai\" block (is_gpai, training_compute_flop, systemic_risk, provider, ...)",
                    params.map(|p| format!(" of {:.1}B parameters", p as f64 / 1e9)).unwrap_or_default()
                ),
            ));
        }
        return out;
    }
    if compute.is_some_and(|c| c >= 1e25) && flag("systemic_risk") != Some(true) {
        out.push((
            "EU-01",
            Severity::Warning,
            Some("gpai"),
            "\"training_compute_flop\" is at least 1e25: the model is presumed to have systemic risk; set \"systemic_risk: true\"".into(),
        ));
    }
    let is_gpai = flag("is_gpai").unwrap_or(true);
    if !is_gpai {
        return out;
    }
    let systemic = flag("systemic_risk") == Some(true);
    let claims = flag("claims_foss_exemption") == Some(true);
    // EU-02: the open-source exemption.
    let mut exempt = false;
    if claims {
        let mut why = Vec::new();
        let license = data.get("license").and_then(Value::as_str).unwrap_or("");
        match licenses::get(license) {
            Some(l) if l.eu_ai_act_foss_exemption_candidate.starts_with("yes") => {}
            Some(l) => why.push(format!(
                "the licence {} is not a free and open-source licence for the exemption ({})",
                l.id, l.eu_ai_act_foss_exemption_candidate
            )),
            None => why.push("no licence a free and open-source exemption can rest on".into()),
        }
        if systemic {
            why.push("models with systemic risk are not exempt".into());
        }
        if let Some(f) = files
            && !f.exists("config.json")
            && gpai.get("architecture").is_none()
        {
            why.push("no architecture information (config.json or gpai.architecture)".into());
        }
        if why.is_empty() {
            exempt = true;
        } else {
            out.push((
                "EU-02",
                Severity::Policy,
                Some("gpai"),
                format!(
                    "the open-source exemption is claimed but {}",
                    why.join("; ")
                ),
            ));
        }
        if data
            .get("extra_gated_fields")
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
        {
            out.push((
                "EU-02",
                Severity::Warning,
                Some("extra_gated_fields"),
                "the open-source exemption is claimed while access is gated behind personal data (Recital 103 may count that as monetisation)".into(),
            ));
        }
    }
    // EU-03 / EU-04: always required of a GPAI provider.
    match document(files, gpai, COPYRIGHT) {
        None => out.push((
            "EU-03",
            Severity::Policy,
            Some("gpai"),
            "no copyright policy: add docs/copyright-policy.md or gpai.copyright_policy (a URL)"
                .into(),
        )),
        Some(p) if !p.starts_with("http") => {
            let text = files
                .and_then(|f| f.text(&p))
                .unwrap_or_default()
                .to_lowercase();
            let tdm = [
                "robots.txt",
                "4(3)",
                "text and data mining",
                "text-and-data-mining",
                "tdm",
                "reservation of rights",
                "opt-out",
                "opt out",
            ];
            if !tdm.iter().any(|k| text.contains(k)) {
                out.push(("EU-03", Severity::Policy, Some("gpai"), format!("{p} does not say how text-and-data-mining reservations (Art. 4(3) of Directive 2019/790, robots.txt) are honoured")));
            }
        }
        Some(_) => {}
    }
    if document(files, gpai, SUMMARY).is_none() {
        out.push(("EU-04", Severity::Policy, Some("gpai"), "no public summary of the training content: add docs/training-content-summary.md (the AI Office template) or gpai.training_content_summary".into()));
    }
    // EU-05 / EU-06: technical documentation and information for downstream providers.
    if !exempt {
        if document(files, gpai, TECHNICAL).is_none() {
            out.push(("EU-05", Severity::Policy, Some("gpai"), "no technical documentation (Annex XI): add docs/technical-documentation.md or gpai.technical_documentation".into()));
        }
        if document(files, gpai, DOWNSTREAM).is_none() {
            out.push(("EU-06", Severity::Policy, Some("gpai"), "no information for downstream providers (Annex XII): add docs/downstream-info.md or gpai.downstream_info".into()));
        }
        // EU-07: an authorised representative for providers outside the EU.
        let country = gpai
            .get("provider_country")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase);
        if country.as_deref().is_some_and(|c| !EU.contains(&c))
            && gpai.get("eu_authorised_representative").is_none()
        {
            out.push(("EU-07", Severity::Warning, Some("gpai"), "the provider is outside the EU and not exempt: name an \"eu_authorised_representative\"".into()));
        }
    }
    // EU-08: a modification with more than a third of the parent's compute makes a new model.
    if let (Some(ft), Some(parent)) = (
        number(gpai.get("finetune_compute_flop")),
        number(gpai.get("parent_training_compute_flop")),
    ) && ft > parent / 3.0
    {
        out.push(("EU-08", Severity::Warning, Some("gpai"), "the modification used more than a third of the parent's training compute: this model is a new general-purpose AI model and its publisher the provider".into()));
    }
    // EU-09: the deadline.
    if let Some(date) = gpai.get("eu_placed_on_market_date").and_then(Value::as_str) {
        let due = if date < "2025-08-02" {
            "2 August 2027"
        } else {
            "now"
        };
        out.push((
            "EU-09",
            Severity::Info,
            Some("gpai"),
            format!("placed on the EU market on {date}: the provider's obligations are due {due}"),
        ));
    }
    // EU-10: systemic risk.
    if systemic && gpai.get("safety_framework").is_none() {
        out.push(("EU-10", Severity::Warning, Some("gpai"), "a model with systemic risk: link the safety and security framework (gpai.safety_framework) and the Annex XI section 2 information".into()));
    }
    out
}

/// Total parameters of the safetensors files, from their headers (at most 64 files).
pub(crate) fn parameter_count(files: &dyn Files) -> Option<u64> {
    let limits = weighhouse_tensor::Limits::default();
    let mut total = 0u64;
    let mut seen = false;
    for e in files
        .entries()
        .iter()
        .filter(|e| e.path.ends_with(".safetensors"))
        .take(64)
    {
        let head = files.read_prefix(&e.path, 8)?;
        let n = u64::from_le_bytes(head.get(..8)?.try_into().ok()?);
        if n > limits.max_header_bytes || n + 8 > crate::files::HEADER_PREFIX {
            continue;
        }
        let bytes = files.read_prefix(&e.path, n + 8)?;
        let Ok(h) = weighhouse_formats::safetensors::parse_header_of(&bytes, e.size, &limits)
        else {
            continue;
        };
        for t in &h.parsed.tensors {
            total = total.saturating_add(t.shape.iter().product::<u64>());
        }
        seen = true;
    }
    seen.then_some(total)
}
