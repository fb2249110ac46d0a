//! The HTTP API: the Hugging Face Hub subset the official clients use, plus Git LFS.
//!
//! Routing is done by hand on the raw path: a revision such as `refs%2Fpr%2F1` is one
//! percent-encoded segment, a file path in `/resolve/` spans several, and repository names may
//! end in `.git` only in LFS URLs. Each segment is decoded after the split.

mod access;
mod accounts;
mod attributes;
mod audit_log;
mod error;
mod gate;
mod governance;
mod lfs;
mod likes;
mod ndjson;
mod read;
mod refs;
mod repos;
mod request_log;
mod resolve;
mod users;
mod write;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;

pub use error::{ApiError, ApiResult};
pub use gate::AgreementCache;

/// The parsers of client input, for the fuzz targets and the corpus replay (feature `fuzzing`).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod parsers {
    pub use super::attributes::{Attributes, LFS_THRESHOLD, wants_lfs};
    pub use super::ndjson::{Decoded, decode_line};
    pub use super::read::front_matter;
    pub use super::resolve::{Range, parse_range};

    /// Run one parser on fuzz input (the first byte picks it) and check what it accepts: paths of
    /// accepted lines are valid, ranges lie inside the file, empty files never go to LFS.
    /// Panics on a violation; used by the `hub_input` fuzz target and its corpus replay test.
    pub fn exercise(data: &[u8]) {
        let Some((&which, rest)) = data.split_first() else {
            return;
        };
        match which % 4 {
            0 => {
                if let Ok(Some(d)) = decode_line(rest, 1) {
                    match d {
                        Decoded::File { path, .. }
                        | Decoded::Lfs { path, .. }
                        | Decoded::Delete(path)
                        | Decoded::DeleteFolder(path) => {
                            assert!(
                                crate::git::check_path(&path).is_ok(),
                                "accepted a bad path {path:?}"
                            );
                        }
                        Decoded::Header { summary, .. } => assert!(!summary.trim().is_empty()),
                    }
                }
            }
            1 => {
                let (size, header) = rest.split_at(rest.len().min(8));
                let mut b = [0u8; 8];
                b[..size.len()].copy_from_slice(size);
                let size = u64::from_le_bytes(b);
                if let Ok(h) = std::str::from_utf8(header)
                    && let Range::Part(a, z) = parse_range(Some(h), size)
                {
                    assert!(
                        a <= z && z < size,
                        "range {a}-{z} outside a file of {size} bytes"
                    );
                }
            }
            2 => {
                if let Ok(text) = std::str::from_utf8(rest) {
                    let _ = front_matter(text);
                }
            }
            _ => {
                if let Ok(text) = std::str::from_utf8(rest) {
                    let (attrs, path) =
                        text.split_once('\n').unwrap_or((text, "model.safetensors"));
                    let a = Attributes::parse(attrs);
                    let _ = a.is_lfs(path);
                    assert!(!wants_lfs(&a, path, 0, b"\0"), "empty files are never LFS");
                }
            }
        }
    }
}

use crate::audit::Actor;
use crate::auth::{self, Caller, Role};
use crate::repo::{self, Repo, RepoKind, SnapshotCache};
use crate::{Config, db::Db};
use weighhouse_store::BlobStore;

/// Everything a request handler needs.
#[derive(Debug)]
pub struct App {
    pub(crate) db: Db,
    pub(crate) store: BlobStore,
    pub(crate) cache: SnapshotCache,
    pub(crate) agreements: AgreementCache,
    /// Group commit of download records.
    pub(crate) downloads: crate::audit::Batcher,
    /// Download counts (see [`crate::stats`]).
    pub(crate) download_counts: crate::stats::Downloads,
    pub(crate) secret: Vec<u8>,
    pub(crate) config: Config,
}

impl App {
    /// The metadata database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The blob store.
    pub fn store(&self) -> &BlobStore {
        &self.store
    }

    /// Write the download counts kept in memory (the server does so every two seconds).
    pub async fn flush_download_counts(&self) -> sqlx::Result<()> {
        self.download_counts.flush(&self.db).await
    }
}

