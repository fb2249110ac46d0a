//! Access to gated repositories: a user reads the agreement (`/gate`) and asks for access
//! (`/ask-access`); the repository's writers list, accept, reject, cancel and grant requests with
//! the Hugging Face Hub's `user-access-request` API.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sqlx::Row;

use super::gate::{self, Request};
use super::{ApiError, ApiResult, Ctx, json_body};
use crate::audit::{self, canonical_json, sha256_hex};
use crate::db;
use crate::repo::{Repo, RepoKind};

/// Longest rejection reason, as on the Hub.
const MAX_REASON: usize = 200;

/// `GET /api/{type}s/{ns}/{name}/gate`: the gating mode, the agreement, and the caller's status.
pub(crate) async fn gate_info(ctx: &Ctx, kind: RepoKind, ns: &str, name: &str) -> ApiResult {
    let repo = ctx.readable(kind, ns, name).await?;
    let agreement = gate::agreement(ctx, &repo).await?;
    let req = match &ctx.caller {
        Some(c) => gate::request_of(ctx, repo.id, c.user_id).await?,
        None => None,
    };
    let status = gate::user_status(req.as_ref(), &agreement.sha256);
    let access = match gate::check(ctx, &repo, None).await {
        Ok(_) => true,
        Err(e) if e.code == Some("GatedRepo") => false,
        Err(e) => return Err(e),
    };
    let mut v = json!({
        "repo": repo.full_name(),
        "gated": gate::mode_json(&repo),
        "agreement": &*agreement,
        "status": status,
        "access": access,
    });
    if let Some(r) = &req {
        v["requestedAt"] = json!(db::iso_ms(r.requested_at));
        if let Some(t) = r.reviewed_at {
            v["reviewedAt"] = json!(db::iso_ms(t));
        }
        if status == "rejected"
            && let Some(reason) = &r.rejection_reason
        {
            v["rejectionReason"] = json!(reason);
        }
    }
    Ok(axum::Json(v).into_response())
}

#[derive(Deserialize)]
struct AskAccess {
    #[serde(alias = "agreementSha256")]
    agreement_sha256: Option<String>,
    #[serde(default)]
    fields: Map<String, Value>,
}

