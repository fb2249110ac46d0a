//! Git LFS: the batch API, basic and multipart uploads, verify, and downloads by digest.
//!
//! Upload URLs carry a signed ticket (HMAC-SHA256 with the hub's secret) naming the object, its
//! size, the repository, the uploader and an expiry: clients send no token on these requests.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashSet;

use futures_util::{StreamExt, TryStreamExt};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, App, Ctx, body_bytes, json_body};
use crate::audit::{self, Actor};
use crate::db;
use crate::repo::RepoKind;
use weighhouse_store::Sha256;

/// How long upload and download URLs stay valid.
const TICKET_SECONDS: i64 = 24 * 3600;
/// Largest object accepted (5 TiB, S3's limit).
const MAX_OBJECT: u64 = 5 << 40;
/// Most objects per batch request.
const MAX_OBJECTS: usize = 1000;

#[derive(Debug, Serialize, Deserialize)]
struct Ticket {
    /// `up`, `mp` or `dl`.
    op: String,
    oid: String,
    size: u64,
    exp: i64,
    /// Audit name of the repository.
    repo: String,
    user: Option<String>,
    token: Option<i64>,
    /// Multipart: upload id and part size.
    #[serde(default)]
    id: String,
    #[serde(default)]
    part: u64,
    /// Download of a gated repository's object by a user who is not a member: logged.
    #[serde(default)]
    gate: bool,
}

fn sign(secret: &[u8], payload: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn encode_ticket(secret: &[u8], t: &Ticket) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(t).expect("ticket serialises"));
    let sig = sign(secret, &payload);
    format!("{payload}.{sig}")
}

fn decode_ticket(secret: &[u8], s: &str) -> ApiResult<Ticket> {
    let denied =
        || ApiError::forbidden("Invalid or expired upload URL; ask the batch API for a new one");
    let (payload, sig) = s.split_once('.').ok_or_else(denied)?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| denied())?;
    mac.verify_slice(&sig).map_err(|_| denied())?;
    let t: Ticket = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).map_err(|_| denied())?)
        .map_err(|_| denied())?;
    if t.exp < db::now_ms() / 1000 {
        return Err(denied());
    }
    Ok(t)
}

fn lfs_json(status: StatusCode, v: Value) -> Response {
    let mut r = (status, axum::Json(v)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.git-lfs+json"),
    );
    r
}

#[derive(Deserialize)]
struct BatchObject {
    oid: String,
    size: i64,
}

#[derive(Deserialize)]
struct BatchReq {
    operation: String,
    #[serde(default)]
    transfers: Vec<String>,
    #[serde(default)]
    objects: Vec<BatchObject>,
    #[serde(default)]
    hash_algo: Option<String>,
}

