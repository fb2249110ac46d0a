//! The agreement behind a gated repository: the text a user accepts (from the card's
//! `extra_gated_*` fields and the repository's licence), its SHA-256, and the form fields.
//!
//! An acceptance is bound to the SHA-256 of the exact text shown to the user, so that a changed
//! prompt, form or licence needs a new request.

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::files::Files;
use crate::frontmatter::Card;

/// The type of a gate form field (the Hub's set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    /// Free text.
    Text,
    /// A box that must be ticked.
    Checkbox,
    /// A date, `YYYY-MM-DD`.
    DatePicker,
    /// An ISO 3166-1 alpha-2 country code.
    Country,
    /// One of the options (their values).
    Select {
        /// Allowed values.
        options: Vec<String>,
    },
}

/// One form field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// The label, as written in the card (also the key of the answer).
    pub label: String,
    /// Its type.
    #[serde(flatten)]
    pub kind: FieldKind,
}

/// Parse `extra_gated_fields`. Errors name the field, in the Hub's wording.
pub fn fields(value: &Value) -> Result<Vec<Field>, String> {
    let Value::Object(map) = value else {
        return Err("\"extra_gated_fields\" must be of type object".into());
    };
    let mut out = Vec::new();
    for (label, v) in map {
        let kind = match v {
            Value::String(s) => match s.as_str() {
                "text" => FieldKind::Text,
                "checkbox" => FieldKind::Checkbox,
                "date_picker" => FieldKind::DatePicker,
                "country" => FieldKind::Country,
                other => {
                    return Err(format!(
                        "\"extra_gated_fields.{label}\" must be one of [text, checkbox, date_picker, country, select], not \"{other}\""
                    ));
                }
            },
            Value::Object(o) => {
                let ty = o.get("type").and_then(Value::as_str).unwrap_or("");
                match ty {
                    "select" => {
                        let Some(Value::Array(opts)) = o.get("options") else {
                            return Err(format!(
                                "\"extra_gated_fields.{label}.options\" is required for a select field"
                            ));
                        };
                        let mut options = Vec::new();
                        for (i, opt) in opts.iter().enumerate() {
                            match opt {
                                Value::String(s) => options.push(s.clone()),
                                Value::Object(m) => match m.get("value").or(m.get("label")) {
                                    Some(Value::String(s)) => options.push(s.clone()),
                                    _ => {
                                        return Err(format!(
                                            "\"extra_gated_fields.{label}.options[{i}]\" must be a string or {{label, value}}"
                                        ));
                                    }
                                },
                                _ => {
                                    return Err(format!(
                                        "\"extra_gated_fields.{label}.options[{i}]\" must be a string or {{label, value}}"
                                    ));
                                }
                            }
                        }
                        if options.is_empty() {
                            return Err(format!(
                                "\"extra_gated_fields.{label}.options\" must not be empty"
                            ));
                        }
                        FieldKind::Select { options }
                    }
                    "text" => FieldKind::Text,
                    "checkbox" => FieldKind::Checkbox,
                    "date_picker" => FieldKind::DatePicker,
                    "country" => FieldKind::Country,
                    _ => {
                        return Err(format!(
                            "\"extra_gated_fields.{label}.type\" must be one of [text, checkbox, date_picker, country, select]"
                        ));
                    }
                }
            }
            _ => {
                return Err(format!(
                    "\"extra_gated_fields.{label}\" must be a field type or {{type: select, options}}"
                ));
            }
        };
        out.push(Field {
            label: label.clone(),
            kind,
        });
    }
    Ok(out)
}

/// ISO 3166-1 alpha-2 codes.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// Whether `code` is an ISO 3166-1 alpha-2 country code.
pub fn is_country(code: &str) -> bool {
    code.len() == 2 && COUNTRIES.split(' ').any(|c| c == code)
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    match (num(0..4), num(5..7), num(8..10)) {
        (Some(_), Some(m), Some(d)) => (1..=12).contains(&m) && (1..=31).contains(&d),
        _ => false,
    }
}

