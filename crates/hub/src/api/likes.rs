//! Likes: a user likes or unlikes a repository; the Hub's `list_repo_likers` and
//! `list_liked_repos` read them back. Only repositories the caller may see are ever listed.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sqlx::Row;

use super::{ApiError, ApiResult, Ctx};
use crate::db;
use crate::repo::RepoKind;

/// Entries per page of the like listings (`Link: <…>; rel="next"` beyond).
const PAGE: usize = 1000;

/// `POST` (like) or `DELETE` (unlike) `/api/{type}s/{repo}/like`.
pub(crate) async fn set(ctx: &Ctx, kind: RepoKind, ns: &str, name: &str, like: bool) -> ApiResult {
    let repo = ctx.readable(kind, ns, name).await?;
    let caller = ctx.require_caller()?;
    let mut tx = db::write(&ctx.app.db).await?;
    if like {
        sqlx::query("INSERT OR IGNORE INTO likes (repo_id, user_id, created_at) VALUES (?, ?, ?)")
            .bind(repo.id)
            .bind(caller.user_id)
            .bind(db::now_ms())
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query("DELETE FROM likes WHERE repo_id = ? AND user_id = ?")
            .bind(repo.id)
            .bind(caller.user_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(axum::Json(json!({})).into_response())
}

/// `GET /api/{type}s/{repo}/likers`: who likes a repository, newest first.
pub(crate) async fn likers(ctx: &Ctx, kind: RepoKind, ns: &str, name: &str) -> ApiResult {
    let repo = ctx.readable(kind, ns, name).await?;
    let offset = cursor(ctx);
    let rows = sqlx::query(
        "SELECT u.name, u.fullname FROM likes l JOIN users u ON u.id = l.user_id
         WHERE l.repo_id = ? ORDER BY l.created_at DESC, u.id LIMIT ? OFFSET ?",
    )
    .bind(repo.id)
    .bind((PAGE + 1) as i64)
    .bind(offset as i64)
    .fetch_all(&ctx.app.db)
    .await?;
    let items: Vec<Value> = rows
        .iter()
        .take(PAGE)
        .map(|r| super::users::user_json(r.get(0), r.get(1)))
        .collect();
    Ok(paged(ctx, items, rows.len() > PAGE, offset))
}

/// `GET /api/users/{user}/likes`: the repositories a user likes, newest first, as far as the
/// caller may see them.
pub(crate) async fn liked_by(ctx: &Ctx, user: &str) -> ApiResult {
    let user_id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE name = ?")
        .bind(user)
        .fetch_optional(&ctx.app.db)
        .await?;
    let Some(user_id) = user_id else {
        return Err(ApiError::not_found(format!("User {user:?} not found")));
    };
    let rows = sqlx::query(
        "SELECT r.kind, r.namespace, r.name, r.private, l.created_at
         FROM likes l JOIN repos r ON r.id = l.repo_id
         WHERE l.user_id = ? ORDER BY l.created_at DESC, r.id",
    )
    .bind(user_id)
    .fetch_all(&ctx.app.db)
    .await?;
    let offset = cursor(ctx);
    let mut items = Vec::new();
    let mut seen = 0usize;
    let mut more = false;
    for r in rows {
        let ns: String = r.get(1);
        if r.get::<i64, _>(3) != 0
            && crate::auth::role_on(&ctx.app.db, ctx.caller.as_ref(), &ns)
                .await?
                .is_none()
        {
            continue;
        }
        seen += 1;
        if seen <= offset {
            continue;
        }
        if items.len() == PAGE {
            more = true;
            break;
        }
        let kind: String = r.get(0);
        let name: String = r.get(2);
        items.push(json!({
            "createdAt": db::iso_ms(r.get(4)),
            "repo": {"name": format!("{ns}/{name}"), "type": kind},
        }));
    }
    Ok(paged(ctx, items, more, offset))
}

/// How many users like a repository.
pub(crate) async fn count(db: &db::Db, repo_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM likes WHERE repo_id = ?")
        .bind(repo_id)
        .fetch_one(db)
        .await
}

fn cursor(ctx: &Ctx) -> usize {
    ctx.q("cursor").and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// A JSON array, with a `Link` to the next page when there is one.
fn paged(ctx: &Ctx, items: Vec<Value>, more: bool, offset: usize) -> Response {
    let n = items.len();
    let mut resp = axum::Json(items).into_response();
    if more {
        let path = ctx.path.clone();
        let url = format!("{}{path}?cursor={}", ctx.base, offset + n);
        if let Ok(v) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    resp
}
