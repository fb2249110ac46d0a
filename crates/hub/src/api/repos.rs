//! Accounts and repository lifecycle: whoami, create, delete, move, settings.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Ctx, json_body};
use crate::audit;
use crate::auth;
use crate::db;
use crate::repo::{self, RepoKind};

pub(crate) async fn whoami(ctx: &Ctx) -> ApiResult {
    let c = ctx
        .caller
        .as_ref()
        .ok_or_else(|| ApiError::unauthorized("Authentication required: pass a token"))?;
    let orgs: Vec<Value> = auth::orgs_of(&ctx.app.db, c.user_id)
        .await?
        .into_iter()
        .map(|(name, fullname, role)| json!({"type": "org", "name": name, "fullname": fullname, "roleInOrg": role.as_str()}))
        .collect();
    Ok(axum::Json(json!({
        "type": "user",
        "id": c.user_id.to_string(),
        "name": c.name,
        "fullname": if c.fullname.is_empty() { &c.name } else { &c.fullname },
        "email": c.email,
        "emailVerified": c.email.is_some(),
        "isPro": false,
        "isAdmin": c.is_admin,
        "avatarUrl": "",
        "orgs": orgs,
        "auth": {"type": "access_token", "accessToken": {"displayName": c.token_name, "role": c.token_role.as_str()}},
    }))
    .into_response())
}

#[derive(Deserialize)]
struct CreateRepo {
    name: String,
    organization: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    private: Option<bool>,
    visibility: Option<String>,
}

fn kind_of(kind: Option<&str>) -> ApiResult<RepoKind> {
    match kind {
        None => Ok(RepoKind::Model),
        Some(k) => RepoKind::from_singular(k)
            .ok_or_else(|| ApiError::bad_request(format!("Unknown repository type {k:?}"))),
    }
}

/// Split `name` (which may be `ns/name`) and the organisation into a namespace and a name.
fn split_name(ctx: &Ctx, name: &str, organization: Option<&str>) -> ApiResult<(String, String)> {
    let (ns, name) = match (name.split_once('/'), organization) {
        (Some((ns, n)), _) => (ns.to_string(), n.to_string()),
        (None, Some(org)) if !org.is_empty() => (org.to_string(), name.to_string()),
        (None, _) => (ctx.require_caller()?.name.clone(), name.to_string()),
    };
    repo::check_name(&name).map_err(ApiError::bad_request)?;
    repo::check_name(&ns).map_err(ApiError::bad_request)?;
    Ok((ns, name))
}

pub(crate) async fn create(ctx: &Ctx, body: Body) -> ApiResult {
    let req: CreateRepo = json_body(body).await?;
    let caller = ctx.require_caller()?;
    let kind = kind_of(req.kind.as_deref())?;
    let (ns, name) = split_name(ctx, &req.name, req.organization.as_deref())?;
    let private = match req.visibility.as_deref() {
        Some("private") | Some("protected") => true,
        Some("public") => false,
        Some(v) => return Err(ApiError::bad_request(format!("Unknown visibility {v:?}"))),
        None => req.private.unwrap_or(false),
    };
    let Some((_, ns)) = auth::namespace(&ctx.app.db, &ns).await? else {
        return Err(ApiError::forbidden(format!(
            "The namespace {ns:?} does not exist, or you cannot create repositories in it"
        )));
    };
    let full = format!("{ns}/{name}");
    ctx.require_write(&ns, &full).await?;

    let gitattributes = ctx
        .app
        .store
        .put_bytes(bytes::Bytes::from_static(
            repo::DEFAULT_GITATTRIBUTES.as_bytes(),
        ))
        .await?;
    let mut tx = db::write(&ctx.app.db).await?;
    if let Some(existing) = repo::find_tx(&mut tx, kind, &ns, &name).await? {
        drop(tx);
        let visible = !existing.private
            || auth::role_on(&ctx.app.db, Some(caller), &existing.namespace)
                .await?
                .is_some();
        let url = ctx.repo_url(kind, &existing.full_name());
        let mut err =
            ApiError::conflict(format!("You already created this {} repo", kind.singular()));
        if visible {
            err = err.with_extra(json!({"url": url}));
        }
        return Err(err);
    }
    let (_, head) = repo::create(&mut tx, kind, &ns, &name, private, &gitattributes).await?;
    let audit_name = format!("{}/{full}", kind.plural());
    audit::record(
        &mut tx,
        &ctx.actor(),
        "repo.create",
        Some(&audit_name),
        json!({"private": private, "commit": head}),
    )
    .await?;
    tx.commit().await?;
    let url = ctx.repo_url(kind, &full);
    Ok(axum::Json(json!({"url": url, "name": full, "id": full})).into_response())
}