/// `POST /api/{type}s/{ns}/{name}/ask-access`: accept the current agreement and ask for access.
pub(crate) async fn ask_access(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    body: Body,
) -> ApiResult {
    let caller = ctx
        .require_caller()
        .map_err(|_| ApiError::unauthorized("Log in to ask for access: pass a token"))?
        .clone();
    let repo = ctx.readable(kind, ns, name).await?;
    let req: AskAccess = json_body(body).await?;
    if !gate::is_gated(&repo) {
        return Err(ApiError::bad_request(format!(
            "{} is not gated: its files can be downloaded without asking",
            repo.full_name()
        )));
    }
    let agreement = gate::agreement(ctx, &repo).await?;
    let Some(accepted) = req.agreement_sha256 else {
        return Err(ApiError::bad_request(
            "agreement_sha256 is required: the SHA-256 of the agreement you accept, as GET .../gate shows it",
        ));
    };
    if !accepted.eq_ignore_ascii_case(&agreement.sha256) {
        return Err(ApiError::conflict(format!(
            "The agreement of {} has changed (its SHA-256 is now {}, not {accepted}): read it again (GET {}/api/{}/{}/gate) and accept the current text",
            repo.full_name(),
            agreement.sha256,
            ctx.base,
            kind.plural(),
            repo.full_name()
        )));
    }
    let answers = weighhouse_card::gate::check_answers(&agreement.fields, &req.fields)
        .map_err(|e| ApiError::bad_request(format!("Invalid form answers: {e}")))?;
    let answers_json = canonical_json(&Value::Object(answers.clone()));

    let mut tx = db::write(&ctx.app.db).await?;
    let existing = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM access_requests WHERE repo_id = ? AND user_id = ?",
        gate::REQUEST_COLUMNS
    )))
    .bind(repo.id)
    .bind(caller.user_id)
    .fetch_optional(&mut *tx)
    .await?
    .as_ref()
    .map(gate::request_from_row);
    if let Some(r) = &existing
        && r.agreement_sha256.as_deref() == Some(agreement.sha256.as_str())
    {
        match r.status.as_str() {
            "rejected" => {
                let why = r
                    .rejection_reason
                    .as_deref()
                    .map(|w| format!(" (reason: {w})"))
                    .unwrap_or_default();
                return Err(ApiError::forbidden(format!(
                    "Your request for access to {} was rejected{why}; you can ask again once its agreement changes",
                    repo.full_name()
                )));
            }
            status => {
                return Ok(axum::Json(
                    json!({"status": status, "agreement_sha256": agreement.sha256}),
                )
                .into_response());
            }
        }
    }
    let auto = repo.gated == "auto";
    let status = if auto { "accepted" } else { "pending" };
    let now = db::now_ms();
    sqlx::query(
        "INSERT INTO access_requests (repo_id, user_id, status, agreement_sha256, fields, requested_at, reviewed_at, reviewer, rejection_reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)
         ON CONFLICT (repo_id, user_id) DO UPDATE SET status = excluded.status,
            agreement_sha256 = excluded.agreement_sha256, fields = excluded.fields,
            requested_at = excluded.requested_at, reviewed_at = excluded.reviewed_at,
            reviewer = NULL, rejection_reason = NULL",
    )
    .bind(repo.id)
    .bind(caller.user_id)
    .bind(status)
    .bind(&agreement.sha256)
    .bind(&answers_json)
    .bind(now)
    .bind(auto.then_some(now))
    .execute(&mut *tx)
    .await?;
    let actor = ctx.actor();
    let mut personal = Map::new();
    personal.insert("answers".into(), Value::Object(answers));
    if let Some(email) = &caller.email {
        personal.insert("email".into(), json!(email));
    }
    audit::record_with(
        &mut tx,
        &actor,
        "access.request",
        json!({"repo": repo.audit_name()}),
        json!({
            "user": caller.name,
            "agreement_sha256": agreement.sha256,
            "fields_sha256": sha256_hex(&answers_json),
            "mode": repo.gated,
            "status": status,
        }),
        personal,
    )
    .await?;
    if auto {
        audit::record(
            &mut tx,
            &actor,
            "access.accept",
            Some(&repo.audit_name()),
            json!({"user": caller.name, "agreement_sha256": agreement.sha256, "auto": true}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(axum::Json(json!({"status": status, "agreement_sha256": agreement.sha256})).into_response())
}

fn request_json(r: &Request, user: &str, fullname: &str, email: Option<String>) -> Value {
    let mut v = json!({
        "user": {"user": user, "fullname": if fullname.is_empty() { user } else { fullname }, "email": email},
        "requestId": r.id.to_string(),
        "status": r.status,
        "timestamp": db::iso_ms(r.requested_at),
        "agreementSha256": r.agreement_sha256,
    });
    if let Some(f) = r
        .fields
        .as_deref()
        .and_then(|f| serde_json::from_str::<Value>(f).ok())
        && f.as_object().is_some_and(|o| !o.is_empty())
    {
        v["fields"] = f;
    }
    if let Some(t) = r.reviewed_at {
        v["reviewedAt"] = json!(db::iso_ms(t));
    }
    if let Some(who) = &r.reviewer {
        v["reviewer"] = json!(who);
    }
    if let Some(reason) = &r.rejection_reason {
        v["rejectionReason"] = json!(reason);
    }
    v
}

/// `GET /api/{type}s/{repo}/user-access-request/{pending|accepted|rejected}`.
pub(crate) async fn list(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    status: &str,
) -> ApiResult {
    let repo = ctx.writable(kind, ns, name).await?;
    if !matches!(status, "pending" | "accepted" | "rejected") {
        return Err(ApiError::not_found(format!(
            "No such list of access requests: {status:?} (pending, accepted or rejected)"
        )));
    }
    let rows = sqlx::query(
        "SELECT a.id, a.status, a.agreement_sha256, a.fields, a.requested_at, a.reviewed_at,
                a.reviewer, a.rejection_reason, u.name, u.fullname, u.email
         FROM access_requests a JOIN users u ON u.id = a.user_id
         WHERE a.repo_id = ? AND a.status = ? ORDER BY a.requested_at, a.id",
    )
    .bind(repo.id)
    .bind(status)
    .fetch_all(&ctx.app.db)
    .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            request_json(
                &gate::request_from_row(r),
                &r.get::<String, _>(8),
                &r.get::<String, _>(9),
                r.get(10),
            )
        })
        .collect();
    Ok(axum::Json(items).into_response())
}

async fn user_by_name(ctx: &Ctx, name: &str) -> ApiResult<(i64, String)> {
    let row = sqlx::query("SELECT id, name FROM users WHERE name = ?")
        .bind(name)
        .fetch_optional(&ctx.app.db)
        .await?;
    row.map(|r| (r.get(0), r.get(1)))
        .ok_or_else(|| ApiError::not_found(format!("User {name:?} not found")))
}

#[derive(Deserialize)]
struct Handle {
    user: Option<String>,
    #[serde(rename = "requestId")]
    request_id: Option<Value>,
    status: String,
    #[serde(rename = "rejectionReason")]
    rejection_reason: Option<String>,
}

