//! `wh card lint` and `wh card new`.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use weighhouse_card::Card;
use weighhouse_card::lint::{self, Mode, Options, Severity};

use crate::cli::{CardCommand, CardLintArgs};
use crate::printer::Printer;

/// Run `wh card ...`.
pub fn run(cmd: CardCommand, printer: &Printer) -> Result<ExitCode> {
    match cmd {
        CardCommand::Lint(args) => lint_cmd(args, printer),
        CardCommand::New(args) => super::card_new::run(args, printer),
    }
}

fn lint_cmd(args: CardLintArgs, printer: &Printer) -> Result<ExitCode> {
    let src = crate::resolve::open_source(&args.path, &args.remote)?;
    let text = match &src.card {
        Some(t) => t.clone(),
        None => {
            if printer.json() {
                printer.data(&serde_json::to_string(&json!({
                    "path": src.label,
                    "findings": [{"rule": "META-001", "severity": "error", "message": "there is no README.md (model card)"}],
                    "errors": 1, "policy": 0, "warnings": 0, "passes": false,
                }))?)?;
            } else {
                printer.data(&format!(
                    "{}: error META-001 there is no README.md (model card)",
                    src.label
                ))?;
            }
            return Ok(ExitCode::from(1));
        }
    };
    let card = Card::parse(&text);
    let hub_url = src
        .remote
        .as_ref()
        .map(|r| r.endpoint.clone())
        .unwrap_or_else(|| "https://huggingface.co".into());
    let exists = |id: &str| -> Option<bool> {
        let r = src.remote.as_ref()?;
        match r.json("GET", &format!("{}/api/models/{id}", r.endpoint), None) {
            Ok(_) => Some(true),
            Err(e) => match e.downcast_ref::<crate::remote::HttpError>() {
                Some(h) if h.status == 404 => Some(false),
                _ => None,
            },
        }
    };
    // With a hub at hand, the licence rules run on the parents it holds.
    let hub = src
        .remote
        .clone()
        .or_else(|| crate::resolve::remote(&args.remote));
    let parents = match (&hub, card.str_field("base_model_revision")) {
        (Some(hub), pinned) => {
            let ids = card.list_field("base_model");
            let pinned = pinned.filter(|_| ids.len() == 1);
            let mut out = Vec::new();
            for id in &ids {
                let p = crate::resolve::parent(
                    id,
                    &Default::default(),
                    None,
                    Some(hub),
                    pinned.as_deref(),
                )?;
                out.push(p);
            }
            (!ids.is_empty() && out.iter().all(|p| p.license.is_some())).then_some(out)
        }
        (None, _) => None,
    };
    let opts = Options {
        mode: Mode::Full,
        repo_type: &args.remote.repo_type,
        files: src.files.as_deref(),
        hub_url: &hub_url,
        model_exists: src.remote.as_ref().map(|_| &exists as &lint::ModelExists),
        parents: parents.as_deref(),
    };
    let report = lint::lint(&card, &opts);
    if printer.json() {
        let mut v = serde_json::to_value(&report)?;
        v["path"] = json!(src.label);
        v["passes"] = json!(report.passes());
        printer.data(&serde_json::to_string(&v)?)?;
    } else {
        for f in &report.findings {
            let at = match f.line {
                Some(l) => format!("{}:{l}", src.label),
                None => src.label.clone(),
            };
            printer.data(&format!(
                "{at}: {} {} {}",
                f.severity.as_str(),
                f.rule,
                f.message
            ))?;
        }
        let infos = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Info)
            .count();
        printer.note(&format!(
            "{}: {} error(s), {} policy, {} warning(s), {} info",
            if report.passes() { "passes" } else { "fails" },
            report.errors,
            report.policy,
            report.warnings,
            infos
        ));
    }
    Ok(if report.passes() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
