//! The licence table: one row per Hugging Face licence id (`data/licenses.csv`, compiled in),
//! with the facts the derived-licence and openness rules need.

use std::sync::OnceLock;

use serde::Deserialize;

const TABLE: &str = include_str!("../data/licenses.csv");

/// One licence.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct License {
    /// The Hub id (card `license` value).
    pub id: String,
    /// SPDX id, `LicenseRef-*`, `NOASSERTION` or a note.
    pub spdx_id: String,
    /// OSI-approved.
    pub osi_approved: String,
    /// Commercial use allowed.
    pub commercial_use: String,
    /// Modification allowed.
    pub modification: String,
    /// Redistribution allowed.
    pub redistribution: String,
    /// Use restrictions (`none` or a description).
    pub use_restrictions: String,
    /// What must be preserved.
    pub attribution: String,
    /// `none`, `weak`, `strong`, `share-alike`, `use-restriction pass-through`,
    /// `licence pass-through`, ...
    pub copyleft_or_share_alike: String,
    /// Coarse family.
    pub family: String,
    /// Open Weight Definition v0.3 verdict.
    pub owd_v0_3: String,
    /// Whether the terms qualify for OSAID parameters.
    pub osaid_params_terms: String,
    /// Model Openness Tool verdict for weights.
    pub mof_type_appropriate_for_weights: String,
    /// EU AI Act open-source exemption candidate.
    pub eu_ai_act_foss_exemption_candidate: String,
    /// What derived models may be licensed as.
    pub derived_model_rule: String,
    /// Names, notices and files required.
    pub naming_or_notice_duties: String,
    /// high, medium, low.
    pub confidence: String,
    /// Free text.
    pub notes: String,
}

/// Every licence, in the table's order.
pub fn all() -> &'static [License] {
    static ALL: OnceLock<Vec<License>> = OnceLock::new();
    ALL.get_or_init(|| {
        csv::Reader::from_reader(TABLE.as_bytes())
            .deserialize()
            .collect::<Result<Vec<License>, _>>()
            .expect("the compiled-in licence table parses")
    })
}

/// The licence with Hub id `id` (exact, lowercase).
pub fn get(id: &str) -> Option<&'static License> {
    all().iter().find(|l| l.id == id)
}

/// The Hub ids, in order, as the Hub lists them in its error message.
pub fn ids() -> Vec<&'static str> {
    all().iter().map(|l| l.id.as_str()).collect()
}

/// How a licence's own terms travel to derived models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Carry {
    /// Nothing beyond notices.
    None,
    /// Weak copyleft (file or library level).
    Weak,
    /// Derivatives under the same licence family.
    ShareAlike,
    /// Use-based restrictions must be passed on (RAIL, Gemma).
    UseRestrictions,
    /// Derivatives stay under the same licence (Llama, Grok, research-only).
    PassThrough,
    /// Unknown.
    Unknown,
}

