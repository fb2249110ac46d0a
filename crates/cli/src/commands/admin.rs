//! `wh admin`: users, tokens, organisations and the audit log, straight on the data folder.

use std::process::ExitCode;

use anyhow::Context;
use weighhouse_hub::admin;
use weighhouse_hub::auth::Role;

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
    match args.command {
        AdminCommand::User(UserCommand::Create { name, admin }) => {
            let token = admin::create_user(&db, &name, admin)
                .await
                .map_err(user_err)?;
            printer.note(&format!(
                "Created user {name}. Its token is shown once; keep it:"
            ));
            printer.data(&token)?;
        }
        AdminCommand::Token(TokenCommand::Create {
            user,
            role: r,
            label,
        }) => {
            let token = admin::create_token(&db, &user, role(r), &label)
                .await
                .map_err(user_err)?;
            printer.note(&format!(
                "Created a {} token for {user}. It is shown once; keep it:",
                role(r)
            ));
            printer.data(&token)?;
        }
        AdminCommand::Token(TokenCommand::Revoke { id }) => {
            admin::revoke_token(&db, id).await.map_err(user_err)?;
            printer.note(&format!("Revoked token {id}"));
        }
        AdminCommand::Org(OrgCommand::Create { name }) => {
            admin::create_org(&db, &name).await.map_err(user_err)?;
            printer.note(&format!("Created organisation {name}"));
        }
        AdminCommand::Org(OrgCommand::AddMember { org, user, role: r }) => {
            admin::add_member(&db, &org, &user, role(r))
                .await
                .map_err(user_err)?;
            printer.note(&format!(
                "{user} is now a member of {org} with the {} role",
                role(r)
            ));
        }
        AdminCommand::Audit(AuditCommand::List { json, since, limit }) => {
            let entries = admin::audit_list(&db, since, limit.unwrap_or(i64::MAX)).await?;
            if json {
                printer.data(&serde_json::to_string_pretty(&entries)?)?;
            } else {
                for e in &entries {
                    let s = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("-").to_string();
                    let token = e
                        .get("token")
                        .and_then(|v| v.as_i64())
                        .map_or("-".to_string(), |t| format!("token {t}"));
                    printer.data(&format!(
                        "{:>6}  {}  {:<12} {:<10} {:<16} {:<32} {}",
                        e["id"],
                        s("at"),
                        s("user"),
                        token,
                        s("action"),
                        s("repo"),
                        e["detail"]
                    ))?;
                }
            }
        }
        AdminCommand::Audit(AuditCommand::Verify) => match admin::audit_verify(&db).await? {
            Ok(n) => printer.data(&format!("audit log intact: {n} entries"))?,
            Err(id) => {
                printer.data(&format!(
                    "audit log altered: entry {id} does not match the chain"
                ))?;
                return Ok(ExitCode::from(1));
            }
        },
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}