/// Largest JSON body accepted (preupload of 256 files with samples is about 200 KB).
const JSON_LIMIT: usize = 4 << 20;

/// One request's context.
pub(crate) struct Ctx {
    pub app: Arc<App>,
    pub caller: Option<Caller>,
    pub base: String,
    pub headers: HeaderMap,
    /// The request path, as sent (percent-encoded).
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The client's address, when the server knows the connection's peer.
    pub ip: Option<String>,
}

impl Ctx {
    /// The caller as the audit log names them, with their address.
    pub fn actor(&self) -> Actor {
        let mut a = self.caller.as_ref().map(Actor::of).unwrap_or_default();
        a.ip = self.ip.clone();
        a
    }

    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn q_bool(&self, key: &str) -> bool {
        matches!(self.q(key), Some("1" | "true" | "True" | "yes"))
    }

    /// The repository, if the caller may see it. A private repository the caller may not see
    /// gets exactly the answer a missing one gets.
    pub async fn readable(&self, kind: RepoKind, ns: &str, name: &str) -> ApiResult<Repo> {
        let Some(repo) = repo::find(&self.app.db, kind, ns, name).await? else {
            return Err(ApiError::repo_not_found());
        };
        if repo.private
            && auth::role_on(&self.app.db, self.caller.as_ref(), &repo.namespace)
                .await?
                .is_none()
        {
            return Err(ApiError::repo_not_found());
        }
        Ok(repo)
    }

    /// The repository, if the caller may write to it.
    pub async fn writable(&self, kind: RepoKind, ns: &str, name: &str) -> ApiResult<Repo> {
        let repo = self.readable(kind, ns, name).await?;
        self.require_write(&repo.namespace, &repo.full_name())
            .await?;
        Ok(repo)
    }

    /// Require the `write` role on a namespace.
    pub async fn require_write(&self, ns: &str, what: &str) -> ApiResult<()> {
        let Some(caller) = &self.caller else {
            return Err(ApiError::unauthorized(format!(
                "Authentication required: writing to {what} needs a token with write access"
            )));
        };
        match auth::role_on(&self.app.db, Some(caller), ns).await? {
            Some(r) if r >= Role::Write => Ok(()),
            Some(_) if caller.token_role < Role::Write => Err(ApiError::forbidden(format!(
                "The token {:?} is read-only; writing to {what} needs a token with the write role",
                caller.token_name
            ))),
            _ => Err(ApiError::forbidden(format!(
                "You don't have write access to {what}: it needs the write role on the namespace {ns:?}"
            ))),
        }
    }

    /// For an organisation's namespace, require its `admin` role (an admin member, or a site
    /// admin, with a token of the admin role): what moving a repository out of it or deleting
    /// one takes. A user's own namespace needs only `write`, as for any other change there.
    pub async fn require_org_admin(&self, ns: &str, what: &str) -> ApiResult<()> {
        let caller = self.require_caller()?;
        if !matches!(
            auth::namespace(&self.app.db, ns).await?,
            Some((auth::Namespace::Org, _))
        ) {
            return Ok(());
        }
        match auth::role_on(&self.app.db, Some(caller), ns).await? {
            Some(Role::Admin) => Ok(()),
            Some(_) if caller.token_role < Role::Admin => Err(ApiError::forbidden(format!(
                "The token {:?} does not have the admin role, which {what} needs",
                caller.token_name
            ))),
            _ => Err(ApiError::forbidden(format!(
                "{what} needs the admin role on the namespace {ns:?}"
            ))),
        }
    }

    pub fn require_caller(&self) -> ApiResult<&Caller> {
        self.caller
            .as_ref()
            .ok_or_else(|| ApiError::unauthorized("Authentication required: pass a token"))
    }

    /// Absolute URL of a repository page.
    pub fn repo_url(&self, repo_kind: RepoKind, full_name: &str) -> String {
        format!("{}/{}{}", self.base, repo_kind.url_prefix(), full_name)
    }
}

/// Read a whole body with a size limit.
pub(crate) async fn body_bytes(body: Body, limit: usize) -> ApiResult<bytes::Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit")
        {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body larger than the limit of {limit} bytes"),
            )
        } else {
            ApiError::bad_request(format!("Could not read the request body: {e}"))
        }
    })
}

