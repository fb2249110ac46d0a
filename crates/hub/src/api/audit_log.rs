//! `GET /api/admin/audit`: the audit log as NDJSON for site administrators; each export is
//! itself logged.

use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use serde_json::json;

use super::{ApiError, ApiResult, Ctx};
use crate::audit::{self, canonical_json};
use crate::db;

/// Entries per export unless `limit` says otherwise, and the most it may say.
const DEFAULT_LIMIT: i64 = 1000;
const MAX_LIMIT: i64 = 100_000;

pub(crate) async fn export(ctx: &Ctx) -> ApiResult {
    let caller = ctx.require_caller()?;
    if !caller.is_admin {
        return Err(ApiError::forbidden(
            "Only site administrators may export the audit log",
        ));
    }
    let number = |key: &str, default: i64| -> ApiResult<i64> {
        match ctx.q(key) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("{key} must be an integer, not {v:?}"))),
        }
    };
    let q = audit::Query {
        since: number("since", 0)?,
        limit: number("limit", DEFAULT_LIMIT)?.clamp(1, MAX_LIMIT),
        event: ctx.q("event").filter(|e| !e.is_empty()).map(str::to_string),
        personal: ctx.q_bool("personal"),
    };
    let entries = audit::export(&ctx.app.db, &q).await?;
    let mut body = String::new();
    for e in &entries {
        body.push_str(&canonical_json(e));
        body.push('\n');
    }
    let mut tx = db::write(&ctx.app.db).await?;
    audit::record(
        &mut tx,
        &ctx.actor(),
        "audit.export",
        None,
        json!({
            "since": q.since,
            "limit": q.limit,
            "event": q.event,
            "personal": q.personal,
            "count": entries.len(),
            "last": entries.last().map(|e| e["seq"].clone()),
        }),
    )
    .await?;
    tx.commit().await?;
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(resp)
}
