//! `wh access`: gated repositories on a hub. Users read the agreement and ask for access;
//! people who may write to a repository list, approve, reject, cancel and grant requests (the
//! Hugging Face Hub's `user-access-request` API).
//!
//! Access is never accepted on the user's behalf: `request` shows the whole agreement and then
//! needs the repository id typed on the terminal, or `--i-accept` with the agreement's SHA-256.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Result;
use serde_json::{Map, Value, json};

use crate::UserError;
use crate::cli::{
    AccessCommand, AccessListArgs, AccessRejectArgs, AccessRepoArgs, AccessRequestArgs,
    AccessUserArgs, RemoteArgs,
};
use crate::printer::Printer;
use crate::remote::{HttpError, Remote};

/// Run `wh access`.
pub fn run(cmd: AccessCommand, printer: &Printer) -> Result<ExitCode> {
    match cmd {
        AccessCommand::Request(args) => request(args, printer),
        AccessCommand::Status(args) => status(args, printer),
        AccessCommand::List(args) => list(args, printer),
        AccessCommand::Approve(args) => handle(args, "accepted", None, printer),
        AccessCommand::Reject(AccessRejectArgs {
            repo,
            user,
            reason,
            remote,
        }) => handle(
            AccessUserArgs { repo, user, remote },
            "rejected",
            reason,
            printer,
        ),
        AccessCommand::Cancel(args) => handle(args, "pending", None, printer),
        AccessCommand::Grant(args) => grant(args, printer),
    }
}

fn check_repo_id(repo: &str) -> Result<()> {
    let ok = repo
        .split_once('/')
        .is_some_and(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains('/'));
    if ok {
        Ok(())
    } else {
        Err(UserError(format!(
            "expected a repository id namespace/name, got {repo:?}"
        ))
        .into())
    }
}

fn remote(args: &RemoteArgs, repo: &str) -> Result<Remote> {
    check_repo_id(repo)?;
    crate::resolve::require_remote(args)
}

fn gate(remote: &Remote, repo: &str) -> Result<Value> {
    remote.json("GET", &format!("{}/gate", remote.api_repo(repo)), None)
}

/// Answers from `--field LABEL=VALUE`, keyed by label.
fn parse_fields(fields: &[String]) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for f in fields {
        let Some((label, value)) = f.split_once('=') else {
            return Err(UserError(format!("--field takes LABEL=VALUE, got {f:?}")).into());
        };
        out.insert(label.trim().to_string(), json!(value));
    }
    Ok(out)
}

