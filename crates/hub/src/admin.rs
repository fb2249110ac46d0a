//! Account management from the command line (`wh admin`), on a data folder, whether or not a
//! hub is running on it: the database serialises writers.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::audit::{self, Actor, Broken, Head, Intact, Problem};
use crate::auth::{self, Role};
use crate::db::{self, Db};

/// Who the audit log names for command-line changes.
fn cli_actor() -> Actor {
    Actor::default()
}

/// Open (creating if needed) the database of a data folder.
pub async fn open(data: &Path) -> anyhow::Result<Db> {
    crate::create_data_dir(data)?;
    crate::open_db(&crate::db_path(data)).await
}

async fn user_id(db: &Db, name: &str) -> anyhow::Result<i64> {
    sqlx::query_scalar("SELECT id FROM users WHERE name = ?")
        .bind(name)
        .fetch_optional(db)
        .await?
        .with_context(|| format!("no user named {name:?}"))
}

/// Create a user with a first token (role `write`, or `admin` for site admins); returns it.
pub async fn create_user(db: &Db, name: &str, admin: bool) -> anyhow::Result<String> {
    let mut tx = db::write(db).await?;
    let id = auth::create_user(&mut tx, name, admin).await?;
    let role = if admin { Role::Admin } else { Role::Write };
    let (token_id, token) = auth::create_token(&mut tx, id, "initial", role).await?;
    audit::record(
        &mut tx,
        &cli_actor(),
        "user.create",
        None,
        json!({"user": name, "admin": admin, "token": token_id, "role": role}),
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Create a token for a user; returns it.
pub async fn create_token(
    db: &Db,
    user: &str,
    role: Role,
    token_name: &str,
) -> anyhow::Result<String> {
    let id = user_id(db, user).await?;
    let mut tx = db::write(db).await?;
    let (token_id, token) = auth::create_token(&mut tx, id, token_name, role).await?;
    audit::record(
        &mut tx,
        &cli_actor(),
        "token.create",
        None,
        json!({"user": user, "token": token_id, "name": token_name, "role": role}),
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Revoke a token by id.
pub async fn revoke_token(db: &Db, token_id: i64) -> anyhow::Result<()> {
    let mut tx = db::write(db).await?;
    let n = sqlx::query("UPDATE tokens SET revoked = 1 WHERE id = ? AND revoked = 0")
        .bind(token_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        bail!("no active token with id {token_id}");
    }
    audit::record(
        &mut tx,
        &cli_actor(),
        "token.revoke",
        None,
        json!({"token": token_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Create an organisation.
pub async fn create_org(db: &Db, name: &str) -> anyhow::Result<()> {
    auth::check_account_name(name).map_err(anyhow::Error::msg)?;
    let mut tx = db::write(db).await?;
    let taken: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM users WHERE name = ? UNION SELECT 1 FROM orgs WHERE name = ?",
    )
    .bind(name)
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    if taken.is_some() {
        bail!("the name {name:?} is already taken by a user or an organisation");
    }
    sqlx::query("INSERT INTO orgs (name, created_at) VALUES (?, ?)")
        .bind(name)
        .bind(db::now_ms())
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        &cli_actor(),
        "org.create",
        None,
        json!({"org": name}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Add a user to an organisation, or change their role.
pub async fn add_member(db: &Db, org: &str, user: &str, role: Role) -> anyhow::Result<()> {
    let uid = user_id(db, user).await?;
    let oid: i64 = sqlx::query_scalar("SELECT id FROM orgs WHERE name = ?")
        .bind(org)
        .fetch_optional(db)
        .await?
        .with_context(|| format!("no organisation named {org:?}"))?;
    let mut tx = db::write(db).await?;
    let before: Option<String> =
        sqlx::query_scalar("SELECT role FROM members WHERE org_id = ? AND user_id = ?")
            .bind(oid)
            .bind(uid)
            .fetch_optional(&mut *tx)
            .await?;
    sqlx::query("INSERT INTO members (org_id, user_id, role) VALUES (?, ?, ?) ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role")
        .bind(oid)
        .bind(uid)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
    let (event, data) = match before {
        None => (
            "member.add",
            json!({"org": org, "user": user, "role": role}),
        ),
        Some(from) => (
            "member.role.change",
            json!({"org": org, "user": user, "from": from, "to": role}),
        ),
    };
    audit::record(&mut tx, &cli_actor(), event, None, data).await?;
    tx.commit().await?;
    Ok(())
}

/// Audit entries, oldest first.
pub async fn audit_list(db: &Db, since: i64, limit: i64) -> anyhow::Result<Vec<Value>> {
    Ok(audit::list(db, since, limit).await?)
}

/// Check the audit chain of a data folder against its anchor (`audit.head`).
pub async fn audit_verify(db: &Db, data: &Path) -> anyhow::Result<Result<Intact, Broken>> {
    // The anchor first: it names an entry committed before the walk starts.
    let anchor = match audit::read_anchor(data) {
        Ok(a) => a,
        Err(message) => {
            return Ok(Err(Broken {
                seq: 0,
                problem: Problem::Anchor,
                message,
            }));
        }
    };
    Ok(audit::verify(db, anchor.as_ref()).await?)
}

/// Erase the personal data (addresses, form answers, e-mail) of the audit entries a user did or
/// that are about them; the chain stays valid. Returns how many entries held some.
pub async fn audit_erase(db: &Db, user: &str) -> anyhow::Result<u64> {
    let mut tx = db::write(db).await?;
    let n = audit::erase_user(&mut tx, user).await?;
    audit::record(
        &mut tx,
        &cli_actor(),
        "audit.erase",
        None,
        json!({"user": user, "entries": n}),
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}

/// Write the latest audit entry to the data folder's anchor file (`audit.head`).
pub async fn write_anchor(db: &Db, data: &Path) -> anyhow::Result<Option<Head>> {
    audit::write_anchor(db, data).await
}
