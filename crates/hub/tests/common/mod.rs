//! An in-process hub for the API, gating and audit tests: requests go straight to the router,
//! with a client address attached as the server attaches the peer's. Listings come in pages of 3,
//! so that paging is exercised.

#![expect(dead_code, reason = "each test file uses a different part")]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use weighhouse_hub::{Config, admin, api::App};

pub struct Hub {
    pub dir: tempfile::TempDir,
    pub app: Arc<App>,
    router: axum::Router,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The address every test request comes from.
pub const CLIENT: &str = "192.0.2.7";

impl Hub {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("data"), "127.0.0.1:0".parse().unwrap());
        config.public_url = Some("http://hub.test".into());
        config.page_size = 3;
        let app = weighhouse_hub::open(config).await.unwrap();
        let router = weighhouse_hub::router(Arc::clone(&app));
        Self { dir, app, router }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub async fn user(&self, name: &str) -> String {
        admin::create_user(self.app.db(), name, false)
            .await
            .unwrap()
    }

    pub async fn admin_user(&self, name: &str) -> String {
        admin::create_user(self.app.db(), name, true).await.unwrap()
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        content_type: &str,
        body: impl Into<Body>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if !content_type.is_empty() {
            b = b.header("content-type", content_type);
        }
        let mut req = b.body(body.into()).unwrap();
        let peer: SocketAddr = format!("{CLIENT}:40000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, uri, token, "", Body::empty()).await
    }

    pub async fn head(&self, uri: &str, token: Option<&str>) -> Resp {
        self.call(Method::HEAD, uri, token, "", Body::empty()).await
    }

    pub async fn post_json(&self, uri: &str, token: Option<&str>, v: Value) -> Resp {
        self.call(Method::POST, uri, token, "application/json", v.to_string())
            .await
    }

    pub async fn put_json(&self, uri: &str, token: Option<&str>, v: Value) -> Resp {
        self.call(Method::PUT, uri, token, "application/json", v.to_string())
            .await
    }

    /// Follow `Link: rel="next"` from `uri`, collecting `key` of every listed item.
    pub async fn all_pages(&self, uri: &str, key: &str) -> Vec<String> {
        let mut all = Vec::new();
        let mut uri = uri.to_string();
        loop {
            let r = self.get(&uri, None).await;
            all.extend(
                r.json()
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e[key].as_str().unwrap().to_string()),
            );
            let link = r.header("link").to_string();
            if link.is_empty() {
                return all;
            }
            uri = link
                .trim_start_matches("<http://hub.test")
                .split('>')
                .next()
                .unwrap()
                .to_string();
        }
    }

    /// `POST /api/repos/create`, whatever it answers.
    pub async fn create_repo_as(&self, token: &str, name: &str, private: bool) -> Resp {
        self.post_json(
            "/api/repos/create",
            Some(token),
            json!({"name": name, "private": private}),
        )
        .await
    }

    /// An NDJSON commit to `main`, whatever it answers.
    pub async fn commit_raw(&self, repo: &str, token: &str, lines: &[Value]) -> Resp {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        self.call(
            Method::POST,
            &format!("/api/models/{repo}/commit/main"),
            Some(token),
            "application/x-ndjson",
            body,
        )
        .await
    }

    pub async fn create_repo(&self, token: &str, name: &str) {
        let r = self
            .post_json("/api/repos/create", Some(token), json!({"name": name}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }

    /// Commit files (path, content) to `main`.
    pub async fn commit(&self, repo: &str, token: &str, files: &[(&str, &[u8])]) -> String {
        let mut lines =
            vec![json!({"key": "header", "value": {"summary": "update", "description": ""}})];
        for (path, content) in files {
            lines.push(json!({"key": "file", "value": {"path": path, "content": base64::engine::general_purpose::STANDARD.encode(content), "encoding": "base64"}}));
        }
        self.commit_lines(repo, token, &lines).await
    }

    pub async fn commit_lines(&self, repo: &str, token: &str, lines: &[Value]) -> String {
        let r = self.commit_raw(repo, token, lines).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()["commitOid"].as_str().unwrap().to_string()
    }

    pub async fn set_gated(&self, repo: &str, token: &str, gated: Value) {
        let r = self
            .put_json(
                &format!("/api/models/{repo}/settings"),
                Some(token),
                json!({ "gated": gated }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }

    /// The current agreement's SHA-256 as `/gate` shows it.
    pub async fn agreement_sha(&self, repo: &str) -> String {
        let r = self.get(&format!("/api/models/{repo}/gate"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()["agreement"]["sha256"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn ask(&self, repo: &str, token: &str, sha: &str, fields: Value) -> Resp {
        self.post_json(
            &format!("/api/models/{repo}/ask-access"),
            Some(token),
            json!({"agreement_sha256": sha, "fields": fields}),
        )
        .await
    }

    pub async fn handle(&self, repo: &str, token: &str, body: Value) -> Resp {
        self.post_json(
            &format!("/api/models/{repo}/user-access-request/handle"),
            Some(token),
            body,
        )
        .await
    }

    pub async fn audit(&self) -> Vec<Value> {
        weighhouse_hub::audit::list(self.app.db(), 0, i64::MAX)
            .await
            .unwrap()
    }
}

pub const CARD: &str = "---\nlicense: other\nlicense_name: acme-weights-1.0\nlicense_link: LICENSE\nextra_gated_prompt: Use it kindly.\nextra_gated_fields:\n  Company: text\n  Country: country\n  I agree to the terms: checkbox\n---\n# Gated\n\nWeights behind a gate.\n";

pub fn answers() -> Value {
    json!({"Company": "Acme", "Country": "fr", "I agree to the terms": true})
}

/// `alice/g`: a card with a form, a licence file and weights, gated with `mode`.
pub async fn gated_repo(hub: &Hub, alice: &str, mode: &str) {
    hub.create_repo(alice, "g").await;
    hub.commit(
        "alice/g",
        alice,
        &[
            ("README.md", CARD.as_bytes()),
            ("LICENSE", b"Terms v1: be kind.\n"),
            ("NOTICE", b"Made by Alice.\n"),
            ("config.json", b"{\"hidden\": 4}\n"),
            ("weights/w.bin", b"\x01\x02\x03 weights"),
        ],
    )
    .await;
    hub.set_gated("alice/g", alice, json!(mode)).await;
}
