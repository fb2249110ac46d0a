//! Read-only repository endpoints: info, tree, paths-info, refs, commits.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, App, Ctx, body_bytes};
use crate::db;
use crate::git::FileEntry;
use crate::repo::{self, Repo, RepoKind, Snapshot};

pub(crate) fn home(ctx: &Ctx) -> Response {
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>Weighhouse</title>\
         <h1>Weighhouse</h1><p>An open-weights hub. Point Hugging Face clients at it with \
         <code>HF_ENDPOINT={}</code>.</p>",
        ctx.base
    ))
    .into_response()
}

/// One repository of a listing.
struct Listed {
    id: i64,
    namespace: String,
    name: String,
    private: bool,
    created_at: i64,
    updated_at: i64,
    sha: Option<String>,
    likes: i64,
    downloads: i64,
    downloads_all_time: i64,
}

/// Whether the query asks for a property with `expand=NAME` (or `expand[]=NAME`).
pub(crate) fn expands(ctx: &Ctx, name: &str) -> bool {
    ctx.query
        .iter()
        .any(|(k, v)| (k == "expand" || k == "expand[]") && v == name)
}

/// `GET /api/models` (and datasets, spaces): the repositories the caller may see, filtered by
/// `author` and `search` (a substring of the id), sorted by `sort` (`downloads`, `likes`,
/// `createdAt`, `lastModified`, `id`; most recently updated first by default; `direction=1`
/// for ascending), `limit` at a time.
pub(crate) async fn list(ctx: &Ctx, kind: RepoKind) -> ApiResult {
    use sqlx::Row;
    let author = ctx.q("author").map(str::to_ascii_lowercase);
    let search = ctx.q("search").map(str::to_ascii_lowercase);
    let limit: usize = ctx
        .q("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(1000)
        .clamp(1, 1000);
    let offset: usize = ctx.q("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let since = crate::stats::day_of(db::now_ms()) - (crate::stats::RECENT_DAYS - 1);
    let rows = sqlx::query(
        "SELECT r.id, r.namespace, r.name, r.private, r.created_at, r.updated_at, f.target,
                (SELECT COUNT(*) FROM likes l WHERE l.repo_id = r.id),
                (SELECT COALESCE(SUM(d.count), 0) FROM downloads d WHERE d.repo_id = r.id AND d.day >= ?),
                (SELECT COALESCE(SUM(d.count), 0) FROM downloads d WHERE d.repo_id = r.id)
         FROM repos r LEFT JOIN refs f ON f.repo_id = r.id AND f.name = 'refs/heads/main'
         WHERE r.kind = ? ORDER BY r.updated_at DESC, r.id DESC",
    )
    .bind(since)
    .bind(kind.singular())
    .fetch_all(&ctx.app.db)
    .await?;
    let mut rows: Vec<Listed> = rows
        .iter()
        .map(|r| {
            let id: i64 = r.get(0);
            let (recent, all) = ctx.app.download_counts.unwritten(id);
            Listed {
                id,
                namespace: r.get(1),
                name: r.get(2),
                private: r.get::<i64, _>(3) != 0,
                created_at: r.get(4),
                updated_at: r.get(5),
                sha: r.get(6),
                likes: r.get(7),
                downloads: r.get::<i64, _>(8) + recent,
                downloads_all_time: r.get::<i64, _>(9) + all,
            }
        })
        .collect();
    let ascending = ctx.q("direction") == Some("1");
    let key = ctx.q("sort").unwrap_or("lastModified");
    match key {
        "downloads" => rows.sort_by_key(|r| std::cmp::Reverse(r.downloads)),
        "likes" | "trendingScore" | "trending_score" => {
            rows.sort_by_key(|r| std::cmp::Reverse(r.likes))
        }
        "createdAt" | "created_at" => rows.sort_by_key(|r| std::cmp::Reverse(r.created_at)),
        "id" | "modelId" => rows.sort_by(|a, b| {
            (
                a.namespace.to_ascii_lowercase(),
                a.name.to_ascii_lowercase(),
            )
                .cmp(&(
                    b.namespace.to_ascii_lowercase(),
                    b.name.to_ascii_lowercase(),
                ))
        }),
        "lastModified" | "last_modified" => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "Unknown sort {other:?}: use downloads, likes, createdAt, lastModified or id"
            )));
        }
    }
    if ascending {
        rows.reverse();
    }
    let all_time = expands(ctx, "downloadsAllTime");
    let mut roles: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    let mut out = Vec::new();
    let mut skipped = 0usize;
    let mut more = false;
    for r in rows {
        let ns = r.namespace.clone();
        let id = format!("{ns}/{}", r.name);
        if author
            .as_ref()
            .is_some_and(|a| ns.to_ascii_lowercase() != *a)
            || search
                .as_ref()
                .is_some_and(|s| !id.to_ascii_lowercase().contains(s.as_str()))
        {
            continue;
        }
        if r.private {
            let key = ns.to_ascii_lowercase();
            let visible = match roles.get(&key) {
                Some(v) => *v,
                None => {
                    let v = crate::auth::role_on(&ctx.app.db, ctx.caller.as_ref(), &ns)
                        .await?
                        .is_some();
                    roles.insert(key, v);
                    v
                }
            };
            if !visible {
                continue;
            }
        }
        if skipped < offset {
            skipped += 1;
            continue;
        }
        if out.len() == limit {
            more = true;
            break;
        }
        let mut v = json!({
            "_id": format!("{}-{}", kind.singular(), r.id),
            "id": id,
            "author": ns,
            "sha": r.sha,
            "private": r.private,
            "createdAt": db::iso_ms(r.created_at),
            "lastModified": db::iso_ms(r.updated_at),
            "likes": r.likes,
            "tags": [],
        });
        if kind != RepoKind::Space {
            v["downloads"] = json!(r.downloads);
            if all_time {
                v["downloadsAllTime"] = json!(r.downloads_all_time);
            }
        }
        if kind == RepoKind::Model {
            v["modelId"] = v["id"].clone();
        }
        out.push(v);
    }
    let mut resp = axum::Json(out).into_response();
    if more {
        let mut query: Vec<(String, String)> = ctx
            .query
            .iter()
            .filter(|(k, _)| k != "cursor")
            .cloned()
            .collect();
        query.push(("cursor".into(), (offset + limit).to_string()));
        let qs = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let url = format!("{}/api/{}?{qs}", ctx.base, kind.plural());
        if let Ok(v) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}

