//! `wh admin`: users, tokens, organisations and the audit log, straight on the data folder.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use weighhouse_hub::auth::Role;
use weighhouse_hub::{admin, audit};

use crate::UserError;
use crate::cli::{
    AdminArgs, AdminCommand, AuditCommand, OrgCommand, RoleArg, TokenCommand, UserCommand,
};
use crate::printer::Printer;

fn role(r: RoleArg) -> Role {
    match r {
        RoleArg::Read => Role::Read,
        RoleArg::Write => Role::Write,
        RoleArg::Admin => Role::Admin,
    }
}

pub fn run(args: AdminArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(run_async(args, printer))
}

async fn run_async(args: AdminArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let db = admin::open(&args.data).await?;
    // Failures about the request itself (a taken name, an unknown user) are the user's to fix.
    let user_err = |e: anyhow::Error| -> anyhow::Error {
        if e.downcast_ref::<sqlx::Error>().is_some() {
            e
        } else {
            UserError(format!("{e:#}")).into()
        }
    };
    let wrote = !matches!(args.command, AdminCommand::Audit(AuditCommand::List { .. }));
    match args.command {
        AdminCommand::User(UserCommand::Create { name, admin }) => {
            let token = admin::create_user(&db, &name, admin)
                .await
                .map_err(user_err)?;
            if printer.json() {
                printer.json_value(&json!({"user": name, "admin": admin, "token": token}))?;
            } else {
                printer.note(&format!(
                    "Created user {name}. Its token is shown once; keep it:"
                ));
                printer.data(&token)?;
            }
        }
        AdminCommand::Token(TokenCommand::Create {
            user,
            role: r,
            label,
        }) => {
            let token = admin::create_token(&db, &user, role(r), &label)
                .await
                .map_err(user_err)?;
            if printer.json() {
                printer.json_value(
                    &json!({"user": user, "role": role(r).to_string(), "label": label, "token": token}),
                )?;
            } else {
                printer.note(&format!(
                    "Created a {} token for {user}. It is shown once; keep it:",
                    role(r)
                ));
                printer.data(&token)?;
            }
        }
        AdminCommand::Token(TokenCommand::Revoke { id }) => {
            admin::revoke_token(&db, id).await.map_err(user_err)?;
            done(
                printer,
                &format!("Revoked token {id}"),
                json!({"revoked": id}),
            )?;
        }
        AdminCommand::Org(OrgCommand::Create { name }) => {
            admin::create_org(&db, &name).await.map_err(user_err)?;
            done(
                printer,
                &format!("Created organisation {name}"),
                json!({"organization": name}),
            )?;
        }
        AdminCommand::Org(OrgCommand::AddMember { org, user, role: r }) => {
            admin::add_member(&db, &org, &user, role(r))
                .await
                .map_err(user_err)?;
            done(
                printer,
                &format!("{user} is now a member of {org} with the {} role", role(r)),
                json!({"organization": org, "user": user, "role": role(r).to_string()}),
            )?;
        }
        AdminCommand::Audit(AuditCommand::List { since, limit }) => {
            let entries = admin::audit_list(&db, since, limit.unwrap_or(i64::MAX)).await?;
            if printer.json() {
                printer.json_value(&serde_json::Value::from(entries))?;
            } else {
                for e in &entries {
                    let s = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
                    let token = e["actor"]["token_id"]
                        .as_i64()
                        .map_or("-".to_string(), |t| format!("token {t}"));
                    printer.data(&format!(
                        "{:>6}  {}  {:<12} {:<10} {:<18} {:<32} {}",
                        e["seq"],
                        s(&e["ts"]),
                        s(&e["actor"]["user"]),
                        token,
                        s(&e["event"]),
                        s(&e["target"]["repo"]),
                        e["data"]
                    ))?;
                }
            }
        }
        AdminCommand::Audit(AuditCommand::Verify) => {
            let result = admin::audit_verify(&db, &args.data).await?;
            db.close().await;
            return print_verify(&result, printer);
        }
        AdminCommand::Audit(AuditCommand::Erase { user }) => {
            let n = admin::audit_erase(&db, &user).await?;
            done(
                printer,
                &format!(
                    "Erased the personal data of {n} audit entries of {user}; the chain is unchanged"
                ),
                json!({"user": user, "erased_entries": n}),
            )?;
        }
    }
    if wrote {
        // Move the anchor to the entry just written.
        if let Err(e) = admin::write_anchor(&db, &args.data).await {
            printer.note(&format!("warning: the audit anchor was not updated: {e:#}"));
        }
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Report a change: a note for people, or its JSON on stdout with `--json`.
fn done(printer: &Printer, note: &str, json: serde_json::Value) -> std::io::Result<()> {
    if printer.json() {
        printer.json_value(&json)
    } else {
        printer.note(note);
        Ok(())
    }
}

fn print_verify(
    result: &Result<audit::Intact, audit::Broken>,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let json = printer.json();
    match result {
        Ok(ok) => {
            if json {
                let v = serde_json::json!({
                    "intact": true,
                    "count": ok.count,
                    "head": ok.head,
                    "anchor": ok.anchor,
                });
                printer.data(&serde_json::to_string_pretty(&v)?)?;
            } else {
                let head = ok
                    .head
                    .as_ref()
                    .map_or("none (empty log)".to_string(), |h| {
                        format!("entry {} {}", h.seq, h.hash)
                    });
                let anchor = ok
                    .anchor
                    .as_ref()
                    .map_or("no anchor file yet".to_string(), |a| {
                        format!("anchor at entry {} matches", a.seq)
                    });
                printer.data(&format!(
                    "audit log intact: {} entries; head {head}; {anchor}",
                    ok.count
                ))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(broken) => {
            if json {
                let v = serde_json::json!({
                    "intact": false,
                    "seq": broken.seq,
                    "problem": broken.problem,
                    "message": broken.message,
                });
                printer.data(&serde_json::to_string_pretty(&v)?)?;
            } else {
                printer.data(&format!("audit log broken: {}", broken.message))?;
            }
            Ok(ExitCode::from(1))
        }
    }
}
