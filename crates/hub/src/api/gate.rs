//! Gated repositories: the agreement of a repository (from the head of `main`), the access
//! requests of its users, and the rule that decides who may download which file.
//!
//! A grant counts only while the agreement it was given for is the current one: a changed
//! prompt, form or licence file needs a new request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::Row;
use weighhouse_card::MemFiles;
use weighhouse_card::gate::{self, Agreement, LICENSE_FILES};

use super::{ApiError, ApiResult, Ctx};
use crate::auth;
use crate::repo::{self, Repo};

/// Agreements by repository, name and head commit (a commit's files never change).
#[derive(Debug, Default)]
pub struct AgreementCache {
    map: Mutex<HashMap<(i64, String, String), Arc<Agreement>>>,
}

const CACHE_ENTRIES: usize = 256;

/// Largest card or licence file read into an agreement.
const MAX_TEXT: u64 = weighhouse_card::files::MAX_TEXT;

/// Whether a repository is gated.
pub(crate) fn is_gated(repo: &Repo) -> bool {
    repo.gated == "auto" || repo.gated == "manual"
}

/// The gating mode as the API spells it: `false`, `"auto"` or `"manual"`.
pub(crate) fn mode_json(repo: &Repo) -> serde_json::Value {
    if is_gated(repo) {
        serde_json::json!(repo.gated)
    } else {
        serde_json::json!(false)
    }
}

/// The agreement of `repo`: its card and licence file at the head of `main`.
pub(crate) async fn agreement(ctx: &Ctx, repo: &Repo) -> ApiResult<Arc<Agreement>> {
    let app = &ctx.app;
    let head = repo::resolve(&app.db, repo.id, "refs/heads/main")
        .await?
        .ok_or_else(|| ApiError::internal(format!("{} has no main branch", repo.full_name())))?;
    let key = (repo.id, repo.full_name(), head.clone());
    if let Some(a) = app.agreements.map.lock().expect("cache lock").get(&key) {
        return Ok(Arc::clone(a));
    }
    let snap = repo::snapshot(&app.db, &app.cache, repo.id, &head)
        .await?
        .ok_or_else(|| ApiError::internal(format!("commit {head} has no snapshot")))?;
    let mut files = MemFiles::new();
    let licence = LICENSE_FILES.iter().find(|f| snap.file(f).is_some());
    for path in std::iter::once(&"README.md").chain(licence) {
        match super::read::small_text(app, &snap, path, MAX_TEXT).await? {
            Some(text) => {
                files.add(path, text);
            }
            None => {
                if let Some(f) = snap.file(path) {
                    files.add_listed(path, f.size, None);
                }
            }
        }
    }
    let a = Arc::new(gate::agreement(&repo.full_name(), &files));
    let mut map = app.agreements.map.lock().expect("cache lock");
    if map.len() >= CACHE_ENTRIES {
        map.clear();
    }
    map.insert(key, Arc::clone(&a));
    Ok(a)
}

/// A user's access request to a repository.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub id: i64,
    pub status: String,
    pub agreement_sha256: Option<String>,
    pub fields: Option<String>,
    pub requested_at: i64,
    pub reviewed_at: Option<i64>,
    pub reviewer: Option<String>,
    pub rejection_reason: Option<String>,
}

pub(crate) const REQUEST_COLUMNS: &str =
    "id, status, agreement_sha256, fields, requested_at, reviewed_at, reviewer, rejection_reason";

pub(crate) fn request_from_row(r: &sqlx::sqlite::SqliteRow) -> Request {
    Request {
        id: r.get(0),
        status: r.get(1),
        agreement_sha256: r.get(2),
        fields: r.get(3),
        requested_at: r.get(4),
        reviewed_at: r.get(5),
        reviewer: r.get(6),
        rejection_reason: r.get(7),
    }
}

/// The request of a user, if any.
pub(crate) async fn request_of(
    ctx: &Ctx,
    repo_id: i64,
    user_id: i64,
) -> ApiResult<Option<Request>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {REQUEST_COLUMNS} FROM access_requests WHERE repo_id = ? AND user_id = ?"
    )))
    .bind(repo_id)
    .bind(user_id)
    .fetch_optional(&ctx.app.db)
    .await?;
    Ok(row.as_ref().map(request_from_row))
}

/// The status a user sees: `outdated` when their request or grant was for another agreement.
pub(crate) fn user_status(req: Option<&Request>, current: &str) -> &'static str {
    match req {
        None => "not-requested",
        Some(r) if r.agreement_sha256.as_deref() != Some(current) => "outdated",
        Some(r) => match r.status.as_str() {
            "accepted" => "accepted",
            "rejected" => "rejected",
            _ => "pending",
        },
    }
}

/// Why a file may be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The repository is not gated, or the file is readable in gated repositories.
    Open,
    /// The caller has a role on the repository's namespace.
    Member,
    /// The caller's request was accepted for the current agreement.
    Granted,
}

fn gated_error(status: axum::http::StatusCode, message: String) -> ApiError {
    ApiError {
        code: Some("GatedRepo"),
        ..ApiError::new(status, message)
    }
}

/// May the caller read `path` of `repo` (already known to be visible to them)? With no path,
/// the question is about the gated files in general (LFS downloads).
pub(crate) async fn check(ctx: &Ctx, repo: &Repo, path: Option<&str>) -> ApiResult<Access> {
    if !is_gated(repo) || path.is_some_and(gate::is_public_in_gated) {
        return Ok(Access::Open);
    }
    if auth::role_on(&ctx.app.db, ctx.caller.as_ref(), &repo.namespace)
        .await?
        .is_some()
    {
        return Ok(Access::Member);
    }
    let kind = repo.kind.singular();
    let full = repo.full_name();
    let Some(caller) = &ctx.caller else {
        return Err(gated_error(
            axum::http::StatusCode::UNAUTHORIZED,
            format!(
                "Access to {kind} {full} is restricted. You must have access to it and be authenticated to access it. Please log in."
            ),
        ));
    };
    let req = request_of(ctx, repo.id, caller.user_id).await?;
    let current = agreement(ctx, repo).await?;
    let status = user_status(req.as_ref(), &current.sha256);
    if status == "accepted" {
        return Ok(Access::Granted);
    }
    let url = ctx.repo_url(repo.kind, &full);
    // The body says why, for clients that read more than the Hub's headers.
    let mut extra = serde_json::json!({
        "gated": mode_json(repo),
        "status": status,
        "license": current.license,
        "agreement_sha256": current.sha256,
        "request_url": format!("{}/api/{}/{full}/gate", ctx.base, repo.kind.plural()),
    });
    if status == "rejected"
        && let Some(reason) = req.and_then(|r| r.rejection_reason)
    {
        extra["rejectionReason"] = serde_json::json!(reason);
    }
    Err(gated_error(
        axum::http::StatusCode::FORBIDDEN,
        format!(
            "Access to {kind} {full} is restricted and you are not in the authorized list. Visit {url} to ask for access."
        ),
    )
    .with_extra(extra))
}