/// Resolve `rev` in `repo` to a commit and its files.
pub(crate) async fn at_rev(
    ctx: &Ctx,
    repo: &Repo,
    rev: &str,
) -> ApiResult<(String, Arc<Snapshot>)> {
    let oid = repo::resolve(&ctx.app.db, repo.id, rev)
        .await?
        .ok_or_else(|| ApiError::revision_not_found(rev))?;
    let snap = repo::snapshot(&ctx.app.db, &ctx.app.cache, repo.id, &oid)
        .await?
        .ok_or_else(|| {
            ApiError::internal(format!(
                "commit {oid} of {} has no snapshot",
                repo.full_name()
            ))
        })?;
    Ok((oid, snap))
}

fn file_json(f: &FileEntry) -> Value {
    let mut v = json!({"type": "file", "oid": f.oid, "size": f.size, "path": f.path});
    if f.lfs {
        v["lfs"] = json!({"oid": f.sha256, "size": f.size, "pointerSize": f.pointer_size()});
    }
    v
}

fn folder_json(path: &str, oid: &str) -> Value {
    json!({"type": "directory", "oid": oid, "size": 0, "path": path})
}

/// Parse the YAML front matter of a model card (the card crate's parser): `Ok(None)` when the
/// card has none.
pub fn front_matter(text: &str) -> Result<Option<Value>, String> {
    match weighhouse_card::Card::parse(text).front {
        Ok(m) => Ok(m.map(Value::Object)),
        Err(e) => Err(e.message),
    }
}

