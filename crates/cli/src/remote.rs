//! A small client for a hub's HTTP API (a Weighhouse hub or any Hugging Face-compatible one):
//! JSON calls and file downloads, with the token and endpoint from flags or the environment.

use std::time::Duration;

use serde_json::Value;

use crate::UserError;

/// Largest JSON answer or small file read into memory.
const MAX_BODY: u64 = 64 << 20;

/// A hub and who is calling it.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Base URL without a trailing slash.
    pub endpoint: String,
    token: Option<String>,
    /// `model`, `dataset` or `space`.
    pub repo_type: String,
    /// Revision to read.
    pub revision: String,
    agent: ureq::Agent,
}

/// The result of a call that did not succeed.
#[derive(Debug)]
pub struct HttpError {
    /// HTTP status.
    pub status: u16,
    /// `X-Error-Code`.
    pub code: Option<String>,
    /// `X-Error-Message`, or the body's `error`, or the body.
    pub message: String,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)
    }
}

impl std::error::Error for HttpError {}

impl Remote {
    /// A client for the hub at `endpoint` (no trailing slash needed), calling with `token`.
    pub fn new(endpoint: &str, token: Option<String>, repo_type: &str, revision: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .user_agent(concat!("wh/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token,
            repo_type: repo_type.to_string(),
            revision: revision.to_string(),
            agent,
        }
    }

    /// Whether a token is set.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// `/api/models/ns/name` (or datasets/spaces).
    pub fn api_repo(&self, repo: &str) -> String {
        format!("{}/api/{}s/{repo}", self.endpoint, self.repo_type)
    }

    /// The URL of a file at the remote's revision.
    pub fn file_url(&self, repo: &str, path: &str) -> String {
        let prefix = match self.repo_type.as_str() {
            "dataset" => "datasets/",
            "space" => "spaces/",
            _ => "",
        };
        let rev: String = url_escape(&self.revision);
        let path: String = path
            .split('/')
            .map(url_escape)
            .collect::<Vec<_>>()
            .join("/");
        format!("{}/{prefix}{repo}/resolve/{rev}/{path}", self.endpoint)
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, ureq::http::HeaderMap, Vec<u8>)> {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let result = match body {
            Some(b) => {
                let req = req
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(b)?)?;
                self.agent.run(req)
            }
            None => self.agent.run(req.body(())?),
        };
        let mut resp = result.map_err(|e| UserError(format!("cannot reach {url}: {e}")))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| UserError(format!("reading the answer of {url}: {e}")))?;
        Ok((status, headers, bytes))
    }

    /// A call returning JSON; non-2xx answers become [`HttpError`].
    pub fn json(&self, method: &str, url: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let (status, headers, bytes) = self.send(method, url, body)?;
        if !(200..300).contains(&status) {
            return Err(http_error(status, &headers, &bytes).into());
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| UserError(format!("{url} did not answer JSON: {e}")).into())
    }

    /// A file's bytes at the revision; `Ok(None)` when the hub says it does not exist (404).
    pub fn file(&self, repo: &str, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let url = self.file_url(repo, path);
        let (status, headers, bytes) = self.send("GET", &url, None)?;
        if status == 404 {
            let code = header(&headers, "x-error-code");
            if code.as_deref() == Some("RepoNotFound") {
                return Err(http_error(status, &headers, &bytes).into());
            }
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(http_error(status, &headers, &bytes).into());
        }
        Ok(Some(bytes))
    }

    /// Paths and sizes of every file at the revision (`GET .../tree/REV?recursive=true`, all pages).
    pub fn list(&self, repo: &str) -> anyhow::Result<Vec<(String, u64)>> {
        let mut url = format!(
            "{}/tree/{}?recursive=true",
            self.api_repo(repo),
            url_escape(&self.revision)
        );
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let (status, headers, bytes) = self.send("GET", &url, None)?;
            if !(200..300).contains(&status) {
                return Err(http_error(status, &headers, &bytes).into());
            }
            let page: Value = serde_json::from_slice(&bytes)
                .map_err(|e| UserError(format!("{url} did not answer JSON: {e}")))?;
            for item in page.as_array().into_iter().flatten() {
                if item["type"] == "file" {
                    let path = item["path"].as_str().unwrap_or_default().to_string();
                    let size = item["lfs"]["size"]
                        .as_u64()
                        .or(item["size"].as_u64())
                        .unwrap_or(0);
                    out.push((path, size));
                }
            }
            match next_link(&headers) {
                Some(next) => url = next,
                None => return Ok(out),
            }
        }
        Ok(out)
    }
}

fn header(headers: &ureq::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn http_error(status: u16, headers: &ureq::http::HeaderMap, body: &[u8]) -> HttpError {
    let from_body = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string));
    let message = header(headers, "x-error-message")
        .or(from_body)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned());
    HttpError {
        status,
        code: header(headers, "x-error-code"),
        message,
    }
}

fn next_link(headers: &ureq::http::HeaderMap) -> Option<String> {
    let link = header(headers, "link")?;
    link.split(',').find_map(|part| {
        let (url, rest) = part.split_once(';')?;
        rest.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// Percent-encode one path segment.
pub fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A repository on a hub, seen through [`weighhouse_card::Files`]: the listing is fetched once;
/// files are downloaded when read (only the prefix asked for, with a Range request).
#[derive(Debug)]
pub struct RemoteRepo {
    remote: Remote,
    repo: String,
    entries: Vec<weighhouse_card::files::Entry>,
}

impl RemoteRepo {
    /// List `repo` at the remote's revision.
    pub fn open(remote: &Remote, repo: &str) -> anyhow::Result<Self> {
        let mut entries: Vec<_> = remote
            .list(repo)?
            .into_iter()
            .map(|(path, size)| weighhouse_card::files::Entry { path, size })
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Self {
            remote: remote.clone(),
            repo: repo.to_string(),
            entries,
        })
    }
}

impl weighhouse_card::Files for RemoteRepo {
    fn entries(&self) -> Vec<weighhouse_card::files::Entry> {
        self.entries.clone()
    }

    fn read_prefix(&self, path: &str, limit: u64) -> Option<Vec<u8>> {
        if limit == 0 || !self.entries.iter().any(|e| e.path == path) {
            return None;
        }
        let url = self.remote.file_url(&self.repo, path);
        let mut req = ureq::http::Request::builder()
            .method("GET")
            .uri(&url)
            .header("range", format!("bytes=0-{}", limit - 1));
        if let Some(t) = &self.remote.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let mut resp = self.remote.agent.run(req.body(()).ok()?).ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let mut bytes = resp
            .body_mut()
            .with_config()
            .limit(limit.min(MAX_BODY))
            .read_to_vec()
            .ok()?;
        bytes.truncate(limit as usize);
        Some(bytes)
    }
}
