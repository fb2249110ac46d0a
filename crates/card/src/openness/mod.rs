//! How open a model repository is, under three definitions computed independently: the Open
//! Weight Definition v0.3 (licence and artefact rules), the OSI Open Source AI Definition 1.0
//! (code and data information; never more than "review", since a person must judge it), and the
//! Model Openness Framework (17 components, classes III to I, as the Model Openness Tool rates
//! them), plus provenance and safety findings.
//!
//! [`evaluate`] reads only texts and the first bytes of weight files (through the [`Files`]
//! view), so the hub can run it on every commit.
//!
//! The module's files, by concern: [`Report`] and its parts (`report`, `criterion`), the facts
//! gathered from the files (`facts`, `names`, `libraries`, `headers`, `repo`), the rules of
//! each definition (`owd`, `osaid`, `mof` with `mof_evidence`), and the provenance and safety
//! `findings`.

mod criterion;
mod facts;
mod findings;
mod headers;
mod libraries;
mod mof;
mod mof_evidence;
mod names;
mod osaid;
mod owd;
mod repo;
mod report;

pub use self::criterion::{Criterion, Evidence, Verdict};
pub use self::libraries::{OPEN_LIBRARIES, library_license};
pub use self::mof::{
    ClassStatus, Component, ContentType, Declared, LicenseStatus, Mof, MofYml, canonical_license,
    class_label, component_names, license_status, status_words,
};
pub use self::report::{Context, LicenseFact, Osaid, Owd, Report};

use self::facts::Scan;
use self::repo::Repo;
use crate::files::Files;

/// Evaluate `files` under OWD, OSAID and MOF.
pub fn evaluate(files: &dyn Files, ctx: &Context) -> Report {
    let repo = Repo::new(files);
    let yml = mof::read_mof_yml(&repo);
    let scan = Scan::run(&repo, ctx, yml.as_ref());

    let owd = owd::owd(&repo, ctx, &scan);
    let osaid = osaid::osaid(&repo, &scan, yml.as_ref());
    let mut found = scan.mof_found(&repo);
    let ids: Vec<String> = scan.licenses.iter().map(|l| l.id.clone()).collect();
    let mof = mof::evaluate(&mut found, &repo, &ids, yml);
    let findings = findings::findings(&repo, &scan);

    let mut labels = vec![owd.label.clone()];
    if mof.class.is_some() {
        labels.push(mof.label.clone());
    }
    Report {
        repo: ctx.repo_id.clone(),
        revision: ctx.revision.clone(),
        labels,
        licenses: scan.licenses.clone(),
        owd,
        osaid,
        mof,
        findings,
    }
}

#[cfg(test)]
mod tests;
