//! Writes: validate-yaml, preupload, the NDJSON commit, branches and tags.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;
use serde_json::{Value, json};

use super::read::at_rev;
use super::{ApiError, ApiResult, Ctx, json_body};
use crate::audit;
use crate::db;
use crate::git::{self, FileEntry};
use crate::repo::{self, Change, CommitError, CommitInfo, Repo, RepoKind};
use weighhouse_store::Sha256;

/// Files at least this large go to LFS whatever their name (HF's rule: 10 MB).
pub const LFS_THRESHOLD: u64 = 10_000_000;
/// Longest NDJSON line (an inline base64 file of 64 MiB fits).
const MAX_LINE: usize = 96 << 20;
/// Most operations in one commit.
const MAX_OPS: usize = 100_000;

pub(crate) async fn validate_yaml(body: Body) -> ApiResult {
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        content: String,
        #[serde(default, rename = "repoType")]
        repo_type: Option<String>,
    }
    let req: Req = json_body(body).await?;
    let repo_type = req.repo_type.as_deref().unwrap_or("model");
    if !matches!(repo_type, "model" | "dataset" | "space") {
        return Err(ApiError::bad_request(format!(
            "repoType must be model, dataset or space, not {repo_type}"
        )));
    }
    let (errors, warnings) = card_metadata_findings(&req.content, repo_type);
    let body = json!({
        "errors": errors.iter().map(|m| json!({"message": m})).collect::<Vec<_>>(),
        "warnings": warnings.iter().map(|m| json!({"message": m})).collect::<Vec<_>>(),
    });
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, axum::Json(body)).into_response())
}

/// Refuse a commit whose new root `README.md` has metadata errors, as the Hub does.
async fn check_card(ctx: &Ctx, kind: RepoKind, ops: &[Op]) -> Result<(), ApiError> {
    let readme = ops.iter().rev().find_map(|op| match op {
        Op::File {
            path, sha, size, ..
        }
        | Op::Lfs { path, sha, size }
            if path == "README.md" =>
        {
            Some((*sha, *size))
        }
        _ => None,
    });
    let Some((sha, size)) = readme else {
        return Ok(());
    };
    if size > weighhouse_card::frontmatter::MAX_CARD as u64 {
        return Ok(());
    }
    let Ok(bytes) = ctx.app.store.read_all(&sha, size).await else {
        // An LFS README not uploaded yet: the commit fails on the missing object anyway.
        return Ok(());
    };
    let (errors, _) = card_metadata_findings(&String::from_utf8_lossy(&bytes), kind.singular());
    if errors.is_empty() {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "Invalid metadata in README.md: {}",
        errors.join("; ")
    )))
}

/// The metadata errors and warnings of a card, as the Hub reports them: the card lint's
/// front-matter rules (`weighhouse_card::lint` in metadata mode).
pub(crate) fn card_metadata_findings(content: &str, repo_type: &str) -> (Vec<String>, Vec<String>) {
    use weighhouse_card::lint::{Mode, Options, Severity, lint};
    let card = weighhouse_card::Card::parse(content);
    let opts = Options {
        mode: Mode::Metadata,
        repo_type,
        ..Options::default()
    };
    let report = lint(&card, &opts);
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for f in report.findings {
        match f.severity {
            Severity::Error => errors.push(f.message),
            Severity::Warning | Severity::Policy => warnings.push(f.message),
            Severity::Info => {}
        }
    }
    (errors, warnings)
}

/// The LFS patterns of a `.gitattributes` file, in order; the last match decides.
#[derive(Debug, Default)]
pub struct Attributes {
    rules: Vec<(GlobMatcher, bool, bool)>,
}

impl Attributes {
    /// Parse `.gitattributes` text.
    pub fn parse(text: &str) -> Self {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let Some(pattern) = parts.next() else {
                continue;
            };
            let lfs = parts.fold(None, |acc, a| match a {
                "filter=lfs" => Some(true),
                "-filter" | "!filter" => Some(false),
                a if a.starts_with("filter=") => Some(false),
                _ => acc,
            });
            let Some(lfs) = lfs else { continue };
            let anchored = pattern.trim_start_matches('/').contains('/');
            let glob = pattern.trim_start_matches('/');
            if let Ok(g) = GlobBuilder::new(glob).literal_separator(true).build() {
                rules.push((g.compile_matcher(), anchored, lfs));
            }
        }
        Self { rules }
    }

    /// Whether `path` is stored with LFS.
    pub fn is_lfs(&self, path: &str) -> bool {
        let base = path.rsplit('/').next().unwrap_or(path);
        let mut result = false;
        for (m, anchored, lfs) in &self.rules {
            let hit = if *anchored {
                m.is_match(path)
            } else {
                m.is_match(base)
            };
            if hit {
                result = *lfs;
            }
        }
        result
    }
}