#[derive(Deserialize)]
struct DeleteRepo {
    name: String,
    organization: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

pub(crate) async fn delete(ctx: &Ctx, body: Body) -> ApiResult {
    let req: DeleteRepo = json_body(body).await?;
    let kind = kind_of(req.kind.as_deref())?;
    let (ns, name) = split_name(ctx, &req.name, req.organization.as_deref())?;
    let repo = ctx.writable(kind, &ns, &name).await?;
    ctx.require_org_admin(&repo.namespace, &format!("deleting {}", repo.full_name()))
        .await?;
    ctx.require_caller()?;
    let mut tx = db::write(&ctx.app.db).await?;
    sqlx::query("DELETE FROM repos WHERE id = ?")
        .bind(repo.id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        &ctx.actor(),
        "repo.delete",
        Some(&repo.audit_name()),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::OK.into_response())
}

#[derive(Deserialize)]
struct MoveRepo {
    #[serde(rename = "fromRepo")]
    from: String,
    #[serde(rename = "toRepo")]
    to: String,
    #[serde(rename = "type")]
    kind: Option<String>,
}

pub(crate) async fn move_repo(ctx: &Ctx, body: Body) -> ApiResult {
    let req: MoveRepo = json_body(body).await?;
    let kind = kind_of(req.kind.as_deref())?;
    let split = |s: &str| -> ApiResult<(String, String)> {
        let (ns, n) = s
            .split_once('/')
            .ok_or_else(|| ApiError::bad_request(format!("Expected namespace/name, got {s:?}")))?;
        repo::check_name(ns).map_err(ApiError::bad_request)?;
        repo::check_name(n).map_err(ApiError::bad_request)?;
        Ok((ns.to_string(), n.to_string()))
    };
    let (from_ns, from_name) = split(&req.from)?;
    let (to_ns, to_name) = split(&req.to)?;
    let repo = ctx.writable(kind, &from_ns, &from_name).await?;
    if !repo.namespace.eq_ignore_ascii_case(&to_ns) {
        ctx.require_org_admin(
            &repo.namespace,
            &format!("moving {} out of {}", repo.full_name(), repo.namespace),
        )
        .await?;
    }
    let Some((_, to_ns)) = auth::namespace(&ctx.app.db, &to_ns).await? else {
        return Err(ApiError::forbidden(format!(
            "The namespace {to_ns:?} does not exist"
        )));
    };
    ctx.require_write(&to_ns, &req.to).await?;
    ctx.require_caller()?;
    let mut tx = db::write(&ctx.app.db).await?;
    if repo::find_tx(&mut tx, kind, &to_ns, &to_name)
        .await?
        .is_some_and(|r| r.id != repo.id)
    {
        return Err(ApiError::conflict(format!(
            "A repository named {to_ns}/{to_name} already exists"
        )));
    }
    sqlx::query("UPDATE repos SET namespace = ?, name = ?, updated_at = ? WHERE id = ?")
        .bind(&to_ns)
        .bind(&to_name)
        .bind(db::now_ms())
        .bind(repo.id)
        .execute(&mut *tx)
        .await?;
    let to_full = format!("{}/{to_ns}/{to_name}", kind.plural());
    audit::record(
        &mut tx,
        &ctx.actor(),
        "repo.move",
        Some(&repo.audit_name()),
        json!({"to": to_full}),
    )
    .await?;
    tx.commit().await?;
    Ok(
        axum::Json(json!({"url": ctx.repo_url(kind, &format!("{to_ns}/{to_name}"))}))
            .into_response(),
    )
}

#[derive(Deserialize)]
struct Settings {
    private: Option<bool>,
    visibility: Option<String>,
    gated: Option<Value>,
}

pub(crate) async fn settings(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    body: Body,
) -> ApiResult<Response> {
    let repo = ctx.writable(kind, ns, name).await?;
    let req: Settings = json_body(body).await?;
    let private = match req.visibility.as_deref() {
        Some("private") | Some("protected") => Some(true),
        Some("public") => Some(false),
        Some(v) => return Err(ApiError::bad_request(format!("Unknown visibility {v:?}"))),
        None => req.private,
    };
    let gated = match &req.gated {
        None => None,
        Some(Value::Bool(false)) => Some("false"),
        Some(Value::String(s)) if s == "auto" => Some("auto"),
        Some(Value::String(s)) if s == "manual" => Some("manual"),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "gated must be false, \"auto\" or \"manual\", not {other}"
            )));
        }
    };
    ctx.require_caller()?;
    let mut tx = db::write(&ctx.app.db).await?;
    if let Some(p) = private {
        sqlx::query("UPDATE repos SET private = ? WHERE id = ?")
            .bind(p as i64)
            .bind(repo.id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(g) = gated {
        sqlx::query("UPDATE repos SET gated = ? WHERE id = ?")
            .bind(g)
            .bind(repo.id)
            .execute(&mut *tx)
            .await?;
    }
    // What changed, from and to: visibility and gating mode.
    let mut changes = serde_json::Map::new();
    if let Some(p) = private {
        let word = |p: bool| if p { "private" } else { "public" };
        changes.insert(
            "visibility".into(),
            json!({"from": word(repo.private), "to": word(p)}),
        );
    }
    if let Some(g) = gated {
        changes.insert("gated".into(), json!({"from": repo.gated, "to": g}));
    }
    audit::record(
        &mut tx,
        &ctx.actor(),
        "repo.settings",
        Some(&repo.audit_name()),
        Value::Object(changes),
    )
    .await?;
    tx.commit().await?;
    let private = private.unwrap_or(repo.private);
    let gated_now = gated.map(str::to_string).unwrap_or(repo.gated.clone());
    let gated_json = if gated_now == "false" {
        json!(false)
    } else {
        json!(gated_now)
    };
    Ok(axum::Json(json!({"private": private, "gated": gated_json})).into_response())
}

#[derive(Deserialize)]
struct DuplicateRepo {
    /// `namespace/name` of the copy.
    repository: String,
    visibility: Option<String>,
    private: Option<bool>,
}

/// `POST /api/{type}s/{repo}/duplicate` `{"repository", "visibility"?}`: a copy of a repository
/// with its whole history (every commit, branch and tag), as `HfApi.duplicate_repo` asks. The
/// copy is private when the source is, unless the request says otherwise. A gated repository can
/// only be duplicated by members of its namespace: a copy would otherwise carry its files past
/// the gate.
pub(crate) async fn duplicate(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    body: Body,
) -> ApiResult {
    let req: DuplicateRepo = json_body(body).await?;
    let src = ctx.readable(kind, ns, name).await?;
    let caller = ctx.require_caller()?;
    if super::gate::is_gated(&src)
        && auth::role_on(&ctx.app.db, Some(caller), &src.namespace)
            .await?
            .is_none()
    {
        return Err(ApiError::forbidden(format!(
            "{} is gated: only members of {} can duplicate it",
            src.full_name(),
            src.namespace
        )));
    }
    let (to_ns, to_name) = split_name(ctx, &req.repository, None)?;
    let private = match req.visibility.as_deref() {
        Some("private") | Some("protected") => true,
        Some("public") => false,
        Some(v) => return Err(ApiError::bad_request(format!("Unknown visibility {v:?}"))),
        None => req.private.unwrap_or(src.private),
    };
    let Some((_, to_ns)) = auth::namespace(&ctx.app.db, &to_ns).await? else {
        return Err(ApiError::forbidden(format!(
            "The namespace {to_ns:?} does not exist, or you cannot create repositories in it"
        )));
    };
    let full = format!("{to_ns}/{to_name}");
    ctx.require_write(&to_ns, &full).await?;
    let mut tx = db::write(&ctx.app.db).await?;
    if let Some(existing) = repo::find_tx(&mut tx, kind, &to_ns, &to_name).await? {
        drop(tx);
        return Err(ApiError::conflict(format!(
            "A {} repository named {full} already exists",
            kind.singular()
        ))
        .with_extra(json!({"url": ctx.repo_url(kind, &existing.full_name())})));
    }
    let id = repo::duplicate(&mut tx, &src, &to_ns, &to_name, private).await?;
    audit::record(
        &mut tx,
        &ctx.actor(),
        "repo.duplicate",
        Some(&format!("{}/{full}", kind.plural())),
        json!({"from": src.audit_name(), "private": private, "repo_id": id}),
    )
    .await?;
    tx.commit().await?;
    let url = ctx.repo_url(kind, &full);
    Ok(
        axum::Json(json!({"url": url, "name": full, "id": full, "filesCopyPending": false}))
            .into_response(),
    )
}

/// `GET /api/settings/repositories` (the caller's own repositories) and
/// `GET /api/organizations/{org}/settings/repositories` (an organisation's, for its members):
/// every repository of the namespace with its type, last update, visibility and the storage of
/// its default branch, as `HfApi.list_user_repos` and `hf repos ls` read them.
pub(crate) async fn namespace_repositories(ctx: &Ctx, org: Option<&str>) -> ApiResult {
    let caller = ctx.require_caller()?;
    let ns = match org {
        None => caller.name.clone(),
        Some(org) => {
            let Some((auth::Namespace::Org, ns)) = auth::namespace(&ctx.app.db, org).await? else {
                return Err(ApiError::not_found(format!(
                    "Organization {org:?} not found"
                )));
            };
            if auth::role_on(&ctx.app.db, Some(caller), &ns)
                .await?
                .is_none()
            {
                // Non-members see no more than they would of a missing organisation.
                return Err(ApiError::not_found(format!(
                    "Organization {org:?} not found"
                )));
            }
            ns
        }
    };
    let repos = repo::in_namespace(&ctx.app.db, &ns).await?;
    let mut items = Vec::with_capacity(repos.len());
    let mut total: u64 = 0;
    for (repo, updated) in repos {
        let storage = match super::read::at_rev(ctx, &repo, "main").await {
            Ok((_, snap)) => snap.total_size(),
            Err(_) => 0,
        };
        total += storage;
        items.push((repo, storage, updated));
    }
    let out: Vec<Value> = items
        .into_iter()
        .map(|(repo, storage, updated)| {
            json!({
                "id": repo.full_name(),
                "type": repo.kind.singular(),
                "updatedAt": db::iso_ms(updated),
                "visibility": if repo.private { "private" } else { "public" },
                "storage": storage,
                "storagePercent": if total == 0 { 0.0 } else { storage as f64 * 100.0 / total as f64 },
            })
        })
        .collect();
    Ok(axum::Json(out).into_response())
}
