//! Users and organisations as other users see them: overviews, an organisation's members, and a
//! repository's LFS objects; plus the clear refusals for the parts of the Hub API this hub does
//! not serve.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use sqlx::Row;

use super::users::{display_name, user_json};
use super::{ApiError, ApiResult, Ctx};
use crate::auth::{self, Namespace};
use crate::db;
use crate::repo::{self, RepoKind};

/// How many repositories of each kind `ns` has that the caller may see.
async fn repo_counts(ctx: &Ctx, ns: &str) -> ApiResult<(i64, i64, i64)> {
    let member = auth::role_on(&ctx.app.db, ctx.caller.as_ref(), ns)
        .await?
        .is_some();
    let rows = sqlx::query(
        "SELECT kind, COUNT(*) FROM repos WHERE namespace = ? AND (private = 0 OR ?) GROUP BY kind",
    )
    .bind(ns)
    .bind(member)
    .fetch_all(&ctx.app.db)
    .await?;
    let mut counts = (0, 0, 0);
    for r in rows {
        let n: i64 = r.get(1);
        match r.get::<String, _>(0).as_str() {
            "model" => counts.0 = n,
            "dataset" => counts.1 = n,
            "space" => counts.2 = n,
            _ => {}
        }
    }
    Ok(counts)
}

/// `GET /api/users/{user}/overview`.
pub(crate) async fn user_overview(ctx: &Ctx, user: &str) -> ApiResult {
    let row = sqlx::query("SELECT id, name, fullname, created_at FROM users WHERE name = ?")
        .bind(user)
        .fetch_optional(&ctx.app.db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("User {user:?} not found")))?;
    let id: i64 = row.get(0);
    let name: String = row.get(1);
    let fullname: String = row.get(2);
    let (models, datasets, spaces) = repo_counts(ctx, &name).await?;
    let likes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM likes WHERE user_id = ?")
        .bind(id)
        .fetch_one(&ctx.app.db)
        .await?;
    let orgs: Vec<Value> = auth::orgs_of(&ctx.app.db, id)
        .await?
        .into_iter()
        .map(|(name, fullname, _)| json!({"name": name, "fullname": fullname, "avatarUrl": ""}))
        .collect();
    Ok(axum::Json(json!({
        "type": "user",
        "user": name,
        "fullname": display_name(&name, fullname),
        "avatarUrl": "",
        "isPro": false,
        "createdAt": db::iso_ms(row.get(3)),
        "numModels": models,
        "numDatasets": datasets,
        "numSpaces": spaces,
        "numLikes": likes,
        "orgs": orgs,
    }))
    .into_response())
}

/// The canonical name of organisation `org`, or 404.
async fn org_name(ctx: &Ctx, org: &str) -> ApiResult<String> {
    match auth::namespace(&ctx.app.db, org).await? {
        Some((Namespace::Org, name)) => Ok(name),
        _ => Err(ApiError::not_found(format!(
            "Organization {org:?} not found"
        ))),
    }
}

/// `GET /api/organizations/{org}/overview`.
pub(crate) async fn org_overview(ctx: &Ctx, org: &str) -> ApiResult {
    let name = org_name(ctx, org).await?;
    let row = sqlx::query(
        "SELECT o.fullname, (SELECT COUNT(*) FROM members m WHERE m.org_id = o.id)
         FROM orgs o WHERE o.name = ?",
    )
    .bind(&name)
    .fetch_one(&ctx.app.db)
    .await?;
    let fullname: String = row.get(0);
    let (models, datasets, spaces) = repo_counts(ctx, &name).await?;
    Ok(axum::Json(json!({
        "type": "org",
        "name": name,
        "fullname": display_name(&name, fullname),
        "avatarUrl": "",
        "isVerified": false,
        "numUsers": row.get::<i64, _>(1),
        "numModels": models,
        "numDatasets": datasets,
        "numSpaces": spaces,
    }))
    .into_response())
}