/// Whether a file goes to LFS: its name matches `.gitattributes`, it is large, or it is binary.
/// Empty files never do (the clients commit them as regular files).
pub fn wants_lfs(attrs: &Attributes, path: &str, size: u64, sample: &[u8]) -> bool {
    size > 0 && (attrs.is_lfs(path) || size >= LFS_THRESHOLD || sample.contains(&0))
}

async fn attributes_at(ctx: &Ctx, snap: &repo::Snapshot) -> Attributes {
    let Some(f) = snap.file(".gitattributes") else {
        return Attributes::default();
    };
    let Ok(sha) = f.sha256.parse::<Sha256>() else {
        return Attributes::default();
    };
    match ctx.app.store.read_all(&sha, 1 << 20).await {
        Ok(b) => Attributes::parse(&String::from_utf8_lossy(&b)),
        Err(_) => Attributes::default(),
    }
}

fn glob_set(text: &str) -> Vec<GlobMatcher> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let l = l.trim_start_matches('/').trim_end_matches('/');
            GlobBuilder::new(l)
                .literal_separator(l.contains('/'))
                .build()
                .ok()
                .map(|g| g.compile_matcher())
        })
        .collect()
}

fn ignored(globs: &[GlobMatcher], path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    globs.iter().any(|g| {
        g.is_match(path)
            || parts.iter().any(|p| g.is_match(p))
            || (1..parts.len()).any(|i| g.is_match(parts[..i].join("/")))
    })
}

pub(crate) async fn preupload(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    rev: &str,
    body: Body,
) -> ApiResult {
    #[derive(Deserialize)]
    struct File {
        path: String,
        #[serde(default)]
        sample: String,
        #[serde(default)]
        size: u64,
    }
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        files: Vec<File>,
        #[serde(rename = "gitIgnore")]
        git_ignore: Option<String>,
    }
    let repo = ctx.writable(kind, ns, name).await?;
    let req: Req = json_body(body).await?;
    if req.files.len() > 1000 {
        return Err(ApiError::bad_request(
            "At most 1000 files per preupload request",
        ));
    }
    let (head, snap) = at_rev(ctx, &repo, rev).await?;
    let attrs = attributes_at(ctx, &snap).await;
    let mut ignore_text = req.git_ignore.unwrap_or_default();
    if let Some(f) = snap.file(".gitignore")
        && let Ok(sha) = f.sha256.parse::<Sha256>()
        && let Ok(b) = ctx.app.store.read_all(&sha, 1 << 20).await
    {
        ignore_text.push('\n');
        ignore_text.push_str(&String::from_utf8_lossy(&b));
    }
    let ignore = glob_set(&ignore_text);
    let mut out = Vec::new();
    for f in req.files {
        git::check_path(&f.path).map_err(ApiError::bad_request)?;
        let sample = base64::engine::general_purpose::STANDARD
            .decode(f.sample.as_bytes())
            .unwrap_or_default();
        let lfs = wants_lfs(&attrs, &f.path, f.size, &sample);
        let mut v = json!({
            "path": f.path,
            "uploadMode": if lfs { "lfs" } else { "regular" },
            "shouldIgnore": ignored(&ignore, &f.path),
        });
        if let Some(existing) = snap.file(&f.path) {
            v["oid"] = json!(if existing.lfs {
                &existing.sha256
            } else {
                &existing.oid
            });
        }
        out.push(v);
    }
    Ok(axum::Json(json!({"files": out, "commitOid": head})).into_response())
}

/// One parsed commit operation.
enum Op {
    File {
        path: String,
        sha: Sha256,
        size: u64,
        sample: Vec<u8>,
        content_oid: String,
    },
    Lfs {
        path: String,
        sha: Sha256,
        size: u64,
    },
    Delete(String),
    DeleteFolder(String),
}

