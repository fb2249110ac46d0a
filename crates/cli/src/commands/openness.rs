//! `wh openness`: how open a model is under the Open Weight Definition, the Open Source AI
//! Definition and the Model Openness Framework (`weighhouse_card::openness`), for a local folder
//! or a repository on a hub.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::Value;
use weighhouse_card::openness::{self, ContentType, Context, Criterion, Evidence, Report};
use weighhouse_card::{Dir, Files};

use crate::UserError;
use crate::cli::OpennessArgs;
use crate::printer::Printer;
use crate::remote::{Remote, RemoteRepo, url_escape};

/// Run `wh openness`.
pub fn run(args: OpennessArgs, printer: &Printer) -> Result<ExitCode> {
    let path = Path::new(&args.path);
    let report = if path.is_dir() {
        let dir = Dir::open(path)
            .map_err(|e| UserError(format!("cannot list {}: {e}", path.display())))?;
        evaluate_local(&dir, path)
    } else if path.exists() {
        return Err(UserError(format!(
            "{} is not a folder: give the model folder (or, with --endpoint, a repository id)",
            path.display()
        ))
        .into());
    } else if let Some(remote) = crate::resolve::remote(&args.remote) {
        evaluate_remote(&remote, &args.path, printer)?
    } else {
        return Err(UserError(format!(
            "{} is not a folder (for a repository on a hub, pass --endpoint URL or set WH_ENDPOINT)",
            args.path
        ))
        .into());
    };
    if printer.json() {
        printer.data(&serde_json::to_string(&report)?)?;
    } else {
        print_report(&report, &args.path, printer)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn evaluate_local(dir: &Dir, path: &Path) -> Report {
    let ctx = Context {
        repo_id: None,
        revision: None,
        gated: None,
        refs: local_refs(path),
    };
    openness::evaluate(dir as &dyn Files, &ctx)
}

/// Branch and tag names of a git checkout, for intermediate checkpoints kept as refs.
fn local_refs(path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for kind in ["heads", "tags"] {
        let dir = path.join(".git/refs").join(kind);
        let Ok(items) = std::fs::read_dir(&dir) else {
            continue;
        };
        for item in items.flatten().take(10_000) {
            out.push(item.file_name().to_string_lossy().into_owned());
        }
    }
    // Refs packed by `git gc`: `<sha> refs/heads/<name>` lines.
    if let Ok(packed) = std::fs::read_to_string(path.join(".git/packed-refs")) {
        for line in packed.lines().take(100_000) {
            if let Some((_, r)) = line.split_once(' ')
                && let Some(name) = r
                    .strip_prefix("refs/heads/")
                    .or_else(|| r.strip_prefix("refs/tags/"))
            {
                out.push(name.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn evaluate_remote(remote: &Remote, repo: &str, printer: &Printer) -> Result<Report> {
    let files = RemoteRepo::open(remote, repo)?;
    let info_url = if remote.revision == "main" {
        remote.api_repo(repo)
    } else {
        format!(
            "{}/revision/{}",
            remote.api_repo(repo),
            url_escape(&remote.revision)
        )
    };
    let gated = match remote.json("GET", &info_url, None) {
        Ok(info) => match &info["gated"] {
            Value::Bool(b) => Some(*b),
            Value::String(s) => Some(s != "false"),
            _ => None,
        },
        Err(e) => {
            printer.note(&format!(
                "note: cannot read the repository's settings ({e}); gating unknown"
            ));
            None
        }
    };
    let refs = match remote.json("GET", &format!("{}/refs", remote.api_repo(repo)), None) {
        Ok(v) => ["branches", "tags"]
            .iter()
            .flat_map(|k| v[*k].as_array().cloned().unwrap_or_default())
            .filter_map(|r| r["name"].as_str().map(str::to_string))
            .collect(),
        Err(e) => {
            printer.note(&format!("note: cannot list branches and tags ({e})"));
            Vec::new()
        }
    };
    let ctx = Context {
        repo_id: Some(repo.to_string()),
        revision: Some(remote.revision.clone()),
        gated,
        refs,
    };
    Ok(openness::evaluate(&files, &ctx))
}

fn evidence_line(e: &Evidence) -> String {
    let at = match (&e.file, &e.field) {
        (f, Some(field)) if !f.is_empty() => format!("{f} [{field}]: "),
        (f, None) if !f.is_empty() => format!("{f}: "),
        (_, Some(field)) => format!("[{field}]: "),
        _ => String::new(),
    };
    format!("{at}{}", e.detail)
}

fn print_criterion(c: &Criterion, printer: &Printer) -> Result<()> {
    printer.data(&format!(
        "  {:<7} {:<9} {}",
        c.verdict.as_str(),
        c.id,
        c.title
    ))?;
    for e in &c.evidence {
        printer.data(&format!("                    {}", evidence_line(e)))?;
    }
    for m in &c.missing {
        printer.data(&format!("                    needs: {m}"))?;
    }
    Ok(())
}

fn print_report(r: &Report, path: &str, printer: &Printer) -> Result<()> {
    let what = match (&r.repo, &r.revision) {
        (Some(repo), Some(rev)) => format!("{repo} ({rev})"),
        (Some(repo), None) => repo.clone(),
        _ => path.to_string(),
    };
    printer.data(&what)?;
    printer.data(&format!("labels: {}", r.labels.join(", ")))?;
    if r.licenses.is_empty() {
        printer.data("licence: none declared")?;
    }
    for l in &r.licenses {
        printer.data(&format!(
            "licence: {} (from {}): OWD {}; OSAID parameters {}; MOF weights {}",
            l.id,
            l.source,
            l.owd_v0_3.as_deref().unwrap_or("?"),
            l.osaid_params_terms.as_deref().unwrap_or("?"),
            l.mof_weights.as_deref().unwrap_or("?"),
        ))?;
    }

    printer.data("")?;
    printer.data(&format!(
        "Open Weight Definition v{}: {}",
        r.owd.version, r.owd.label
    ))?;
    for c in &r.owd.criteria {
        print_criterion(c, printer)?;
    }

    printer.data("")?;
    printer.data(&format!(
        "Open Source AI Definition {}: {} ({})",
        r.osaid.version, r.osaid.verdict, r.osaid.summary
    ))?;
    for c in &r.osaid.criteria {
        print_criterion(c, printer)?;
    }

    printer.data("")?;
    printer.data(&format!("Model Openness Framework: {}", r.mof.label))?;
    for c in &r.mof.classes {
        let mut line = format!(
            "  {} {}: {}%",
            if c.met { "met" } else { "not met" },
            c.label,
            c.progress
        );
        if !c.missing.is_empty() {
            line.push_str(&format!("; missing: {}", c.missing.join(", ")));
        }
        if !c.not_open.is_empty() {
            line.push_str(&format!("; not openly licensed: {}", c.not_open.join(", ")));
        }
        printer.data(&line)?;
    }
    for c in &r.mof.components {
        let optional = if c.required { "" } else { ", optional" };
        printer.data(&format!(
            "  {:<7} {} (class {}, {}{optional})",
            c.verdict.as_str(),
            c.name,
            ["I", "II", "III"][(c.class as usize).clamp(1, 3) - 1],
            match c.content_type {
                ContentType::Code => "code",
                ContentType::Data => "data",
                ContentType::Document => "document",
            }
        ))?;
        if c.present {
            let lic = match (&c.license, &c.license_source) {
                (Some(l), Some(s)) => format!("{l} (from {s})"),
                (Some(l), None) => l.clone(),
                _ => "none".into(),
            };
            printer.data(&format!(
                "                    licence: {lic}: {}",
                openness::status_words(c.license_status)
            ))?;
        }
        for e in &c.evidence {
            printer.data(&format!("                    {}", evidence_line(e)))?;
        }
        for m in &c.missing {
            printer.data(&format!("                    needs: {m}"))?;
        }
    }
    if let Some(y) = &r.mof.mof_yml {
        for e in &y.errors {
            printer.data(&format!("  {}: {e}", y.path))?;
        }
    }

    printer.data("")?;
    printer.data("Provenance and safety:")?;
    for c in &r.findings {
        print_criterion(c, printer)?;
    }
    Ok(())
}
