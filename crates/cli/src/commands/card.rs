//! `wh card lint` and `wh card new`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use weighhouse_card::lint::{self, Mode, Options, Severity};
use weighhouse_card::{Card, Dir, Files};

use crate::UserError;
use crate::cli::{CardCommand, CardLintArgs};
use crate::printer::Printer;
use crate::remote::{Remote, RemoteRepo};

/// Run `wh card ...`.
pub fn run(cmd: CardCommand, printer: &Printer) -> Result<ExitCode> {
    match cmd {
        CardCommand::Lint(args) => lint_cmd(args, printer),
        CardCommand::New(args) => super::card_new::run(args, printer),
    }
}

/// A card and the files around it, wherever they are.
pub struct Source {
    /// What to call it in reports.
    pub label: String,
    /// The card text (`None` when there is no README.md).
    pub card: Option<String>,
    /// The repository's files, when known.
    pub files: Option<Box<dyn Files>>,
    /// The hub, when the card comes from one.
    pub remote: Option<Remote>,
    /// The repo id, when the card comes from a hub.
    pub repo: Option<String>,
    /// The folder, when local.
    pub folder: Option<std::path::PathBuf>,
}

/// Find the card of `path`: a folder, a README.md, or a repo id on the hub named by `remote`.
pub fn open_source(path: &str, remote_args: &crate::cli::RemoteArgs) -> Result<Source> {
    let p = Path::new(path);
    if p.is_dir() {
        let dir = Dir::open(p).map_err(|e| UserError(format!("cannot read {path}: {e}")))?;
        let card = dir.text("README.md");
        return Ok(Source {
            label: p.join("README.md").display().to_string(),
            card,
            files: Some(Box::new(dir)),
            remote: None,
            repo: None,
            folder: Some(p.to_path_buf()),
        });
    }
    if p.is_file() {
        let meta = std::fs::metadata(p)?;
        if meta.len() > weighhouse_card::frontmatter::MAX_CARD as u64 {
            return Err(UserError(format!(
                "{path} is larger than {} bytes; not a model card",
                weighhouse_card::frontmatter::MAX_CARD
            ))
            .into());
        }
        let bytes = std::fs::read(p).map_err(|e| UserError(format!("cannot read {path}: {e}")))?;
        return Ok(Source {
            label: path.to_string(),
            card: Some(String::from_utf8_lossy(&bytes).into_owned()),
            files: None,
            remote: None,
            repo: None,
            folder: None,
        });
    }
    let Some(remote) = Remote::from_args(remote_args) else {
        return Err(UserError(format!(
            "{path} is neither a folder nor a file; to read a repository on a hub, pass --endpoint URL (or set WH_ENDPOINT)"
        ))
        .into());
    };
    if !weighhouse_card::lint::is_repo_id(path) || !path.contains('/') {
        return Err(UserError(format!("{path} is not a repository id (namespace/name)")).into());
    }
    let repo = RemoteRepo::open(&remote, path)
        .map_err(|e| UserError(format!("{path} on {}: {e}", remote.endpoint)))?;
    let card = repo.text("README.md");
    Ok(Source {
        label: format!("{}/{path}@{}:README.md", remote.endpoint, remote.revision),
        card,
        files: Some(Box::new(repo)),
        remote: Some(remote),
        repo: Some(path.to_string()),
        folder: None,
    })
}

fn lint_cmd(args: CardLintArgs, printer: &Printer) -> Result<ExitCode> {
    let src = open_source(&args.path, &args.remote)?;
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
        .or_else(|| Remote::from_args(&args.remote));
    let parents = match (&hub, card.str_field("base_model_revision")) {
        (Some(hub), pinned) => {
            let ids = card.list_field("base_model");
            let pinned = pinned.filter(|_| ids.len() == 1);
            let mut out = Vec::new();
            for id in &ids {
                let p = super::license::resolve_parent(
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