#[derive(Deserialize)]
struct Line {
    key: String,
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "parentCommit")]
    parent_commit: Option<String>,
}

async fn record_blob(ctx: &Ctx, sha: &Sha256, size: u64) -> ApiResult<()> {
    let mut tx = db::write(&ctx.app.db).await?;
    sqlx::query("INSERT OR IGNORE INTO blobs (sha256, size, created_at) VALUES (?, ?, ?)")
        .bind(sha.to_string())
        .bind(size as i64)
        .bind(db::now_ms())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// One decoded NDJSON line of a commit, before anything is stored.
#[derive(Debug)]
pub enum Decoded {
    /// The header: title, description, expected parent.
    Header {
        /// Title.
        summary: String,
        /// Description.
        description: String,
        /// Expected parent commit.
        parent: Option<String>,
    },
    /// A regular file with its content.
    File {
        /// Path.
        path: String,
        /// Decoded content.
        content: Vec<u8>,
    },
    /// An LFS file by digest.
    Lfs {
        /// Path.
        path: String,
        /// Content digest.
        sha: Sha256,
        /// Announced size, if any.
        size: Option<u64>,
    },
    /// A file to delete.
    Delete(String),
    /// A folder to delete.
    DeleteFolder(String),
}

/// Decode and check one line (`n` counts from 1). `None` for a blank line. Every path is checked.
pub fn decode_line(line: &[u8], n: usize) -> Result<Option<Decoded>, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let l: Line = serde_json::from_slice(line)
        .map_err(|e| format!("Line {n} is not a valid JSON object: {e}"))?;
    let v = &l.value;
    let field = |key: &str| -> Result<&str, String> {
        v.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("Line {n}: missing string field {key:?}"))
    };
    let path = |key: &str| -> Result<String, String> {
        let p = field(key)?;
        git::check_path(p)?;
        Ok(p.to_string())
    };
    let decoded = match l.key.as_str() {
        "header" => {
            let h: Header = serde_json::from_value(v.clone())
                .map_err(|e| format!("Invalid commit header: {e}"))?;
            if h.summary.trim().is_empty() {
                return Err("The commit summary (title) must not be empty".into());
            }
            Decoded::Header {
                summary: h.summary,
                description: h.description,
                parent: h.parent_commit,
            }
        }
        "file" => {
            let path = path("path")?;
            let encoding = v
                .get("encoding")
                .and_then(Value::as_str)
                .unwrap_or("base64");
            if encoding != "base64" {
                return Err(format!("Line {n}: unsupported encoding {encoding:?}"));
            }
            let content = base64::engine::general_purpose::STANDARD
                .decode(field("content")?.as_bytes())
                .map_err(|e| format!("Line {n}: content is not valid base64: {e}"))?;
            Decoded::File { path, content }
        }
        "lfsFile" => {
            let path = path("path")?;
            if let Some(algo) = v.get("algo").and_then(Value::as_str)
                && algo != "sha256"
            {
                return Err(format!("Line {n}: unsupported LFS hash algorithm {algo:?}"));
            }
            let sha: Sha256 = field("oid")?
                .parse()
                .map_err(|e| format!("Line {n}: {e}"))?;
            Decoded::Lfs {
                path,
                sha,
                size: v.get("size").and_then(Value::as_u64),
            }
        }
        "deletedFile" => Decoded::Delete(path("path")?),
        "deletedFolder" => {
            let p = field("path")?.trim_end_matches('/');
            git::check_path(p)?;
            Decoded::DeleteFolder(p.to_string())
        }
        other => return Err(format!("Line {n}: unknown operation {other:?}")),
    };
    Ok(Some(decoded))
}

