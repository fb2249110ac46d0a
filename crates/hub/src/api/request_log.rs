//! The access log: one line per request, written when the response body has been sent (or the
//! client went away), with the method, the path, the status, the bytes sent, the duration, the
//! user and the request id.
//!
//! Lines are `tracing` events of target `wh::access` at level `info`, so the process's log format
//! (text or JSON) and filter apply to them. Tokens never reach the log: the query string is left
//! out (it may carry credentials) and the signed ticket of an LFS transfer URL is replaced by
//! `…`. The request id is the client's `X-Request-Id` when it is short and plain (a proxy in
//! front may have set it), a fresh random one otherwise; it is echoed in the `X-Request-Id`
//! response header and in error bodies.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::Response;
use bytes::Bytes;
use http_body::Body as _;
use rand::RngCore;

/// The request-id header, read from clients and proxies and echoed in every answer.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// What the log line of one request says.
#[derive(Debug)]
pub(crate) struct Entry {
    pub id: String,
    method: Method,
    path: String,
    started: Instant,
    /// The authenticated user, once known.
    pub user: Option<String>,
}

impl Entry {
    /// Start the entry of a request.
    pub fn start(method: &Method, path: &str, headers: &HeaderMap) -> Self {
        Self {
            id: request_id(headers),
            method: method.clone(),
            path: loggable_path(path),
            started: Instant::now(),
            user: None,
        }
    }

    /// Tag the response with the request id (and tell browsers never to guess a content type
    /// other than the one given); its line is written when its body is done.
    pub fn finish(self, mut resp: Response) -> Response {
        if let Ok(v) = HeaderValue::from_str(&self.id) {
            resp.headers_mut().insert(REQUEST_ID, v);
        }
        resp.headers_mut().insert(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        let status = resp.status().as_u16();
        let (parts, body) = resp.into_parts();
        let line = Line {
            entry: self,
            status,
            bytes: 0,
            complete: false,
        };
        let body = Body::new(Counted {
            inner: body,
            line: Some(line),
        });
        Response::from_parts(parts, body)
    }
}

/// The client's request id when it is 1 to 64 characters of `[A-Za-z0-9._-]`, else a new one.
fn request_id(headers: &HeaderMap) -> String {
    if let Some(v) = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok())
        && (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return v.to_string();
    }
    let mut b = [0u8; 12];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The path as logged: signed LFS transfer tickets (`/api/lfs/{op}/{ticket}/…`) are hidden.
fn loggable_path(path: &str) -> String {
    let mut segs: Vec<&str> = path.split('/').collect();
    if segs.len() > 4 && segs[1] == "api" && segs[2] == "lfs" {
        segs[4] = "…";
    }
    segs.join("/")
}

struct Line {
    entry: Entry,
    status: u16,
    bytes: u64,
    complete: bool,
}

impl Drop for Line {
    fn drop(&mut self) {
        let e = &self.entry;
        let ms = e.started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            target: "wh::access",
            method = %e.method,
            path = %e.path,
            status = self.status,
            bytes = self.bytes,
            duration_ms = format_args!("{ms:.1}"),
            user = e.user.as_deref().unwrap_or("-"),
            request_id = %e.id,
            complete = self.complete,
        );
    }
}

/// A response body that counts what it sends and writes the log line when it ends or is dropped.
struct Counted {
    inner: Body,
    line: Option<Line>,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(line)) = (frame.data_ref(), self.line.as_mut()) {
                    line.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) => {
                if let Some(mut line) = self.line.take() {
                    line.complete = true;
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        // A body that is never polled to its end (HEAD, or hyper sees `is_end_stream` first)
        // is complete when nothing was left to send.
        if let Some(line) = self.line.as_mut() {
            line.complete = self.inner.is_end_stream();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_tickets_are_hidden() {
        assert_eq!(
            loggable_path("/api/lfs/download/abc.def/x"),
            "/api/lfs/download/…/x"
        );
        assert_eq!(
            loggable_path("/api/models/a/b/tree/main"),
            "/api/models/a/b/tree/main"
        );
    }

    #[test]
    fn plain_client_ids_are_kept_others_replaced() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-123_x.y"));
        assert_eq!(request_id(&h), "abc-123_x.y");
        h.insert(REQUEST_ID, HeaderValue::from_static("a b"));
        let id = request_id(&h);
        assert_eq!(id.len(), 24);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