/// Check a user's answers against the form: every field answered, with a value of its type.
/// Unknown answers are refused. Returns the answers as strings/booleans, in form order.
pub fn check_answers(
    form: &[Field],
    answers: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    for key in answers.keys() {
        if !form.iter().any(|f| &f.label == key) {
            return Err(format!("\"{key}\" is not a field of this form"));
        }
    }
    let mut out = Map::new();
    for f in form {
        let v = answers.get(&f.label);
        let ok = match (&f.kind, v) {
            (FieldKind::Checkbox, Some(Value::Bool(true))) => Value::Bool(true),
            (FieldKind::Checkbox, Some(Value::String(s)))
                if matches!(s.as_str(), "true" | "yes" | "on") =>
            {
                Value::Bool(true)
            }
            (FieldKind::Checkbox, _) => return Err(format!("\"{}\" must be ticked", f.label)),
            (_, Some(Value::String(s))) if !s.trim().is_empty() => {
                let s = s.trim();
                if s.len() > 1000 {
                    return Err(format!("\"{}\" is longer than 1000 characters", f.label));
                }
                match &f.kind {
                    FieldKind::DatePicker if !is_date(s) => {
                        return Err(format!("\"{}\" must be a date (YYYY-MM-DD)", f.label));
                    }
                    FieldKind::Country if !is_country(&s.to_ascii_uppercase()) => {
                        return Err(format!(
                            "\"{}\" must be an ISO 3166-1 alpha-2 country code",
                            f.label
                        ));
                    }
                    FieldKind::Select { options } if !options.iter().any(|o| o == s) => {
                        return Err(format!(
                            "\"{}\" must be one of [{}]",
                            f.label,
                            options.join(", ")
                        ));
                    }
                    FieldKind::Country => Value::String(s.to_ascii_uppercase()),
                    _ => Value::String(s.to_string()),
                }
            }
            _ => return Err(format!("\"{}\" is required", f.label)),
        };
        out.insert(f.label.clone(), ok);
    }
    Ok(out)
}

/// The agreement of a gated repository.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    /// Heading of the form.
    pub heading: String,
    /// The full text a user accepts: heading, prompt, licence and fields, then the licence file.
    pub text: String,
    /// SHA-256 (hex) of `text`.
    pub sha256: String,
    /// The form.
    pub fields: Vec<Field>,
    /// The licence id from the card.
    pub license: Option<String>,
    /// The licence file included in the text.
    pub license_file: Option<String>,
    /// `extra_gated_eu_disallowed`.
    pub eu_disallowed: bool,
}

/// Licence files, in the order they are looked for.
pub const LICENSE_FILES: &[&str] = &[
    "LICENSE",
    "LICENSE.md",
    "LICENSE.txt",
    "LICENCE",
    "LICENCE.md",
    "LICENCE.txt",
    "license",
    "license.md",
    "license.txt",
];