fn describe_field(f: &Value) -> String {
    let label = f["label"].as_str().unwrap_or("?");
    let kind = match f["type"].as_str().unwrap_or("text") {
        "checkbox" => "checkbox: answer yes to tick it".to_string(),
        "date_picker" => "date, YYYY-MM-DD".to_string(),
        "country" => "country, ISO 3166-1 alpha-2 code".to_string(),
        "select" => format!(
            "one of: {}",
            f["options"]
                .as_array()
                .map(|o| o
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ),
        other => other.to_string(),
    };
    format!("{label} ({kind})")
}

fn print_agreement(printer: &Printer, repo: &str, g: &Value) -> Result<()> {
    let a = &g["agreement"];
    let mode = match &g["gated"] {
        Value::String(s) => s.clone(),
        _ => "not gated".to_string(),
    };
    printer.data(&format!("Repository: {repo} (gated: {mode})"))?;
    let licence = a["license"].as_str().unwrap_or("(none declared)");
    match a["license_file"].as_str() {
        Some(file) => printer.data(&format!("Licence: {licence} (file {file})"))?,
        None => printer.data(&format!("Licence: {licence}"))?,
    }
    printer.data("")?;
    printer.data(&format!("== {} ==", a["heading"].as_str().unwrap_or("")))?;
    printer.data("")?;
    printer.data(a["text"].as_str().unwrap_or("").trim_end())?;
    printer.data("")?;
    let fields = a["fields"].as_array().cloned().unwrap_or_default();
    if fields.is_empty() {
        printer.data("Form fields: none")?;
    } else {
        printer.data("Form fields:")?;
        for f in &fields {
            printer.data(&format!("  - {}", describe_field(f)))?;
        }
    }
    printer.data(&format!(
        "Agreement SHA-256: {}",
        a["sha256"].as_str().unwrap_or("")
    ))?;
    Ok(())
}

/// Read one line from the terminal after a prompt on stderr.
fn ask(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    let n = std::io::stdin().lock().read_line(&mut line)?;
    if n == 0 {
        return Err(UserError("no answer: the input ended".into()).into());
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// The answers to the form: from `--field`, the rest asked on the terminal.
fn answers(
    fields: &[Value],
    given: Map<String, Value>,
    interactive: bool,
) -> Result<Map<String, Value>> {
    for label in given.keys() {
        if !fields
            .iter()
            .any(|f| f["label"].as_str() == Some(label.as_str()))
        {
            let labels: Vec<&str> = fields.iter().filter_map(|f| f["label"].as_str()).collect();
            return Err(UserError(format!(
                "{label:?} is not a field of this agreement's form (fields: {})",
                if labels.is_empty() {
                    "none".to_string()
                } else {
                    labels.join(", ")
                }
            ))
            .into());
        }
    }
    let mut out = given;
    for f in fields {
        let Some(label) = f["label"].as_str() else {
            continue;
        };
        if out.contains_key(label) {
            continue;
        }
        if !interactive {
            return Err(UserError(format!(
                "the form asks for {}: pass --field '{label}=VALUE' (stdin is not a terminal)",
                describe_field(f)
            ))
            .into());
        }
        let value = ask(&format!("{}: ", describe_field(f)))?;
        out.insert(label.to_string(), json!(value.trim()));
    }
    Ok(out)
}

fn refused(e: &anyhow::Error) -> Option<&HttpError> {
    e.chain().find_map(|c| c.downcast_ref::<HttpError>())
}

fn request(args: AccessRequestArgs, printer: &Printer) -> Result<ExitCode> {
    let remote = remote(&args.remote, &args.repo)?;
    let g = gate(&remote, &args.repo)?;
    let sha = g["agreement"]["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let before = g["status"].as_str().unwrap_or("not-requested").to_string();
    let json_out = |status: &str, requested: bool| -> Result<()> {
        let v = json!({
            "repo": args.repo,
            "gated": g["gated"],
            "agreement": g["agreement"],
            "status": status,
            "requested": requested,
            "rejectionReason": g.get("rejectionReason"),
        });
        printer.data(&serde_json::to_string_pretty(&v)?)?;
        Ok(())
    };
    if !printer.json() {
        print_agreement(printer, &args.repo, &g)?;
    }
    if g["gated"] == json!(false) {
        if printer.json() {
            json_out(&before, false)?;
        } else {
            printer.data(&format!("{} is not gated: no request is needed", args.repo))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    match before.as_str() {
        "accepted" | "pending" => {
            if printer.json() {
                json_out(&before, false)?;
            } else {
                printer.data(&format!(
                    "Status: {before} (already requested for this agreement)"
                ))?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        "rejected" => {
            if printer.json() {
                json_out(&before, false)?;
            } else {
                let why = g["rejectionReason"]
                    .as_str()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                printer.data(&format!("Status: rejected{why}"))?;
            }
            eprintln!(
                "error: your request for this agreement was rejected; you can ask again once the agreement changes"
            );
            return Ok(ExitCode::from(1));
        }
        _ => {}
    }
    if !remote.has_token() {
        return Err(UserError(
            "asking for access needs a token: pass --token or set WH_TOKEN / HF_TOKEN".into(),
        )
        .into());
    }
    let interactive = std::io::stdin().is_terminal();
    // With --i-accept the terms were read before; check the hash before asking anything.
    if let Some(accepted) = &args.i_accept
        && !accepted.trim().eq_ignore_ascii_case(&sha)
    {
        if printer.json() {
            json_out(&before, false)?;
        }
        eprintln!(
            "error: the agreement of {} changed: its SHA-256 is now {sha}, not {}; read it again and accept the new one",
            args.repo,
            accepted.trim()
        );
        return Ok(ExitCode::from(1));
    }
    if args.i_accept.is_none() && !interactive {
        if printer.json() {
            json_out(&before, false)?;
        }
        return Err(UserError(format!(
            "not accepted: confirm on a terminal by typing the repository id, or pass --i-accept {sha} after reading the agreement"
        ))
        .into());
    }
    let fields = g["agreement"]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let answers = answers(&fields, parse_fields(&args.fields)?, interactive)?;
    if args.i_accept.is_none() {
        let typed = ask(&format!(
            "To accept this agreement (SHA-256 {sha}) and send your request, type the repository id ({}): ",
            args.repo
        ))?;
        if typed.trim() != args.repo {
            eprintln!(
                "error: not accepted: {:?} is not {:?}",
                typed.trim(),
                args.repo
            );
            return Ok(ExitCode::from(1));
        }
    }
    let body = json!({"agreement_sha256": sha, "fields": answers});
    let result = remote.json(
        "POST",
        &format!("{}/ask-access", remote.api_repo(&args.repo)),
        Some(&body),
    );
    let answer = match result {
        Ok(v) => v,
        Err(e) => {
            if let Some(h) = refused(&e) {
                if h.status == 409 {
                    eprintln!(
                        "error: the agreement changed while you read it: {}",
                        h.message
                    );
                } else {
                    eprintln!("error: the hub refused the request: {}", h.message);
                }
                return Ok(ExitCode::from(1));
            }
            return Err(e);
        }
    };
    let status = answer["status"].as_str().unwrap_or("pending").to_string();
    if printer.json() {
        json_out(&status, true)?;
    } else {
        let what = match status.as_str() {
            "accepted" => "access granted",
            "pending" => "waiting for the repository's authors to review it",
            _ => "",
        };
        printer.data(&format!("Status: {status} ({what})"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Run a call; a refusal from the hub becomes exit 1 with its message.
fn call(f: impl FnOnce() -> Result<Value>) -> Result<std::result::Result<Value, ExitCode>> {
    match f() {
        Ok(v) => Ok(Ok(v)),
        Err(e) => match refused(&e) {
            Some(h) => {
                let code = h
                    .code
                    .as_deref()
                    .map(|c| format!(" {c}"))
                    .unwrap_or_default();
                eprintln!(
                    "error: the hub refused (HTTP {}{code}): {}",
                    h.status, h.message
                );
                Ok(Err(ExitCode::from(1)))
            }
            None => Err(e),
        },
    }
}

fn status(args: AccessRepoArgs, printer: &Printer) -> Result<ExitCode> {
    let remote = remote(&args.remote, &args.repo)?;
    let g = match call(|| gate(&remote, &args.repo))? {
        Ok(g) => g,
        Err(code) => return Ok(code),
    };
    if printer.json() {
        printer.data(&serde_json::to_string_pretty(&g)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let status = g["status"].as_str().unwrap_or("?");
    match &g["gated"] {
        Value::String(mode) => printer.data(&format!("{}: gated ({mode})", args.repo))?,
        _ => printer.data(&format!("{}: not gated", args.repo))?,
    }
    printer.data(&format!("Status: {status}"))?;
    if let Some(r) = g["rejectionReason"].as_str() {
        printer.data(&format!("Rejection reason: {r}"))?;
    }
    if status == "outdated" {
        printer.data("The agreement changed since your request: run `wh access request` again")?;
    }
    printer.data(&format!(
        "Can download gated files: {}",
        if g["access"] == json!(true) {
            "yes"
        } else {
            "no"
        }
    ))?;
    if let Some(sha) = g["agreement"]["sha256"].as_str() {
        printer.data(&format!("Agreement SHA-256: {sha}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn list(args: AccessListArgs, printer: &Printer) -> Result<ExitCode> {
    let remote = remote(&args.remote, &args.repo)?;
    let url = format!(
        "{}/user-access-request/{}",
        remote.api_repo(&args.repo),
        args.status
    );
    let items = match call(|| remote.json("GET", &url, None))? {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    if printer.json() {
        printer.data(&serde_json::to_string_pretty(&items)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let items = items.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        printer.note(&format!("No {} requests for {}", args.status, args.repo));
    }
    for i in &items {
        let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
        let mut line = format!(
            "{:<20} {:<24} {:<28} {:<9} {}",
            s(&i["user"]["user"]),
            s(&i["user"]["fullname"]),
            s(&i["user"]["email"]),
            s(&i["status"]),
            s(&i["timestamp"]),
        );
        if let Some(f) = i.get("fields").filter(|f| f.is_object()) {
            line.push_str(&format!("  {f}"));
        }
        if let Some(r) = i["rejectionReason"].as_str() {
            line.push_str(&format!("  reason: {r}"));
        }
        printer.data(&line)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn handle(
    args: AccessUserArgs,
    status: &str,
    reason: Option<String>,
    printer: &Printer,
) -> Result<ExitCode> {
    if let Some(r) = &reason
        && r.chars().count() > 200
    {
        return Err(UserError("--reason is limited to 200 characters".into()).into());
    }
    let remote = remote(&args.remote, &args.repo)?;
    let mut body = json!({"user": args.user, "status": status});
    if let Some(r) = reason {
        body["rejectionReason"] = json!(r);
    }
    let url = format!("{}/user-access-request/handle", remote.api_repo(&args.repo));
    if let Err(code) = call(|| remote.json("POST", &url, Some(&body)))? {
        return Ok(code);
    }
    let done = match status {
        "accepted" => "Approved",
        "rejected" => "Rejected",
        _ => "Cancelled (back to pending)",
    };
    if printer.json() {
        printer.json_value(&json!({"repo": args.repo, "user": args.user, "status": status}))?;
    } else {
        printer.data(&format!("{done}: {} for {}", args.user, args.repo))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn grant(args: AccessUserArgs, printer: &Printer) -> Result<ExitCode> {
    let remote = remote(&args.remote, &args.repo)?;
    let url = format!("{}/user-access-request/grant", remote.api_repo(&args.repo));
    let body = json!({"user": args.user});
    if let Err(code) = call(|| remote.json("POST", &url, Some(&body)))? {
        return Ok(code);
    }
    if printer.json() {
        printer.json_value(&json!({"repo": args.repo, "user": args.user, "status": "accepted"}))?;
    } else {
        printer.data(&format!("Granted {} access to {}", args.user, args.repo))?;
    }
    Ok(ExitCode::SUCCESS)
}