/// Parse a JSON body (an empty body parses as `{}` where the type allows).
pub(crate) async fn json_body<T: DeserializeOwned>(body: Body) -> ApiResult<T> {
    let bytes = body_bytes(body, JSON_LIMIT).await?;
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
}

/// The URL clients reached us by, from the configured public URL or the request's headers.
fn base_url(config: &Config, headers: &HeaderMap) -> String {
    if let Some(url) = &config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(',').next().unwrap_or("").trim().to_string())
    };
    let proto = get("x-forwarded-proto")
        .filter(|p| p == "http" || p == "https")
        .unwrap_or_else(|| "http".into());
    let host = get("x-forwarded-host")
        .or_else(|| get("host"))
        .filter(|h| !h.is_empty() && !h.contains(['/', ' ', '@']));
    match host {
        Some(h) => format!("{proto}://{h}"),
        None => format!("http://{}", config.listen),
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    if let Some(t) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    {
        return Some(t.trim().to_string());
    }
    // git-lfs and git send `Basic base64(user:token)`.
    let b = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(
        text.split_once(':')
            .map_or(text.clone(), |(_, p)| p.to_string()),
    )
}

/// The single entry point: authenticate, then route on the decoded path segments. Every answer
/// carries the request id, and its access-log line is written once its body has been sent.
pub(crate) async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let mut entry = request_log::Entry::start(req.method(), req.uri().path(), req.headers());
    let resp = match guarded(route(app, req, &mut entry)).await {
        Ok(r) => r,
        Err(mut e) => {
            e.request_id = Some(entry.id.clone());
            e.into_response()
        }
    };
    entry.finish(resp)
}

/// Run a handler so that a panic in it becomes a 500 answer (the request id in its body leads to
/// the log line the panic hook wrote) instead of a dropped connection.
async fn guarded(handler: impl std::future::Future<Output = ApiResult>) -> ApiResult {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(handler).catch_unwind().await {
        Ok(result) => result,
        Err(_) => Err(ApiError::internal("a request handler panicked")),
    }
}