async fn parse_line(
    ctx: &Ctx,
    line: &[u8],
    n: usize,
    header: &mut Option<Header>,
    ops: &mut Vec<Op>,
) -> ApiResult<()> {
    let Some(decoded) = decode_line(line, n).map_err(ApiError::bad_request)? else {
        return Ok(());
    };
    let is_header = matches!(decoded, Decoded::Header { .. });
    if header.is_none() && !is_header {
        return Err(ApiError::bad_request(
            "The first line of a commit must be its header",
        ));
    }
    if header.is_some() && is_header {
        return Err(ApiError::bad_request(format!(
            "Line {n}: a commit has one header"
        )));
    }
    if ops.len() >= MAX_OPS {
        return Err(ApiError::bad_request(format!(
            "At most {MAX_OPS} operations per commit"
        )));
    }
    match decoded {
        Decoded::Header {
            summary,
            description,
            parent,
        } => {
            *header = Some(Header {
                summary,
                description,
                parent_commit: parent,
            });
        }
        Decoded::File { path, content } => {
            let size = content.len() as u64;
            let sample = content[..content.len().min(512)].to_vec();
            let content_oid = git::blob_id(&content);
            let sha = ctx.app.store.put_bytes(Bytes::from(content)).await?;
            record_blob(ctx, &sha, size).await?;
            ops.push(Op::File {
                path,
                sha,
                size,
                sample,
                content_oid,
            });
        }
        Decoded::Lfs { path, sha, size } => {
            let Some(stored) = ctx.app.store.size(&sha).await? else {
                return Err(ApiError::bad_request(format!(
                    "LFS object {sha} for {path:?} was never uploaded (or its upload did not complete); upload it through the LFS batch API first"
                )));
            };
            if let Some(size) = size
                && size != stored
            {
                return Err(ApiError::bad_request(format!(
                    "Line {n}: LFS object {sha} has {stored} bytes, not {size}"
                )));
            }
            ops.push(Op::Lfs {
                path,
                sha,
                size: stored,
            });
        }
        Decoded::Delete(p) => ops.push(Op::Delete(p)),
        Decoded::DeleteFolder(p) => ops.push(Op::DeleteFolder(p)),
    }
    Ok(())
}

fn branch_of(ctx: &Ctx, rev: &str) -> ApiResult<String> {
    if ctx.q_bool("create_pr") {
        return Err(ApiError::bad_request(
            "Pull requests are not supported by this hub; commit to a branch instead",
        ));
    }
    let branch = rev.strip_prefix("refs/heads/").unwrap_or(rev);
    Ok(branch.to_string())
}

async fn not_a_branch(ctx: &Ctx, repo: &Repo, branch: &str) -> ApiError {
    match repo::resolve(&ctx.app.db, repo.id, branch).await {
        Ok(Some(_)) => ApiError::bad_request(format!(
            "{branch:?} is not a branch; commits go to branches only"
        )),
        _ => ApiError::revision_not_found(branch),
    }
}

