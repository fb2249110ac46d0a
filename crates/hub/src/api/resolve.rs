//! `HEAD|GET /{repo}/resolve/{rev}/{path}`: file contents with every header the clients read.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use serde_json::json;

use super::gate::{self, Access};
use super::read::at_rev;
use super::{ApiError, ApiResult, Ctx};
use crate::audit;
use crate::repo::RepoKind;

/// A parsed `Range` header, relative to a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Range {
    /// No range, or one we answer with the whole file (several ranges, or an unknown unit).
    Full,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// Nothing of the file is in the range.
    Unsatisfiable,
}

/// Parse a `Range` header for a file of `size` bytes.
pub fn parse_range(value: Option<&str>, size: u64) -> Range {
    let Some(v) = value else { return Range::Full };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Range::Full;
    };
    if spec.contains(',') {
        return Range::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // The last `n` bytes.
        let Ok(n) = b.parse::<u64>() else {
            return Range::Full;
        };
        if n == 0 || size == 0 {
            return Range::Unsatisfiable;
        }
        return Range::Part(size - n.min(size), size - 1);
    }
    let Ok(start) = a.parse::<u64>() else {
        return Range::Full;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return Range::Full,
        }
    };
    if start >= size {
        return Range::Unsatisfiable;
    }
    // Clients ask for one byte past the end (`bytes=0-<size>`): clamp.
    Range::Part(start, end.min(size - 1))
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "json" => "application/json",
        "md" | "txt" | "py" | "yaml" | "yml" | "jinja" | "gitattributes" | "csv" => {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

pub(crate) async fn resolve(
    ctx: &Ctx,
    method: &Method,
    kind: RepoKind,
    ns: &str,
    name: &str,
    rev: &str,
    path: &str,
) -> ApiResult {
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Use GET or HEAD",
        ));
    }
    let repo = ctx.readable(kind, ns, name).await?;
    let access = gate::check(ctx, &repo, Some(path)).await?;
    let (oid, snap) = at_rev(ctx, &repo, rev).await?;
    let Some(file) = snap.file(path) else {
        return Err(ApiError::entry_not_found(path, Some(&oid)));
    };
    ctx.app
        .download_counts
        .saw(repo.id, kind, path, ctx.ip.as_deref());
    let mut h = HeaderMap::new();
    h.insert("x-repo-commit", hv(&oid));
    h.insert(header::ETAG, hv(&format!("\"{}\"", file.oid)));
    if file.lfs {
        h.insert("x-linked-etag", hv(&format!("\"{}\"", file.sha256)));
    }
    h.insert("x-linked-size", hv(&file.size.to_string()));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    // Files are users' bytes: a browser that opens one runs nothing of it with the hub's origin.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    let filename = path.rsplit('/').next().unwrap_or(path);
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    h.insert(
        header::CONTENT_DISPOSITION,
        hv(&format!(
            "inline; filename*=UTF-8''{}; filename=\"{ascii}\";",
            utf8_percent_encode(filename, NON_ALPHANUMERIC)
        )),
    );
    let immutable = rev.len() == 40 && rev.eq_ignore_ascii_case(&oid);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );

    // hf-hub 1.x revalidates with If-None-Match.
    if let Some(inm) = ctx
        .headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        let matches = inm.split(',').any(|t| {
            let t = t.trim().trim_start_matches("W/").trim_matches('"');
            t == file.oid || t == file.sha256 || t == "*"
        });
        if matches {
            return Ok((StatusCode::NOT_MODIFIED, h).into_response());
        }
    }

    let size = file.size;
    let range = parse_range(
        ctx.headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        size,
    );
    let (status, start, end) = match range {
        Range::Full => (StatusCode::OK, 0, size),
        Range::Part(a, b) => {
            h.insert(header::CONTENT_RANGE, hv(&format!("bytes {a}-{b}/{size}")));
            (StatusCode::PARTIAL_CONTENT, a, b + 1)
        }
        Range::Unsatisfiable if size == 0 => {
            // A range of an empty file: answer the (empty) whole, with the size for hf-hub.
            h.insert(header::CONTENT_RANGE, hv("bytes */0"));
            (StatusCode::OK, 0, 0)
        }
        Range::Unsatisfiable => {
            h.insert(header::CONTENT_RANGE, hv(&format!("bytes */{size}")));
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, h).into_response());
        }
    };
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if method == Method::HEAD {
        return Ok((status, h, Body::empty()).into_response());
    }
    let sha = file.sha256.parse().map_err(ApiError::internal)?;
    let blob = ctx.app.store.open(&sha).await?;
    if blob.size() != size {
        return Err(ApiError::internal(format!(
            "blob {sha} has {} bytes, the tree says {size}",
            blob.size()
        )));
    }
    if access == Access::Granted {
        // Downloads of gated files by users outside the namespace are part of the audit trail.
        ctx.app
            .downloads
            .record(audit::Pending {
                actor: ctx.actor(),
                event: "download",
                target: json!({"repo": repo.audit_name(), "revision": oid}),
                data: json!({
                    "user": ctx.caller.as_ref().map(|c| &c.name),
                    "file": path,
                    "revision": rev,
                    "bytes": end - start,
                }),
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    let body = Body::from_stream(blob.stream(start..end));
    Ok((status, h, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::{Range, parse_range};

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Range::Full);
        assert_eq!(parse_range(Some("bytes=0-0"), 10), Range::Part(0, 0));
        assert_eq!(parse_range(Some("bytes=2-"), 10), Range::Part(2, 9));
        assert_eq!(parse_range(Some("bytes=0-10"), 10), Range::Part(0, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Range::Part(7, 9));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Range::Part(0, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-0"), 0), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Range::Full);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Range::Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), Range::Full);
        assert_eq!(parse_range(Some("bytes=x-1"), 10), Range::Full);
    }
}