async fn route(app: Arc<App>, req: Request, entry: &mut request_log::Entry) -> ApiResult {
    let (parts, body) = req.into_parts();
    let raw = parts.uri.path();
    let mut segs: Vec<String> = Vec::new();
    for s in raw.split('/').skip(1) {
        let d = percent_decode_str(s)
            .decode_utf8()
            .map_err(|_| ApiError::bad_request("Path is not valid UTF-8"))?;
        segs.push(d.into_owned());
    }
    if segs.last().is_some_and(String::is_empty) && segs.len() > 1 {
        segs.pop();
    }
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let base = base_url(&app.config, &parts.headers);
    let ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());

    // LFS transfer URLs carry their own signed authorisation; clients send no token there.
    if segs.len() >= 3 && segs[0] == "api" && segs[1] == "lfs" {
        return lfs::transfer(&app, &parts.method, &segs[2..], ip, body).await;
    }

    let caller = match bearer(&parts.headers) {
        Some(t) if !t.is_empty() => Some(
            auth::caller_for_token(&app.db, &t)
                .await?
                .ok_or_else(ApiError::bad_token)?,
        ),
        _ => None,
    };
    entry.user = caller.as_ref().map(|c| c.name.clone());
    let ctx = Ctx {
        app: Arc::clone(&app),
        caller,
        base,
        headers: parts.headers.clone(),
        path: raw.to_string(),
        query,
        ip,
    };
    let m = &parts.method;
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();

    if let Some(message) = accounts::unsupported(&s) {
        return Err(accounts::not_implemented(message));
    }
    match s.as_slice() {
        [] | [""] => Ok(read::home(&ctx)),
        ["api", "whoami-v2"] if m == Method::GET => repos::whoami(&ctx).await,
        ["api", "repos", "create"] if m == Method::POST => repos::create(&ctx, body).await,
        ["api", "repos", "delete"] if m == Method::DELETE => repos::delete(&ctx, body).await,
        ["api", "repos", "move"] if m == Method::POST => repos::move_repo(&ctx, body).await,
        ["api", "validate-yaml"] if m == Method::POST => write::validate_yaml(body).await,
        ["api", "agent-harnesses"] => Ok(axum::Json(
            serde_json::json!({"standardEnvVars": [], "harnesses": {}}),
        )
        .into_response()),
        ["api", "admin", "audit"] if m == Method::GET => audit_log::export(&ctx).await,
        ["api", "users", user, "likes"] if m == Method::GET => likes::liked_by(&ctx, user).await,
        ["api", "users", user, "overview"] if m == Method::GET => {
            accounts::user_overview(&ctx, user).await
        }
        ["api", "organizations", org, "overview"] if m == Method::GET => {
            accounts::org_overview(&ctx, org).await
        }
        ["api", "organizations", org, "members"] if m == Method::GET => {
            accounts::org_members(&ctx, org).await
        }
        ["api", "settings", "repositories"] if m == Method::GET => {
            repos::namespace_repositories(&ctx, None).await
        }
        ["api", "organizations", org, "settings", "repositories"] if m == Method::GET => {
            repos::namespace_repositories(&ctx, Some(org)).await
        }
        ["api", "health"] => Ok(axum::Json(serde_json::json!({"status": "ok"})).into_response()),
        ["api", kind] if m == Method::GET && RepoKind::from_plural(kind).is_some() => {
            read::list(&ctx, RepoKind::from_plural(kind).expect("checked")).await
        }
        ["api", kind, ns, name, rest @ ..] if RepoKind::from_plural(kind).is_some() => {
            let kind = RepoKind::from_plural(kind).expect("checked");
            repo_api(&ctx, m, kind, ns, name, rest, body).await
        }
        [first, ns, name_git, "info", "lfs", "objects", op]
            if RepoKind::from_plural(first).is_some_and(|k| k != RepoKind::Model) =>
        {
            let kind = RepoKind::from_plural(first).expect("checked");
            lfs_api(&ctx, m, kind, ns, name_git, op, body).await
        }
        [ns, name_git, "info", "lfs", "objects", op] => {
            lfs_api(&ctx, m, RepoKind::Model, ns, name_git, op, body).await
        }
        [first, ns, name, "resolve", rev, path @ ..]
            if !path.is_empty()
                && RepoKind::from_plural(first).is_some_and(|k| k != RepoKind::Model) =>
        {
            let kind = RepoKind::from_plural(first).expect("checked");
            resolve::resolve(&ctx, m, kind, ns, name, rev, &path.join("/")).await
        }
        [ns, name, "resolve", rev, path @ ..] if !path.is_empty() => {
            resolve::resolve(&ctx, m, RepoKind::Model, ns, name, rev, &path.join("/")).await
        }
        [first, ns, name]
            if m == Method::GET
                && RepoKind::from_plural(first).is_some_and(|k| k != RepoKind::Model) =>
        {
            let kind = RepoKind::from_plural(first).expect("checked");
            governance::page(&ctx, kind, ns, name).await
        }
        [ns, name] if m == Method::GET && *ns != "api" => {
            governance::page(&ctx, RepoKind::Model, ns, name).await
        }
        _ => Err(ApiError::not_found(format!(
            "No such endpoint: {} {}",
            m, raw
        ))),
    }
}

async fn lfs_api(
    ctx: &Ctx,
    m: &Method,
    kind: RepoKind,
    ns: &str,
    name_git: &str,
    op: &str,
    body: Body,
) -> ApiResult {
    let Some(name) = name_git.strip_suffix(".git") else {
        return Err(ApiError::not_found("No such endpoint"));
    };
    match op {
        "batch" if m == Method::POST => lfs::batch(ctx, kind, ns, name, body).await,
        "verify" if m == Method::POST => lfs::verify(ctx, kind, ns, name, body).await,
        _ => Err(ApiError::not_found("No such LFS endpoint")),
    }
}