/// `POST .../user-access-request/handle`: accept, reject or cancel (back to pending) a request.
pub(crate) async fn handle(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    body: Body,
) -> ApiResult {
    let repo = ctx.writable(kind, ns, name).await?;
    let req: Handle = json_body(body).await?;
    let event = match req.status.as_str() {
        "accepted" => "access.accept",
        "rejected" => "access.reject",
        "pending" => "access.cancel",
        other => {
            return Err(ApiError::bad_request(format!(
                "status must be accepted, rejected or pending, not {other:?}"
            )));
        }
    };
    let reason = req
        .rejection_reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if let Some(r) = &reason {
        if req.status != "rejected" {
            return Err(ApiError::bad_request(
                "rejectionReason can only be given when rejecting a request",
            ));
        }
        if r.chars().count() > MAX_REASON {
            return Err(ApiError::bad_request(format!(
                "rejectionReason is longer than {MAX_REASON} characters"
            )));
        }
    }
    let (request, user) = match (req.user.as_deref(), &req.request_id) {
        (Some(user), None) => {
            let (uid, user) = user_by_name(ctx, user).await?;
            let r = gate::request_of(ctx, repo.id, uid).await?.ok_or_else(|| {
                ApiError::not_found(format!(
                    "{user} has not asked for access to {}",
                    repo.full_name()
                ))
            })?;
            (r, user)
        }
        (None, Some(id)) => {
            let id = match id {
                Value::String(s) => s.parse::<i64>().ok(),
                Value::Number(n) => n.as_i64(),
                _ => None,
            }
            .ok_or_else(|| ApiError::bad_request("requestId must be a request id"))?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {}, (SELECT name FROM users WHERE id = user_id) FROM access_requests WHERE repo_id = ? AND id = ?",
                gate::REQUEST_COLUMNS
            )))
            .bind(repo.id)
            .bind(id)
            .fetch_optional(&ctx.app.db)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Access request {id} not found")))?;
            (gate::request_from_row(&row), row.get::<String, _>(8))
        }
        _ => {
            return Err(ApiError::bad_request(
                "Give exactly one of user and requestId",
            ));
        }
    };
    let caller = ctx.require_caller()?;
    let now = db::now_ms();
    let mut tx = db::write(&ctx.app.db).await?;
    sqlx::query(
        "UPDATE access_requests SET status = ?, reviewed_at = ?, reviewer = ?, rejection_reason = ? WHERE id = ?",
    )
    .bind(&req.status)
    .bind(now)
    .bind(&caller.name)
    .bind(&reason)
    .bind(request.id)
    .execute(&mut *tx)
    .await?;
    let mut data = json!({
        "user": user,
        "agreement_sha256": request.agreement_sha256,
        "fields_sha256": request.fields.as_deref().map(sha256_hex),
        "from": request.status,
        "to": req.status,
    });
    if let Some(r) = &reason {
        data["reason"] = json!(r);
    }
    audit::record(&mut tx, &ctx.actor(), event, Some(&repo.audit_name()), data).await?;
    tx.commit().await?;
    Ok(axum::Json(json!({"user": user, "status": req.status})).into_response())
}

#[derive(Deserialize)]
struct Grant {
    user: String,
}

/// `POST .../user-access-request/grant`: give a user access without a request, bound to the
/// current agreement.
pub(crate) async fn grant(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    body: Body,
) -> ApiResult {
    let repo = ctx.writable(kind, ns, name).await?;
    let req: Grant = json_body(body).await?;
    require_gated(&repo)?;
    let (uid, user) = user_by_name(ctx, &req.user).await?;
    let agreement = gate::agreement(ctx, &repo).await?;
    if let Some(r) = gate::request_of(ctx, repo.id, uid).await?
        && r.status == "accepted"
        && r.agreement_sha256.as_deref() == Some(agreement.sha256.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "{user} already has access to {}",
            repo.full_name()
        )));
    }
    let caller = ctx.require_caller()?;
    let now = db::now_ms();
    let mut tx = db::write(&ctx.app.db).await?;
    sqlx::query(
        "INSERT INTO access_requests (repo_id, user_id, status, agreement_sha256, fields, requested_at, reviewed_at, reviewer)
         VALUES (?, ?, 'accepted', ?, NULL, ?, ?, ?)
         ON CONFLICT (repo_id, user_id) DO UPDATE SET status = 'accepted',
            agreement_sha256 = excluded.agreement_sha256, reviewed_at = excluded.reviewed_at,
            reviewer = excluded.reviewer, rejection_reason = NULL",
    )
    .bind(repo.id)
    .bind(uid)
    .bind(&agreement.sha256)
    .bind(now)
    .bind(now)
    .bind(&caller.name)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &ctx.actor(),
        "access.grant",
        Some(&repo.audit_name()),
        json!({"user": user, "agreement_sha256": agreement.sha256}),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::OK,
        axum::Json(
            json!({"user": user, "status": "accepted", "agreement_sha256": agreement.sha256}),
        ),
    )
        .into_response())
}

fn require_gated(repo: &Repo) -> ApiResult<()> {
    if gate::is_gated(repo) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{} is not gated; set gated to \"auto\" or \"manual\" in its settings first",
            repo.full_name()
        )))
    }
}