pub(crate) async fn batch(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    body: Body,
) -> ApiResult {
    let req: BatchReq = json_body(body).await?;
    let upload = match req.operation.as_str() {
        "upload" => true,
        "download" => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "Unknown LFS operation {other:?}"
            )));
        }
    };
    let repo = if upload {
        ctx.writable(kind, ns, name).await?
    } else {
        ctx.readable(kind, ns, name).await?
    };
    // Downloads follow the gate, and only hand out objects this repository's history holds:
    // otherwise any repository's endpoint would serve any object whose digest is known.
    let (gated_download, known) = if upload {
        (false, HashSet::new())
    } else {
        let access = super::gate::check(ctx, &repo, None).await?;
        let wanted: Vec<String> = req
            .objects
            .iter()
            .map(|o| o.oid.to_ascii_lowercase())
            .collect();
        (
            access == super::gate::Access::Granted,
            objects_of(ctx, repo.id, &wanted).await?,
        )
    };
    if req.hash_algo.as_deref().is_some_and(|a| a != "sha256") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Only the sha256 hash algorithm is supported",
        ));
    }
    if req.objects.len() > MAX_OBJECTS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("At most {MAX_OBJECTS} objects per batch"),
        ));
    }
    let offers_basic = req.transfers.is_empty() || req.transfers.iter().any(|t| t == "basic");
    let offers_multipart = req.transfers.iter().any(|t| t == "multipart");
    if !offers_basic && !offers_multipart {
        return Err(ApiError::bad_request(
            "This hub offers the basic and multipart LFS transfers only",
        ));
    }
    let exp = db::now_ms() / 1000 + TICKET_SECONDS;
    let (user, token) = match &ctx.caller {
        Some(c) => (Some(c.name.clone()), Some(c.token_id)),
        None => (None, None),
    };
    let expires_at = db::iso_ms(exp * 1000);
    let mut objects = Vec::new();
    for o in req.objects {
        let sha = match o.oid.parse::<Sha256>() {
            Ok(s) if o.size >= 0 && (o.size as u64) <= MAX_OBJECT => s,
            _ => {
                objects.push(json!({"oid": o.oid, "size": o.size, "error": {"code": 422, "message": "invalid oid or size"}}));
                continue;
            }
        };
        let size = o.size as u64;
        let stored = ctx.app.store.size(&sha).await?;
        let mut ticket = Ticket {
            op: String::new(),
            oid: sha.to_string(),
            size,
            exp,
            repo: repo.audit_name(),
            user: user.clone(),
            token,
            id: String::new(),
            part: 0,
            gate: gated_download,
        };
        if !upload {
            match stored {
                Some(s) if s == size && known.contains(&ticket.oid) => {
                    ticket.op = "dl".into();
                    let href = format!("{}/api/lfs/download/{}", ctx.base, encode_ticket(&ctx.app.secret, &ticket));
                    objects.push(json!({"oid": sha.to_string(), "size": size, "authenticated": true,
                        "actions": {"download": {"href": href, "expires_at": expires_at}}}));
                }
                _ => objects.push(json!({"oid": sha.to_string(), "size": size, "error": {"code": 404, "message": "Object does not exist"}})),
            }
            continue;
        }
        if stored == Some(size) {
            objects.push(json!({"oid": sha.to_string(), "size": size}));
            continue;
        }
        let verify = json!({"href": format!("{}/{}{}.git/info/lfs/objects/verify", ctx.base, kind.url_prefix(), repo.full_name()), "header": {}});
        let part = ctx.app.config.lfs_part_size.max(size.div_ceil(10_000));
        if offers_multipart && size > part {
            ticket.op = "mp".into();
            ticket.id = uuid_like();
            ticket.part = part;
            let t = encode_ticket(&ctx.app.secret, &ticket);
            let mut header = serde_json::Map::new();
            header.insert("chunk_size".into(), json!(part.to_string()));
            for i in 1..=size.div_ceil(part) {
                header.insert(
                    i.to_string(),
                    json!(format!("{}/api/lfs/part/{t}/{i}", ctx.base)),
                );
            }
            objects.push(json!({"oid": sha.to_string(), "size": size, "authenticated": true, "actions": {
                "upload": {"href": format!("{}/api/lfs/complete/{t}", ctx.base), "header": header, "expires_at": expires_at},
                "verify": verify,
            }}));
        } else {
            ticket.op = "up".into();
            let t = encode_ticket(&ctx.app.secret, &ticket);
            objects.push(json!({"oid": sha.to_string(), "size": size, "authenticated": true, "actions": {
                "upload": {"href": format!("{}/api/lfs/upload/{t}", ctx.base), "header": {}, "expires_at": expires_at},
                "verify": verify,
            }}));
        }
    }
    let transfer = if offers_basic { "basic" } else { "multipart" };
    Ok(lfs_json(
        StatusCode::OK,
        json!({"transfer": transfer, "objects": objects, "hash_algo": "sha256"}),
    ))
}

/// Which of `wanted` (SHA-256 digests) files of a repository hold: at the tip of a ref (cached
/// snapshots) or, for the rest, anywhere in its history.
async fn objects_of(ctx: &Ctx, repo_id: i64, wanted: &[String]) -> ApiResult<HashSet<String>> {
    #[derive(Deserialize)]
    struct Digest {
        sha256: String,
    }
    let mut missing: HashSet<&str> = wanted.iter().map(String::as_str).collect();
    let mut found = HashSet::new();
    let mut take = |digest: &str, missing: &mut HashSet<&str>| {
        if missing.remove(digest) {
            found.insert(digest.to_string());
        }
    };
    for r in crate::repo::refs(&ctx.app.db, repo_id).await? {
        if missing.is_empty() {
            return Ok(found);
        }
        if let Some(snap) =
            crate::repo::snapshot(&ctx.app.db, &ctx.app.cache, repo_id, &r.target).await?
        {
            for f in &snap.files {
                take(&f.sha256, &mut missing);
            }
        }
    }
    let mut rows = sqlx::query_scalar::<_, String>("SELECT files FROM commits WHERE repo_id = ?")
        .bind(repo_id)
        .fetch(&ctx.app.db);
    while !missing.is_empty()
        && let Some(files) = rows.try_next().await?
    {
        let files: Vec<Digest> = serde_json::from_str(&files).map_err(ApiError::internal)?;
        for f in &files {
            take(&f.sha256, &mut missing);
        }
    }
    Ok(found)
}

