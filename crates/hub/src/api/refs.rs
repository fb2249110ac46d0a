//! Branches and tags: create and delete them, and squash a branch's history into one commit.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, ApiResult, Ctx, json_body};
use crate::audit;
use crate::db;
use crate::repo::{self, CommitInfo, Repo, RepoKind};

#[derive(Deserialize, Default)]
struct BranchReq {
    #[serde(rename = "startingPoint")]
    starting_point: Option<String>,
}

pub(crate) async fn create_branch(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    branch: &str,
    body: Body,
) -> ApiResult<Response> {
    let repo = ctx.writable(kind, ns, name).await?;
    let req: BranchReq = json_body(body).await?;
    let branch = branch.strip_prefix("refs/heads/").unwrap_or(branch);
    repo::check_ref_name(branch).map_err(ApiError::bad_request)?;
    let start = req.starting_point.as_deref().unwrap_or("main");
    let target = repo::resolve(&ctx.app.db, repo.id, start)
        .await?
        .ok_or_else(|| ApiError::revision_not_found(start))?;
    ctx.require_caller()?;
    let mut tx = db::write(&ctx.app.db).await?;
    let done = sqlx::query("INSERT OR IGNORE INTO refs (repo_id, name, target) VALUES (?, ?, ?)")
        .bind(repo.id)
        .bind(format!("refs/heads/{branch}"))
        .bind(&target)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if done == 0 {
        return Err(ApiError::conflict(format!(
            "Branch {branch:?} already exists"
        )));
    }
    audit::record(
        &mut tx,
        &ctx.actor(),
        "branch.create",
        Some(&repo.audit_name()),
        json!({"branch": branch, "commit": target}),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(json!({})).into_response())
}

pub(crate) async fn delete_branch(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    branch: &str,
) -> ApiResult<Response> {
    let repo = ctx.writable(kind, ns, name).await?;
    let branch = branch.strip_prefix("refs/heads/").unwrap_or(branch);
    if branch == "main" {
        return Err(ApiError::forbidden(
            "The default branch main cannot be deleted",
        ));
    }
    delete_ref(
        ctx,
        &repo,
        &format!("refs/heads/{branch}"),
        "branch.delete",
        branch,
    )
    .await
}

async fn delete_ref(
    ctx: &Ctx,
    repo: &Repo,
    full: &str,
    action: &str,
    short: &str,
) -> ApiResult<Response> {
    ctx.require_caller()?;
    let mut tx = db::write(&ctx.app.db).await?;
    let target: Option<String> =
        sqlx::query_scalar("DELETE FROM refs WHERE repo_id = ? AND name = ? RETURNING target")
            .bind(repo.id)
            .bind(full)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(target) = target else {
        return Err(ApiError::revision_not_found(short));
    };
    audit::record(
        &mut tx,
        &ctx.actor(),
        action,
        Some(&repo.audit_name()),
        json!({"ref": short, "commit": target}),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(json!({})).into_response())
}

pub(crate) async fn create_tag(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    rev: &str,
    body: Body,
) -> ApiResult<Response> {
    #[derive(Deserialize)]
    struct Req {
        tag: String,
        message: Option<String>,
    }
    let repo = ctx.writable(kind, ns, name).await?;
    let req: Req = json_body(body).await?;
    repo::check_ref_name(&req.tag).map_err(ApiError::bad_request)?;
    let target = repo::resolve(&ctx.app.db, repo.id, rev)
        .await?
        .ok_or_else(|| ApiError::revision_not_found(rev))?;
    ctx.require_caller()?;
    let mut tx = db::write(&ctx.app.db).await?;
    let done = sqlx::query(
        "INSERT OR IGNORE INTO refs (repo_id, name, target, message) VALUES (?, ?, ?, ?)",
    )
    .bind(repo.id)
    .bind(format!("refs/tags/{}", req.tag))
    .bind(&target)
    .bind(&req.message)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(ApiError::conflict(format!(
            "Tag {:?} already exists",
            req.tag
        )));
    }
    audit::record(
        &mut tx,
        &ctx.actor(),
        "tag.create",
        Some(&repo.audit_name()),
        json!({"tag": req.tag, "commit": target}),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(json!({})).into_response())
}

pub(crate) async fn delete_tag(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    tag: &str,
) -> ApiResult<Response> {
    let repo = ctx.writable(kind, ns, name).await?;
    let tag = tag.strip_prefix("refs/tags/").unwrap_or(tag);
    delete_ref(ctx, &repo, &format!("refs/tags/{tag}"), "tag.delete", tag).await
}

/// `POST /api/{type}s/{repo}/super-squash/{branch}` `{"message"}`: the branch keeps its files and
/// loses its history, as `HfApi.super_squash_history` asks.
pub(crate) async fn super_squash(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    branch: &str,
    body: Body,
) -> ApiResult<Response> {
    #[derive(Deserialize, Default)]
    struct Req {
        message: Option<String>,
    }
    let repo = ctx.writable(kind, ns, name).await?;
    let req: Req = json_body(body).await?;
    let branch = branch.strip_prefix("refs/heads/").unwrap_or(branch);
    let caller = ctx.require_caller()?;
    let title = req
        .message
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| format!("Super-squash branch '{branch}'"));
    let info = CommitInfo {
        author: caller.name.clone(),
        email: caller
            .email
            .clone()
            .unwrap_or_else(|| format!("{}@users.noreply.weighhouse.invalid", caller.name)),
        title,
        description: String::new(),
        parent: None,
    };
    let c = repo::squash_branch(
        &ctx.app.db,
        &ctx.app.cache,
        &repo,
        branch,
        &info,
        &ctx.actor(),
    )
    .await?;
    Ok(axum::Json(json!({"commitOid": c.oid})).into_response())
}
