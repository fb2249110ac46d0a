//! Writes: validate-yaml, preupload and the NDJSON commit.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::attributes::{Attributes, attributes_at, glob_set, ignored, wants_lfs};
use super::ndjson::{Decoded, Header, decode_line};
use super::read::at_rev;
use super::{ApiError, ApiResult, Ctx, json_body};
use crate::db;
use crate::git::{self, FileEntry};
use crate::repo::{self, Change, CommitInfo, Repo, RepoKind};
use weighhouse_store::Sha256;

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
    .await?;
    let url = format!("{}/commit/{}", ctx.repo_url(kind, &repo.full_name()), c.oid);
    Ok(
        axum::Json(
            json!({"success": true, "commitOid": c.oid, "commitUrl": url, "hookOutput": ""}),
        )
        .into_response(),
    )
}