/// A small file of a commit as text (lossy UTF-8): `Ok(None)` when there is no such file or it
/// is larger than `limit`.
pub(crate) async fn small_text(
    app: &App,
    snap: &Snapshot,
    path: &str,
    limit: u64,
) -> ApiResult<Option<String>> {
    let Some(f) = snap.file(path) else {
        return Ok(None);
    };
    if f.size > limit {
        return Ok(None);
    }
    let sha = f.sha256.parse().map_err(ApiError::internal)?;
    let bytes = app.store.read_all(&sha, limit).await?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

async fn card_data(ctx: &Ctx, snap: &Snapshot) -> Option<Value> {
    let text = small_text(&ctx.app, snap, "README.md", 1 << 20)
        .await
        .ok()
        .flatten()?;
    front_matter(&text).ok().flatten()
}

pub(crate) async fn info(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    rev: Option<&str>,
) -> ApiResult {
    let repo = ctx.readable(kind, ns, name).await?;
    let (oid, snap) = at_rev(ctx, &repo, rev.unwrap_or("main")).await?;
    let commit = repo::commit(&ctx.app.db, repo.id, &oid).await?;
    let blobs = ctx.q_bool("blobs");
    let siblings: Vec<Value> = snap
        .files
        .iter()
        .map(|f| {
            if blobs {
                let mut v = json!({"rfilename": f.path, "size": f.size, "blobId": f.oid});
                if f.lfs {
                    v["lfs"] = json!({"sha256": f.sha256, "size": f.size, "pointerSize": f.pointer_size()});
                }
                v
            } else {
                json!({"rfilename": f.path})
            }
        })
        .collect();
    let card = card_data(ctx, &snap).await;
    let mut tags: Vec<Value> = Vec::new();
    if let Some(card) = &card {
        if let Some(Value::Array(t)) = card.get("tags") {
            tags.extend(t.iter().filter(|v| v.is_string()).cloned());
        }
        if let Some(Value::String(l)) = card.get("license") {
            tags.push(json!(format!("license:{l}")));
        }
    }
    let full = repo.full_name();
    let gated = if repo.gated == "false" {
        json!(false)
    } else {
        json!(repo.gated)
    };
    let modified = commit.as_ref().map_or(repo.created_at, |c| c.time * 1000);
    let (downloads, downloads_all_time) =
        ctx.app.download_counts.counts(&ctx.app.db, repo.id).await?;
    let mut v = json!({
        "_id": format!("{}-{}", repo.kind.singular(), repo.id),
        "id": full,
        "author": repo.namespace,
        "sha": oid,
        "lastModified": db::iso_ms(modified),
        "createdAt": db::iso_ms(repo.created_at),
        "private": repo.private,
        "gated": gated,
        "disabled": false,
        "downloads": downloads,
        "likes": super::likes::count(&ctx.app.db, repo.id).await?,
        "tags": tags,
        "siblings": siblings,
        "usedStorage": snap.total_size(),
        "xetEnabled": false,
    });
    if kind == RepoKind::Model {
        v["modelId"] = json!(full);
        v["library_name"] = card
            .as_ref()
            .and_then(|c| c.get("library_name"))
            .cloned()
            .unwrap_or(Value::Null);
        v["pipeline_tag"] = card
            .as_ref()
            .and_then(|c| c.get("pipeline_tag"))
            .cloned()
            .unwrap_or(Value::Null);
        v["spaces"] = json!([]);
    }
    if let Some(card) = card {
        v["cardData"] = card;
    }
    if expands(ctx, "downloadsAllTime") {
        v["downloadsAllTime"] = json!(downloads_all_time);
    }
    if kind == RepoKind::Space {
        // Spaces have no downloads.
        if let Some(o) = v.as_object_mut() {
            o.remove("downloads");
        }
    }
    Ok(axum::Json(v).into_response())
}

/// When each entry last changed: walk first-parent history from `head` while the entry stays
/// the same. Bounded, since it is only asked for with `expand=true` (pages of 50).
async fn last_commits(
    ctx: &Ctx,
    repo: &Repo,
    head: &str,
    entries: &[(String, String)],
) -> ApiResult<Vec<Value>> {
    const MAX_WALK: usize = 1000;
    let mut out = vec![Value::Null; entries.len()];
    let mut pending: Vec<usize> = (0..entries.len()).collect();
    let mut current = repo::commit(&ctx.app.db, repo.id, head).await?;
    let mut steps = 0;
    while let Some(c) = current {
        if pending.is_empty() || steps >= MAX_WALK {
            break;
        }
        steps += 1;
        let parent = match c.parents.first() {
            Some(p) => repo::snapshot(&ctx.app.db, &ctx.app.cache, repo.id, p).await?,
            None => None,
        };
        let info = json!({"id": c.oid, "title": c.title, "date": db::iso_ms(c.time * 1000)});
        pending.retain(|&i| {
            let (path, oid) = &entries[i];
            let same_in_parent = parent.as_ref().is_some_and(|p| {
                p.file(path)
                    .map(|f| &f.oid)
                    .or_else(|| p.folder(path))
                    .is_some_and(|o| o == oid)
            });
            if same_in_parent {
                true
            } else {
                out[i] = info.clone();
                false
            }
        });
        current = match c.parents.first() {
            Some(p) => repo::commit(&ctx.app.db, repo.id, p).await?,
            None => None,
        };
    }
    Ok(out)
}

pub(crate) async fn tree(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    rev: &str,
    path: &str,
) -> ApiResult {
    let repo = ctx.readable(kind, ns, name).await?;
    let (oid, snap) = at_rev(ctx, &repo, rev).await?;
    let path = path.trim_matches('/');
    if snap.folder(path).is_none() {
        return Err(ApiError::entry_not_found(path, Some(&oid)));
    }
    let recursive = ctx.q_bool("recursive");
    let expand = ctx.q_bool("expand");

    // Entries in path order, each folder before its content.
    let mut entries: Vec<Value> = Vec::new();
    let mut keys: Vec<(String, String)> = Vec::new();
    let prefix_len = if path.is_empty() { 0 } else { path.len() + 1 };
    let mut seen = std::collections::BTreeSet::new();
    let mut push_folder =
        |folder: &str, entries: &mut Vec<Value>, keys: &mut Vec<(String, String)>| {
            if seen.insert(folder.to_string()) {
                let oid = snap.folder(folder).cloned().unwrap_or_default();
                entries.push(folder_json(folder, &oid));
                keys.push((folder.to_string(), oid));
            }
        };
    for f in snap.files_under(path) {
        let rel = &f.path[prefix_len..];
        if recursive {
            let mut search = 0;
            while let Some(i) = rel[search..].find('/') {
                push_folder(&f.path[..prefix_len + search + i], &mut entries, &mut keys);
                search += i + 1;
            }
        } else if let Some(i) = rel.find('/') {
            push_folder(&f.path[..prefix_len + i], &mut entries, &mut keys);
            continue;
        }
        entries.push(file_json(f));
        keys.push((f.path.clone(), f.oid.clone()));
    }

    let page = if expand {
        ctx.app.config.page_size.min(50)
    } else {
        ctx.app.config.page_size
    };
    let start: usize = ctx.q("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let end = (start + page).min(entries.len());
    let start = start.min(end);
    let mut page_entries: Vec<Value> = entries[start..end].to_vec();
    if expand {
        let info = last_commits(ctx, &repo, &oid, &keys[start..end]).await?;
        for (e, c) in page_entries.iter_mut().zip(info) {
            if !c.is_null() {
                e["lastCommit"] = c;
            }
        }
    }
    let mut resp = axum::Json(page_entries).into_response();
    if end < entries.len() {
        let mut query: Vec<(String, String)> = ctx
            .query
            .iter()
            .filter(|(k, _)| k != "cursor")
            .cloned()
            .collect();
        query.push(("cursor".into(), end.to_string()));
        let qs = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let mut url = format!(
            "{}/api/{}/{}/{}/tree/{}",
            ctx.base,
            kind.plural(),
            repo.namespace,
            repo.name,
            enc(rev)
        );
        if !path.is_empty() {
            url.push('/');
            url.push_str(&enc(path));
        }
        url.push('?');
        url.push_str(&qs);
        if let Ok(v) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}

pub(crate) async fn paths_info(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    rev: &str,
    body: Body,
) -> ApiResult {
    let repo = ctx.readable(kind, ns, name).await?;
    let is_json = ctx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let bytes = body_bytes(body, 4 << 20).await?;
    let (paths, expand): (Vec<String>, bool) = if is_json {
        #[derive(serde::Deserialize)]
        struct Req {
            #[serde(default)]
            paths: Vec<String>,
            #[serde(default)]
            expand: bool,
        }
        let r: Req = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
        (r.paths, r.expand)
    } else {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
        let paths = pairs
            .iter()
            .filter(|(k, _)| k == "paths" || k == "paths[]")
            .map(|(_, v)| v.clone())
            .collect();
        let expand = pairs
            .iter()
            .any(|(k, v)| k == "expand" && matches!(v.as_str(), "1" | "true" | "True"));
        (paths, expand)
    };
    if paths.len() > 1000 {
        return Err(ApiError::bad_request("At most 1000 paths per request"));
    }
    let (oid, snap) = at_rev(ctx, &repo, rev).await?;
    let mut entries = Vec::new();
    let mut keys = Vec::new();
    for p in &paths {
        let p = p.trim_matches('/');
        if let Some(f) = snap.file(p) {
            entries.push(file_json(f));
            keys.push((f.path.clone(), f.oid.clone()));
        } else if let Some(t) = snap.folder(p).filter(|_| !p.is_empty()) {
            entries.push(folder_json(p, t));
            keys.push((p.to_string(), t.clone()));
        }
    }
    if expand {
        let info = last_commits(ctx, &repo, &oid, &keys).await?;
        for (e, c) in entries.iter_mut().zip(info) {
            if !c.is_null() {
                e["lastCommit"] = c;
            }
        }
    }
    Ok(axum::Json(entries).into_response())
}

pub(crate) async fn refs(ctx: &Ctx, kind: RepoKind, ns: &str, name: &str) -> ApiResult {
    let repo = ctx.readable(kind, ns, name).await?;
    let mut branches = Vec::new();
    let mut tags = Vec::new();
    let mut prs = Vec::new();
    for r in repo::refs(&ctx.app.db, repo.id).await? {
        if let Some(n) = r.name.strip_prefix("refs/heads/") {
            branches.push(json!({"name": n, "ref": r.name, "targetCommit": r.target}));
        } else if let Some(n) = r.name.strip_prefix("refs/tags/") {
            tags.push(json!({"name": n, "ref": r.name, "targetCommit": r.target}));
        } else if let Some(n) = r.name.strip_prefix("refs/pr/") {
            prs.push(json!({"name": n, "ref": r.name, "targetCommit": r.target}));
        }
    }
    let mut v = json!({"branches": branches, "tags": tags, "converts": []});
    if ctx.q_bool("include_prs") {
        v["pullRequests"] = json!(prs);
    }
    Ok(axum::Json(v).into_response())
}

pub(crate) async fn commits(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    rev: &str,
) -> ApiResult {
    let repo = ctx.readable(kind, ns, name).await?;
    let head = repo::resolve(&ctx.app.db, repo.id, rev)
        .await?
        .ok_or_else(|| ApiError::revision_not_found(rev))?;
    let page_size = ctx.app.config.page_size.min(50);
    let page: usize = ctx.q("p").and_then(|p| p.parse().ok()).unwrap_or(0);
    let (list, more) = repo::history(
        &ctx.app.db,
        repo.id,
        &head,
        page.saturating_mul(page_size),
        page_size,
    )
    .await?;
    let items: Vec<Value> = list
        .iter()
        .map(|c| {
            json!({
                "id": c.oid,
                "title": c.title,
                "message": c.message,
                "date": db::iso_ms(c.time * 1000),
                "authors": [{"user": c.author, "avatar": ""}],
            })
        })
        .collect();
    let mut resp = axum::Json(items).into_response();
    if more {
        let mut query: Vec<(String, String)> = ctx
            .query
            .iter()
            .filter(|(k, _)| k != "p")
            .cloned()
            .collect();
        query.push(("p".into(), (page + 1).to_string()));
        let qs = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let rev_enc =
            percent_encoding::utf8_percent_encode(rev, percent_encoding::NON_ALPHANUMERIC);
        let url = format!(
            "{}/api/{}/{}/{}/commits/{rev_enc}?{qs}",
            ctx.base,
            kind.plural(),
            repo.namespace,
            repo.name
        );
        if let Ok(v) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::front_matter;

    #[test]
    fn front_matter_parsing() {
        assert_eq!(front_matter("# hi").unwrap(), None);
        let v = front_matter("---\nlicense: mit\ntags: [a]\n---\n# Model\n")
            .unwrap()
            .unwrap();
        assert_eq!(v["license"], "mit");
        assert_eq!(
            front_matter("---\n---\ntext").unwrap().unwrap(),
            serde_json::json!({})
        );
        assert!(front_matter("---\nlicense: [mit\n---\n").is_err());
        assert!(front_matter("---\n- a\n- b\n---\n").is_err());
        assert!(front_matter("---\nlicense: mit\n").is_err());
    }
}