/// `GET /api/organizations/{org}/members`.
pub(crate) async fn org_members(ctx: &Ctx, org: &str) -> ApiResult {
    let name = org_name(ctx, org).await?;
    let rows = sqlx::query(
        "SELECT u.name, u.fullname, m.role FROM members m JOIN orgs o ON o.id = m.org_id
         JOIN users u ON u.id = m.user_id WHERE o.name = ? ORDER BY u.name",
    )
    .bind(&name)
    .fetch_all(&ctx.app.db)
    .await?;
    let members: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut user = user_json(r.get(0), r.get(1));
            user["role"] = json!(r.get::<String, _>(2));
            user
        })
        .collect();
    Ok(axum::Json(members).into_response())
}

/// `GET /api/{type}s/{repo}/lfs-files`: every LFS object the history references, once each.
pub(crate) async fn lfs_files(ctx: &Ctx, kind: RepoKind, ns: &str, name: &str) -> ApiResult {
    let repo = ctx.readable(kind, ns, name).await?;
    super::gate::check(ctx, &repo, None).await?;
    let files = repo::lfs_objects(&ctx.app.db, &ctx.app.cache, repo.id).await?;
    let out: Vec<Value> = files
        .into_iter()
        .map(|(f, time)| {
            json!({
                "fileOid": f.sha256,
                "oid": f.oid,
                "filename": f.path,
                "size": f.size,
                "pushedAt": db::iso_ms(time * 1000),
            })
        })
        .collect();
    Ok(axum::Json(out).into_response())
}

/// What this hub answers for a part of the Hub API it does not serve, or `None` for paths that
/// are simply unknown. Clients show the message (`X-Error-Message`) to the user.
pub(crate) fn unsupported(segs: &[&str]) -> Option<&'static str> {
    let feature = match segs {
        ["api", _, _, _, "discussions", ..] => {
            "Discussions and pull requests are not supported by this hub yet"
        }
        ["api", _, _, _, "lfs-files", "batch"] => {
            "Permanently deleting LFS files is not supported by this hub: history is kept"
        }
        ["api", _, _, _, "lfs-files", "duplicate"] => {
            "Copying LFS files between repositories needs Xet, which this hub does not support; copy the files through a download and an upload"
        }
        ["api", "models", _, _, "safetensors-metadata", ..] => {
            "Sharded safetensors metadata is not served by this hub: read each shard's header with a ranged GET of /resolve"
        }
        ["api", "spaces", _, _, feature, ..]
            if matches!(
                *feature,
                "runtime"
                    | "secrets"
                    | "variables"
                    | "hardware"
                    | "restart"
                    | "pause"
                    | "sleeptime"
                    | "volumes"
                    | "logs"
                    | "dev-mode"
            ) =>
        {
            "Spaces are stored on this hub but never run: there is no runtime, hardware, secrets or logs"
        }
        [
            "api",
            "spaces",
            "templates" | "hardware" | "semantic-search",
            ..,
        ] => "Spaces are stored on this hub but never run",
        [
            "api",
            "users" | "organizations",
            _,
            "followers" | "following",
        ] => "Following users and organisations is not supported by this hub",
        ["api", "collections", ..] => "Collections are not supported by this hub yet",
        ["api", "jobs" | "scheduled-jobs", ..] => "Jobs are not supported by this hub",
        ["api", "settings", "webhooks", ..] => "Webhooks are not supported by this hub yet",
        ["api", "buckets", ..] => "Storage buckets are not supported by this hub",
        [
            "api",
            "inference-endpoints" | "inference-proxy" | "inference",
            ..,
        ] => "Inference is not part of this hub",
        ["api", "papers" | "daily_papers", ..] => "Papers are not part of this hub",
        ["api", "kernels", ..] => "Kernel repositories are not supported by this hub",
        ["api", "models-tags-by-type" | "datasets-tags-by-type"] => {
            "Tag catalogues are not served by this hub"
        }
        ["api", "datasets", _, _, "leaderboard"] => "Leaderboards are not part of this hub",
        _ => return None,
    };
    Some(feature)
}

/// The 501 answer for an unsupported part of the API.
pub(crate) fn not_implemented(message: &'static str) -> ApiError {
    ApiError::new(StatusCode::NOT_IMPLEMENTED, message)
}