impl License {
    /// Commercial use is not allowed.
    pub fn non_commercial(&self) -> bool {
        self.commercial_use.starts_with("no")
    }
    /// Adaptations may not be shared.
    pub fn no_derivatives(&self) -> bool {
        self.modification.starts_with("no")
    }
    /// The Hub sentinels `unknown` and `other`, and the undetermined family `cc`.
    pub fn undetermined(&self) -> bool {
        matches!(self.id.as_str(), "unknown" | "other" | "cc")
    }
    /// How the terms travel.
    pub fn carry(&self) -> Carry {
        let c = self.copyleft_or_share_alike.as_str();
        if c.starts_with("share-alike") || c.starts_with("strong") {
            Carry::ShareAlike
        } else if c.starts_with("weak") {
            Carry::Weak
        } else if c == "use-restriction pass-through" {
            Carry::UseRestrictions
        } else if c == "licence pass-through" {
            Carry::PassThrough
        } else if c.starts_with("none") {
            Carry::None
        } else {
            Carry::Unknown
        }
    }
    /// Has use restrictions beyond notices (NC, RAIL, AUP, research-only, ...).
    pub fn restricts_use(&self) -> bool {
        !self.use_restrictions.starts_with("none")
    }
    /// Permissive: any licence may be used for derivatives, given notices.
    pub fn permissive(&self) -> bool {
        !self.undetermined()
            && self.carry() == Carry::None
            && !self.restricts_use()
            && !self.no_derivatives()
            && !self.non_commercial()
    }
    /// The family a derived model must stay in when the licence is share-alike or pass-through,
    /// and a version within it (`cc-by-sa-4.0` → (`cc-by-sa`, 4.0), `llama3.1` → (`llama`, 3.1)).
    pub fn lineage(&self) -> (String, f64) {
        let id = self.id.as_str();
        if let Some(v) = id.strip_prefix("llama") {
            return ("llama".into(), v.parse().unwrap_or(0.0));
        }
        for fam in [
            "cc-by-nc-sa",
            "cc-by-sa",
            "gpl",
            "agpl",
            "lgpl",
            "eupl",
            "cdla-sharing",
        ] {
            if let Some(rest) = id.strip_prefix(fam) {
                if rest.is_empty() {
                    return (fam.into(), 0.0);
                }
                if let Some(v) = rest.strip_prefix('-') {
                    return (fam.into(), v.parse().unwrap_or(0.0));
                }
            }
        }
        (id.to_string(), 0.0)
    }
    /// Open Weight Definition v0.3: the licence passes.
    pub fn owd_pass(&self) -> bool {
        self.owd_v0_3.starts_with("pass")
    }
    /// The terms qualify for OSAID parameters (`yes` or `likely`).
    pub fn osaid_ok(&self) -> bool {
        self.osaid_params_terms.starts_with("yes") || self.osaid_params_terms.starts_with("likely")
    }
    /// MOT verdict for weights.
    pub fn mof_weights(&self) -> MofLicense {
        let m = self.mof_type_appropriate_for_weights.as_str();
        if m.starts_with("yes") {
            MofLicense::TypeAppropriate
        } else if m.starts_with("open") {
            MofLicense::OpenNotTypeAppropriate
        } else if m.starts_with("review") || m.contains("review") {
            MofLicense::Review
        } else {
            MofLicense::Invalid
        }
    }
}

/// The Model Openness Tool's view of a licence for one component type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MofLicense {
    /// An open licence meant for this type of component.
    TypeAppropriate,
    /// Open, but not meant for this type (passes with a warning).
    OpenNotTypeAppropriate,
    /// Needs a human.
    Review,
    /// Not open.
    Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_every_hub_id() {
        assert_eq!(all().len(), 83);
        assert_eq!(ids()[0], "apache-2.0");
        let nc = get("cc-by-nc-4.0").unwrap();
        assert!(nc.non_commercial() && !nc.permissive());
        assert!(get("cc-by-nd-4.0").unwrap().no_derivatives());
        assert!(get("apache-2.0").unwrap().permissive());
        assert!(get("cc-by-4.0").unwrap().permissive());
        assert_eq!(get("cc-by-sa-4.0").unwrap().carry(), Carry::ShareAlike);
        assert_eq!(get("gpl-3.0").unwrap().carry(), Carry::ShareAlike);
        assert_eq!(get("llama3.1").unwrap().carry(), Carry::PassThrough);
        assert_eq!(get("gemma").unwrap().carry(), Carry::UseRestrictions);
        assert_eq!(get("llama3.1").unwrap().lineage(), ("llama".into(), 3.1));
        assert_eq!(
            get("cc-by-sa-3.0").unwrap().lineage(),
            ("cc-by-sa".into(), 3.0)
        );
        assert!(get("unknown").unwrap().undetermined());
        assert!(get("mit").unwrap().owd_pass() && !get("llama3").unwrap().owd_pass());
        assert_eq!(
            get("cdla-permissive-2.0").unwrap().mof_weights(),
            MofLicense::TypeAppropriate
        );
        assert_eq!(
            get("apache-2.0").unwrap().mof_weights(),
            MofLicense::OpenNotTypeAppropriate
        );
        assert_eq!(get("llama3").unwrap().mof_weights(), MofLicense::Invalid);
        assert!(get("Apache-2.0").is_none());
    }
}