fn uuid_like() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..24)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)]))
        .collect()
}

pub(crate) async fn verify(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    body: Body,
) -> ApiResult {
    #[derive(Deserialize)]
    struct Req {
        oid: String,
        size: u64,
    }
    ctx.readable(kind, ns, name).await?;
    let req: Req = json_body(body).await?;
    let sha: Sha256 = req
        .oid
        .parse()
        .map_err(|e| ApiError::bad_request(format!("{e}")))?;
    match ctx.app.store.size(&sha).await? {
        Some(s) if s == req.size => {
            Ok(lfs_json(StatusCode::OK, json!({"oid": req.oid, "size": s})))
        }
        Some(s) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Object {sha} has {s} bytes, not {}", req.size),
        )),
        None => Err(ApiError::not_found(format!(
            "Object {sha} was not uploaded"
        ))),
    }
}

async fn uploaded(
    app: &App,
    t: &Ticket,
    sha: &Sha256,
    transfer: &str,
    ip: Option<String>,
) -> ApiResult<()> {
    let mut tx = db::write(&app.db).await?;
    sqlx::query("INSERT OR IGNORE INTO blobs (sha256, size, created_at) VALUES (?, ?, ?)")
        .bind(sha.to_string())
        .bind(t.size as i64)
        .bind(db::now_ms())
        .execute(&mut *tx)
        .await?;
    let actor = Actor {
        user: t.user.clone(),
        token_id: t.token,
        ip,
    };
    audit::record(
        &mut tx,
        &actor,
        "lfs.upload",
        Some(&t.repo),
        json!({"oid": sha.to_string(), "size": t.size, "transfer": transfer}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// `/api/lfs/{upload|part|complete|download}/...`: the signed transfer URLs.
pub(crate) async fn transfer(
    app: &App,
    m: &Method,
    segs: &[String],
    ip: Option<String>,
    body: Body,
) -> ApiResult {
    match (m.as_str(), segs) {
        ("PUT", [kind, t]) if kind == "upload" => {
            let t = decode_ticket(&app.secret, t)?;
            if t.op != "up" {
                return Err(ApiError::forbidden("This URL is not a basic upload URL"));
            }
            let sha: Sha256 = t.oid.parse().map_err(ApiError::internal)?;
            let mut staging = app.store.stage(Some(sha), Some(t.size))?;
            let mut stream = body.into_data_stream();
            while let Some(chunk) = stream.next().await {
                let chunk =
                    chunk.map_err(|e| ApiError::bad_request(format!("Upload interrupted: {e}")))?;
                staging.write(chunk).await?;
            }
            let verified = staging.finish().await?;
            app.store.publish(verified).await?;
            uploaded(app, &t, &sha, "basic", ip).await?;
            Ok(StatusCode::OK.into_response())
        }
        ("PUT", [kind, t, n]) if kind == "part" => {
            let t = decode_ticket(&app.secret, t)?;
            if t.op != "mp" || t.part == 0 {
                return Err(ApiError::forbidden(
                    "This URL is not a multipart upload URL",
                ));
            }
            let parts = t.size.div_ceil(t.part);
            let n: u64 = n
                .parse()
                .ok()
                .filter(|&n| n >= 1 && n <= parts)
                .ok_or_else(|| ApiError::bad_request("Bad part number"))?;
            let offset = (n - 1) * t.part;
            let expected = t.part.min(t.size - offset);
            let data = body_bytes(body, expected as usize).await?;
            if data.len() as u64 != expected {
                return Err(ApiError::bad_request(format!(
                    "Part {n} must have {expected} bytes, got {}",
                    data.len()
                )));
            }
            let mp = app.store.stage_multipart(&t.id, t.size)?;
            mp.write_part(offset, data).await?;
            let mut r = StatusCode::OK.into_response();
            r.headers_mut().insert(
                header::ETAG,
                HeaderValue::from_str(&format!("\"{}-{n}-{expected}\"", t.id))
                    .map_err(ApiError::internal)?,
            );
            Ok(r)
        }
        ("POST", [kind, t]) if kind == "complete" => {
            #[derive(Deserialize)]
            struct Part {
                #[serde(rename = "partNumber")]
                part_number: u64,
                etag: String,
            }
            #[derive(Deserialize)]
            struct Req {
                oid: String,
                #[serde(default)]
                parts: Vec<Part>,
            }
            let t = decode_ticket(&app.secret, t)?;
            if t.op != "mp" || t.part == 0 {
                return Err(ApiError::forbidden(
                    "This URL is not a multipart completion URL",
                ));
            }
            let req: Req = json_body(body).await?;
            if req.oid != t.oid {
                return Err(ApiError::bad_request(
                    "The completion names another object than its URL",
                ));
            }
            let parts = t.size.div_ceil(t.part);
            let mut seen: Vec<u64> = req.parts.iter().map(|p| p.part_number).collect();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() as u64 != parts || seen.first() != Some(&1) || seen.last() != Some(&parts)
            {
                return Err(ApiError::bad_request(format!(
                    "Expected parts 1 to {parts}"
                )));
            }
            for p in &req.parts {
                let expected = t.part.min(t.size - (p.part_number - 1) * t.part);
                if p.etag.trim_matches('"') != format!("{}-{}-{expected}", t.id, p.part_number) {
                    return Err(ApiError::bad_request(format!(
                        "Part {} has an unknown etag",
                        p.part_number
                    )));
                }
            }
            let sha: Sha256 = t.oid.parse().map_err(ApiError::internal)?;
            let mp = app.store.stage_multipart(&t.id, t.size)?;
            let verified = mp.complete(sha).await?;
            app.store.publish(verified).await?;
            uploaded(app, &t, &sha, "multipart", ip).await?;
            Ok(lfs_json(
                StatusCode::OK,
                json!({"oid": t.oid, "size": t.size}),
            ))
        }
        ("GET", [kind, t]) if kind == "download" => {
            let t = decode_ticket(&app.secret, t)?;
            if t.op != "dl" {
                return Err(ApiError::forbidden("This URL is not a download URL"));
            }
            let sha: Sha256 = t.oid.parse().map_err(ApiError::internal)?;
            let blob = app.store.open(&sha).await?;
            let size = blob.size();
            if t.gate {
                let actor = Actor {
                    user: t.user.clone(),
                    token_id: t.token,
                    ip,
                };
                app.downloads
                    .record(audit::Pending {
                        actor,
                        event: "download",
                        target: json!({"repo": t.repo}),
                        data: json!({"user": t.user, "oid": t.oid, "bytes": size, "via": "lfs"}),
                    })
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))?;
            }
            let mut r = Body::from_stream(blob.stream(0..size)).into_response();
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            Ok(r)
        }
        _ => Err(ApiError::not_found("No such LFS transfer endpoint")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_tamper_evident() {
        let secret = b"0123456789abcdef";
        let t = Ticket {
            op: "up".into(),
            oid: "a".repeat(64),
            size: 5,
            exp: db::now_ms() / 1000 + 60,
            repo: "models/a/b".into(),
            user: Some("alice".into()),
            token: Some(1),
            id: String::new(),
            part: 0,
            gate: false,
        };
        let s = encode_ticket(secret, &t);
        assert_eq!(decode_ticket(secret, &s).unwrap().size, 5);
        assert!(decode_ticket(b"another secret..", &s).is_err());
        let (payload, sig) = s.split_once('.').unwrap();
        let forged = Ticket {
            size: 6,
            ..decode_ticket(secret, &s).unwrap()
        };
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_ne!(payload, forged_payload);
        assert!(decode_ticket(secret, &format!("{forged_payload}.{sig}")).is_err());
        let expired = Ticket { exp: 1, ..forged };
        assert!(decode_ticket(secret, &encode_ticket(secret, &expired)).is_err());
    }
}