async fn repo_api(
    ctx: &Ctx,
    m: &Method,
    kind: RepoKind,
    ns: &str,
    name: &str,
    rest: &[&str],
    body: Body,
) -> ApiResult {
    let get = m == Method::GET || m == Method::HEAD;
    match rest {
        [] if get => read::info(ctx, kind, ns, name, None).await,
        ["openness"] if get => governance::openness(ctx, kind, ns, name, None).await,
        ["openness", rev] if get => governance::openness(ctx, kind, ns, name, Some(rev)).await,
        ["card-lint"] if get => governance::card_lint(ctx, kind, ns, name, None).await,
        ["card-lint", rev] if get => governance::card_lint(ctx, kind, ns, name, Some(rev)).await,
        ["revision", rev] if get => read::info(ctx, kind, ns, name, Some(rev)).await,
        ["tree", rev, path @ ..] if get => {
            read::tree(ctx, kind, ns, name, rev, &path.join("/")).await
        }
        ["paths-info", rev] if m == Method::POST => {
            read::paths_info(ctx, kind, ns, name, rev, body).await
        }
        ["refs"] if get => read::refs(ctx, kind, ns, name).await,
        ["commits", rev] if get => read::commits(ctx, kind, ns, name, rev).await,
        ["auth-check"] | ["auth-check", "read"] if get => {
            ctx.readable(kind, ns, name).await?;
            Ok(axum::Json(serde_json::json!({"ok": true})).into_response())
        }
        ["auth-check", "write"] if get => {
            ctx.writable(kind, ns, name).await?;
            Ok(axum::Json(serde_json::json!({"ok": true})).into_response())
        }
        ["preupload", rev] if m == Method::POST => {
            write::preupload(ctx, kind, ns, name, rev, body).await
        }
        ["commit", rev] if m == Method::POST => write::commit(ctx, kind, ns, name, rev, body).await,
        ["settings"] if m == Method::PUT => repos::settings(ctx, kind, ns, name, body).await,
        ["gate"] if get => access::gate_info(ctx, kind, ns, name).await,
        ["ask-access"] if m == Method::POST => access::ask_access(ctx, kind, ns, name, body).await,
        ["user-access-request", "handle"] if m == Method::POST => {
            access::handle(ctx, kind, ns, name, body).await
        }
        ["user-access-request", "grant"] if m == Method::POST => {
            access::grant(ctx, kind, ns, name, body).await
        }
        ["user-access-request", status] if get => access::list(ctx, kind, ns, name, status).await,
        ["branch", branch] if m == Method::POST => {
            refs::create_branch(ctx, kind, ns, name, branch, body).await
        }
        ["branch", branch] if m == Method::DELETE => {
            refs::delete_branch(ctx, kind, ns, name, branch).await
        }
        ["tag", rev] if m == Method::POST => refs::create_tag(ctx, kind, ns, name, rev, body).await,
        ["tag", tag] if m == Method::DELETE => refs::delete_tag(ctx, kind, ns, name, tag).await,
        ["like"] if m == Method::POST => likes::set(ctx, kind, ns, name, true).await,
        ["like"] if m == Method::DELETE => likes::set(ctx, kind, ns, name, false).await,
        ["likers"] if get => likes::likers(ctx, kind, ns, name).await,
        ["lfs-files"] if get => accounts::lfs_files(ctx, kind, ns, name).await,
        ["duplicate"] if m == Method::POST => repos::duplicate(ctx, kind, ns, name, body).await,
        ["super-squash", branch] if m == Method::POST => {
            refs::super_squash(ctx, kind, ns, name, branch, body).await
        }
        ["xet-write-token", ..] | ["xet-read-token", ..] => {
            ctx.readable(kind, ns, name).await?;
            Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "This hub does not support Xet transfers; uploads use Git LFS: set HF_HUB_DISABLE_XET=1 in the uploading client's environment",
            ))
        }
        _ => Err(ApiError::not_found(format!(
            "No such endpoint for {}/{ns}/{name}",
            kind.plural()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_500() {
        let answer = guarded(async {
            if std::hint::black_box(true) {
                panic!("a bug reached by input");
            }
            Ok(StatusCode::OK.into_response())
        })
        .await;
        let e = answer.expect_err("a panic is an error answer");
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            guarded(async { Ok(StatusCode::OK.into_response()) })
                .await
                .is_ok()
        );
    }
}
