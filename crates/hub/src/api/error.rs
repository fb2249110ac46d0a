//! API errors in the form the Hugging Face clients understand: a status, `X-Error-Code` and
//! `X-Error-Message` headers (the only channel on HEAD), and a JSON body `{"error": ...}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: Option<&'static str>,
    pub(crate) message: String,
    pub(crate) commit: Option<String>,
    pub(crate) extra: Option<Box<serde_json::Value>>,
    /// The request's id, set by the dispatcher and reported in the body as `requestId`.
    pub(crate) request_id: Option<String>,
}

/// Result of a handler.
pub type ApiResult<T = Response> = Result<T, ApiError>;

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code: None,
            message: message.into(),
            commit: None,
            extra: None,
            request_id: None,
        }
    }

    pub(crate) fn repo_not_found() -> Self {
        Self {
            code: Some("RepoNotFound"),
            ..Self::new(
                StatusCode::NOT_FOUND,
                "Repository not found: it does not exist, or you are not allowed to see it.",
            )
        }
    }

    pub(crate) fn revision_not_found(rev: &str) -> Self {
        Self {
            code: Some("RevisionNotFound"),
            ..Self::new(StatusCode::NOT_FOUND, format!("Invalid rev id: {rev}"))
        }
    }

    pub(crate) fn entry_not_found(path: &str, commit: Option<&str>) -> Self {
        Self {
            code: Some("EntryNotFound"),
            commit: commit.map(str::to_string),
            ..Self::new(StatusCode::NOT_FOUND, format!("Entry not found: {path}"))
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub(crate) fn bad_token() -> Self {
        Self::unauthorized("Invalid credentials in Authorization header")
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {err}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error; the server log has details.",
        )
    }

    pub(crate) fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = Some(Box::new(extra));
        self
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            // A database that stays locked is a transient failure: clients retry 5xx.
            sqlx::Error::PoolTimedOut => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server is busy; try again.",
            ),
            _ => Self::internal(e),
        }
    }
}

impl From<crate::repo::CommitError> for ApiError {
    fn from(e: crate::repo::CommitError) -> Self {
        use crate::repo::CommitError as E;
        match e {
            E::NoBranch(b) => Self::revision_not_found(&b),
            E::ParentMismatch { .. } => Self::new(StatusCode::PRECONDITION_FAILED, e.to_string()),
            E::Missing(m) => Self {
                code: Some("EntryNotFound"),
                ..Self::not_found(m)
            },
            E::Conflict(m) => Self::conflict(m),
            E::Db(e) => e.into(),
        }
    }
}

impl From<weighhouse_store::StoreError> for ApiError {
    fn from(e: weighhouse_store::StoreError) -> Self {
        use weighhouse_store::StoreError as E;
        match e {
            E::Mismatch { .. } | E::TooLarge(_) => Self::bad_request(e.to_string()),
            // The staged upload was removed; nothing was published or committed.
            E::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
                tracing::error!("the blob store's disk is full: {io}");
                Self::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "The hub's disk is full: nothing was stored; try again once space is freed",
                )
            }
            other => Self::internal(other),
        }
    }
}

/// Header values must be visible ASCII: anything else becomes `?`, and long messages are cut.
fn header_text(s: &str) -> HeaderValue {
    let clean: String = s
        .chars()
        .take(1000)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect();
    HeaderValue::from_str(&clean).unwrap_or_else(|_| HeaderValue::from_static("error"))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let (Some(id), Some(obj)) = (&self.request_id, body.as_object_mut()) {
            obj.insert("requestId".into(), json!(id));
        }
        if let (Some(extra), Some(obj)) = (self.extra, body.as_object_mut())
            && let Some(e) = extra.as_object()
        {
            for (k, v) in e {
                obj.insert(k.clone(), v.clone());
            }
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        if let Some(code) = self.code {
            h.insert("x-error-code", HeaderValue::from_static(code));
        }
        h.insert("x-error-message", header_text(&self.message));
        if let Some(c) = self.commit
            && let Ok(v) = HeaderValue::from_str(&c)
        {
            h.insert("x-repo-commit", v);
        }
        resp
    }
}