/// Build the agreement of `repo_id` from its files (`README.md` and the licence file).
pub fn agreement(repo_id: &str, files: &dyn Files) -> Agreement {
    let card = files.text("README.md").map(|t| Card::parse(&t));
    let data = card.as_ref().map(Card::data).unwrap_or_default();
    let s = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
    let heading = s("extra_gated_heading").unwrap_or_else(|| {
        format!("You need to agree to share your contact information to access {repo_id}")
    });
    let license = match data.get("license") {
        Some(Value::String(l)) => Some(l.clone()),
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => None,
    };
    let form = data
        .get("extra_gated_fields")
        .and_then(|v| fields(v).ok())
        .unwrap_or_default();
    let license_file = LICENSE_FILES
        .iter()
        .find(|f| files.exists(f))
        .map(|f| f.to_string());
    let mut text = String::new();
    text.push_str(&heading);
    text.push_str("\n\n");
    if let Some(p) = s("extra_gated_prompt") {
        text.push_str(p.trim_end());
        text.push_str("\n\n");
    }
    if let Some(d) = s("extra_gated_description") {
        text.push_str(d.trim_end());
        text.push_str("\n\n");
    }
    text.push_str(&format!(
        "Licence: {}\n",
        license.as_deref().unwrap_or("(none declared)")
    ));
    if let Some(name) = s("license_name") {
        text.push_str(&format!("Licence name: {name}\n"));
    }
    if let Some(link) = s("license_link") {
        text.push_str(&format!("Licence link: {link}\n"));
    }
    text.push_str("Your user name and email address are shared with the repository's authors.\n");
    if !form.is_empty() {
        text.push_str("Fields:\n");
        for f in &form {
            let kind = match &f.kind {
                FieldKind::Text => "text".to_string(),
                FieldKind::Checkbox => "checkbox, must be ticked".to_string(),
                FieldKind::DatePicker => "date, YYYY-MM-DD".to_string(),
                FieldKind::Country => "country, ISO 3166-1 alpha-2".to_string(),
                FieldKind::Select { options } => format!("one of: {}", options.join(", ")),
            };
            text.push_str(&format!("- {} ({kind})\n", f.label));
        }
    }
    if let Some(f) = &license_file {
        let body = files.text(f).unwrap_or_default();
        text.push_str(&format!("\n--- {f} ---\n{body}"));
        if !body.ends_with('\n') {
            text.push('\n');
        }
    }
    let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    Agreement {
        heading,
        text,
        sha256,
        fields: form,
        license,
        license_file,
        eu_disallowed: data
            .get("extra_gated_eu_disallowed")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

/// Files readable without access to a gated repository: the card, licence and notice files and
/// `.gitattributes`, so that the terms can be read before they are accepted.
pub fn is_public_in_gated(path: &str) -> bool {
    if path.contains('/') {
        return false;
    }
    let lower = path.to_ascii_lowercase();
    lower == "readme.md"
        || lower == ".gitattributes"
        || lower.starts_with("license")
        || lower.starts_with("licence")
        || lower.starts_with("notice")
        || lower.starts_with("use_policy")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::MemFiles;
    use serde_json::json;

    const CARD: &str = "---\nlicense: llama3.1\nextra_gated_prompt: Be nice.\nextra_gated_fields:\n  Company: text\n  Country: country\n  Date: date_picker\n  Use:\n    type: select\n    options: [Research, {label: Other, value: other}]\n  I agree: checkbox\n---\n# M\n";

    #[test]
    fn agreement_hash_follows_the_text() {
        let mut f = MemFiles::new();
        f.add("README.md", CARD).add("LICENSE", "terms v1");
        let a = agreement("acme/m", &f);
        assert!(a.text.contains("Be nice.") && a.text.contains("terms v1"));
        assert_eq!(a.fields.len(), 5);
        assert_eq!(a.sha256, hex::encode(Sha256::digest(a.text.as_bytes())));
        let mut g = MemFiles::new();
        g.add("README.md", CARD).add("LICENSE", "terms v2");
        assert_ne!(agreement("acme/m", &g).sha256, a.sha256);
        let mut h = MemFiles::new();
        h.add("README.md", CARD.replace("Be nice.", "Be kind."))
            .add("LICENSE", "terms v1");
        assert_ne!(agreement("acme/m", &h).sha256, a.sha256);
        // The card body is not part of the agreement.
        let mut k = MemFiles::new();
        k.add("README.md", format!("{CARD}more text"))
            .add("LICENSE", "terms v1");
        assert_eq!(agreement("acme/m", &k).sha256, a.sha256);
    }

    #[test]
    fn answers_are_checked() {
        let mut f = MemFiles::new();
        f.add("README.md", CARD);
        let form = agreement("acme/m", &f).fields;
        let good = json!({"Company": "Acme", "Country": "fr", "Date": "2026-01-02", "Use": "other", "I agree": true});
        let out = check_answers(&form, good.as_object().unwrap()).unwrap();
        assert_eq!(out["Country"], "FR");
        for (k, v) in [
            ("Country", json!("XX")),
            ("Date", json!("2026-13-01")),
            ("Use", json!("Other")),
            ("I agree", json!(false)),
            ("Company", json!(" ")),
        ] {
            let mut bad = good.as_object().unwrap().clone();
            bad.insert(k.into(), v);
            assert!(check_answers(&form, &bad).is_err(), "{k}");
        }
        let mut extra = good.as_object().unwrap().clone();
        extra.insert("Other".into(), json!("x"));
        assert!(check_answers(&form, &extra).is_err());
    }

    #[test]
    fn bad_field_types_are_named() {
        assert!(
            fields(&json!({"A": "radio"}))
                .unwrap_err()
                .contains("extra_gated_fields.A")
        );
        assert!(fields(&json!({"A": {"type": "select"}})).is_err());
        assert!(fields(&json!(["a"])).is_err());
    }

    #[test]
    fn public_files_of_gated_repos() {
        assert!(is_public_in_gated("README.md") && is_public_in_gated("LICENSE.txt"));
        assert!(is_public_in_gated("NOTICE") && !is_public_in_gated("model.safetensors"));
        assert!(!is_public_in_gated("sub/README.md"));
    }
}
