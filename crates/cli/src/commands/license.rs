//! `wh license check`: what a derived model may be licensed as, given its parents.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use weighhouse_card::derive::{self, Child, NOTICE_FILES, Outcome, Relation, Verdict};
use weighhouse_card::{Card, Files};

use crate::UserError;
use crate::cli::{LicenseCheckArgs, LicenseCommand};
use crate::printer::Printer;
use crate::resolve::{self, open_source};

/// Run `wh license ...`.
pub fn run(cmd: LicenseCommand, printer: &Printer) -> Result<ExitCode> {
    match cmd {
        LicenseCommand::Check(args) => check(args, printer),
    }
}

fn first_text(files: &dyn Files, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| files.text(n))
}

fn check(args: LicenseCheckArgs, printer: &Printer) -> Result<ExitCode> {
    let src = open_source(&args.path, &args.remote)?;
    let Some(text) = &src.card else {
        return Err(UserError(format!(
            "{}: there is no README.md (model card) to read the licence from",
            src.label
        ))
        .into());
    };
    let card = Card::parse(text);
    if let Err(e) = &card.front {
        return Err(UserError(format!("{}:{}: {}", src.label, e.line, e.message)).into());
    }
    let flags: BTreeMap<String, String> = args
        .parents
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
                .ok_or_else(|| UserError(format!("--parent {p}: expected ID=LICENSE")))
        })
        .collect::<Result<_, _>>()?;
    let relation = match args
        .relation
        .as_deref()
        .or(card.str_field("base_model_relation").as_deref())
    {
        Some(r) => {
            Some(Relation::parse(r).ok_or_else(|| UserError(format!("unknown relation \"{r}\"")))?)
        }
        None => None,
    };
    let base_ids = card.list_field("base_model");
    let pinned = card.str_field("base_model_revision");
    let hub = resolve::remote(&args.remote);
    let mut parents = Vec::new();
    for id in &base_ids {
        parents.push(resolve::parent(
            id,
            &flags,
            args.parents_dir.as_deref(),
            hub.as_ref(),
            if base_ids.len() == 1 {
                pinned.as_deref()
            } else {
                None
            },
        )?);
    }
    for id in flags.keys() {
        if !base_ids.contains(id) {
            return Err(UserError(format!(
                "--parent {id}: the card's base_model does not name {id}"
            ))
            .into());
        }
    }
    let name = args
        .name
        .clone()
        .or_else(|| src.repo.clone())
        .or_else(|| {
            card.data()
                .get("model-index")
                .and_then(|m| m[0]["name"].as_str())
                .map(str::to_string)
        })
        .or_else(|| {
            src.folder
                .as_ref()
                .and_then(|f| f.canonicalize().ok())
                .and_then(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_default();
    let files = src.files.as_deref();
    let child = Child {
        license: card.str_field("license"),
        name,
        relation,
        card: text.clone(),
        license_text: files.and_then(|f| first_text(f, weighhouse_card::gate::LICENSE_FILES)),
        notice: files.and_then(|f| first_text(f, NOTICE_FILES)),
        pipeline_tag: card.str_field("pipeline_tag"),
    };
    let outcome = derive::check(&child, &parents);
    let unmet = outcome.unmet_duties().count();
    let failed = outcome.verdict == Verdict::NotAllowed
        || args.strict && (outcome.verdict == Verdict::Review || unmet > 0);
    if printer.json() {
        let mut v = serde_json::to_value(&outcome)?;
        v["model"] = json!(child.name);
        v["path"] = json!(src.label);
        v["passes"] = json!(!failed);
        printer.data(&serde_json::to_string(&v)?)?;
    } else {
        print_human(&child, &outcome, printer)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_human(child: &Child, o: &Outcome, printer: &Printer) -> Result<()> {
    let declared = o.declared.as_deref().unwrap_or("(none)");
    match o.relation {
        Some(rel) => printer.data(&format!(
            "model {}: declares {declared}; {} of {} parent(s)",
            if child.name.is_empty() {
                "(unnamed)"
            } else {
                &child.name
            },
            rel.as_str(),
            o.parents.len()
        ))?,
        None => printer.data(&format!(
            "model {}: declares {declared}; no base_model, not a derived model",
            child.name
        ))?,
    }
    for p in &o.parents {
        printer.data(&format!(
            "  parent {}: {}{}  [{}]",
            p.id,
            p.license.as_deref().unwrap_or(if p.unresolved.is_some() {
                "(not resolved)"
            } else {
                "(no licence found)"
            }),
            p.license_name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
            p.source
        ))?;
    }
    if !o.parents.is_empty() {
        if o.allowed.is_empty() {
            printer.data("may be licensed as: nothing (no licence satisfies every parent)")?;
        } else {
            let list = if o.allowed.len() > 12 {
                format!(
                    "{} and {} more",
                    o.allowed[..12].join(", "),
                    o.allowed.len() - 12
                )
            } else {
                o.allowed.join(", ")
            };
            printer.data(&format!("may be licensed as: {list}"))?;
        }
        if let Some(r) = &o.recommended {
            printer.data(&format!("recommended: {r}"))?;
        }
    }
    for f in &o.findings {
        printer.data(&format!(
            "{} {}{}: {}",
            f.level,
            f.rule,
            f.parent
                .as_deref()
                .map(|p| format!(" [{p}: {}]", f.term))
                .unwrap_or_else(|| format!(" [{}]", f.term)),
            f.message
        ))?;
    }
    if !o.duties.is_empty() {
        printer.data("duties:")?;
        for d in &o.duties {
            printer.data(&format!(
                "  [{}] {} ({}, {})",
                if d.met { "ok" } else { "missing" },
                d.what,
                d.parent,
                d.rule
            ))?;
        }
    }
    for t in &o.tags {
        printer.data(&format!("tag: {t}"))?;
    }
    printer.data(&format!(
        "verdict: {}",
        match o.verdict {
            Verdict::Allowed => "allowed",
            Verdict::NotAllowed => "NOT allowed",
            Verdict::Review => "allowed, needs review",
        }
    ))?;
    Ok(())
}