pub(crate) async fn commit(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    rev: &str,
    body: Body,
) -> ApiResult {
    let repo = ctx.writable(kind, ns, name).await?;
    let caller = ctx.require_caller()?.clone();
    let branch = branch_of(ctx, rev)?;
    let head = repo::resolve(&ctx.app.db, repo.id, &format!("refs/heads/{branch}")).await?;
    let Some(head) = head else {
        return Err(not_a_branch(ctx, &repo, &branch).await);
    };

    // Stream the NDJSON body line by line; inline file contents go to the blob store as they come.
    let mut header = None;
    let mut ops = Vec::new();
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    let mut n = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("Could not read the request body: {e}")))?;
        buf.extend_from_slice(&chunk);
        while let Some(i) = buf.iter().position(|&b| b == b'\n') {
            let line = buf.split_to(i + 1);
            n += 1;
            parse_line(ctx, &line[..i], n, &mut header, &mut ops).await?;
        }
        if buf.len() > MAX_LINE {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Line {} is longer than {MAX_LINE} bytes", n + 1),
            ));
        }
    }
    if !buf.is_empty() {
        n += 1;
        parse_line(ctx, &buf, n, &mut header, &mut ops).await?;
    }
    let Some(header) = header else {
        return Err(ApiError::bad_request("Empty commit: no header line"));
    };
    check_card(ctx, kind, &ops).await?;

    // The LFS rule uses the `.gitattributes` the commit itself brings, if any.
    let snap = repo::snapshot(&ctx.app.db, &ctx.app.cache, repo.id, &head)
        .await?
        .ok_or_else(|| ApiError::internal("missing head snapshot"))?;
    let new_attrs = ops.iter().rev().find_map(|op| match op {
        Op::File { path, sha, .. } if path == ".gitattributes" => Some(*sha),
        _ => None,
    });
    let attrs = match new_attrs {
        Some(sha) => Attributes::parse(&String::from_utf8_lossy(
            &ctx.app
                .store
                .read_all(&sha, 1 << 20)
                .await
                .unwrap_or_default(),
        )),
        None => attributes_at(ctx, &snap).await,
    };
    let mut changes = Vec::with_capacity(ops.len());
    let mut summary: HashMap<&str, usize> = HashMap::new();
    for op in ops {
        let change = match op {
            Op::File {
                path,
                sha,
                size,
                sample,
                content_oid,
            } => {
                if wants_lfs(&attrs, &path, size, &sample) {
                    *summary.entry("lfs").or_default() += 1;
                    Change::Put(FileEntry::lfs(path, &sha, size))
                } else {
                    *summary.entry("files").or_default() += 1;
                    Change::Put(FileEntry {
                        path,
                        size,
                        sha256: sha.to_string(),
                        lfs: false,
                        oid: content_oid,
                    })
                }
            }
            Op::Lfs { path, sha, size } => {
                *summary.entry("lfs").or_default() += 1;
                Change::Put(FileEntry::lfs(path, &sha, size))
            }
            Op::Delete(p) => {
                *summary.entry("deleted").or_default() += 1;
                Change::Delete(p)
            }
            Op::DeleteFolder(p) => {
                *summary.entry("deletedFolders").or_default() += 1;
                Change::DeleteFolder(p)
            }
        };
        changes.push(change);
    }
    let info = CommitInfo {
        author: caller.name.clone(),
        email: caller
            .email
            .clone()
            .unwrap_or_else(|| format!("{}@users.weighhouse.invalid", caller.name)),
        title: header.summary,
        description: header.description,
        parent: header.parent_commit,
    };
    let detail = json!({"title": info.title, "changes": summary});
    let c = repo::commit_changes(
        &ctx.app.db,
        &ctx.app.cache,
        &repo,
        &branch,
        &changes,
        &info,
        &ctx.actor(),
        detail,
    )
    .await
    .map_err(|e| match e {
        CommitError::NoBranch(b) => ApiError::revision_not_found(&b),
        CommitError::ParentMismatch { .. } => {
            ApiError::new(StatusCode::PRECONDITION_FAILED, e.to_string())
        }
        CommitError::Missing(m) => ApiError {
            code: Some("EntryNotFound"),
            ..ApiError::not_found(m)
        },
        CommitError::Conflict(m) => ApiError::conflict(m),
        CommitError::Db(e) => e.into(),
    })?;
    let url = format!("{}/commit/{}", ctx.repo_url(kind, &repo.full_name()), c.oid);
    Ok(
        axum::Json(
            json!({"success": true, "commitOid": c.oid, "commitUrl": url, "hookOutput": ""}),
        )
        .into_response(),
    )
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitattributes_rules() {
        let a = Attributes::parse(crate::repo::DEFAULT_GITATTRIBUTES);
        assert!(a.is_lfs("model.safetensors"));
        assert!(a.is_lfs("sub/dir/pytorch_model.bin"));
        assert!(a.is_lfs("saved_model/variables/x.data"));
        assert!(!a.is_lfs("config.json"));
        assert!(!a.is_lfs("README.md"));
        let b = Attributes::parse(
            "*.json filter=lfs diff=lfs\nsmall.json -filter\n/top/*.txt filter=lfs\n",
        );
        assert!(b.is_lfs("a/x.json"));
        assert!(!b.is_lfs("a/small.json"));
        assert!(b.is_lfs("top/a.txt"));
        assert!(!b.is_lfs("other/top/a.txt"));
        assert!(wants_lfs(&Attributes::default(), "x.txt", 10, b"a\0b"));
        assert!(wants_lfs(
            &Attributes::default(),
            "x.txt",
            LFS_THRESHOLD,
            b"abc"
        ));
        assert!(!wants_lfs(&a, "empty.safetensors", 0, b""));
    }

    #[test]
    fn gitignore_rules() {
        let g = glob_set("*.log\nbuild/\n# comment\n/cache/x\n");
        assert!(ignored(&g, "a.log"));
        assert!(ignored(&g, "sub/a.log"));
        assert!(ignored(&g, "build/out.bin"));
        assert!(ignored(&g, "cache/x"));
        assert!(!ignored(&g, "model.bin"));
    }
}
