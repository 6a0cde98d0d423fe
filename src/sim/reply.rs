//! A `/v3` answer before it becomes an HTTP response: status, body, and what stats need.

use std::io;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use serde_json::json;

/// How the body is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Full,
    /// Cut off midway (valid length header, invalid JSON).
    Malformed,
    /// First half sent, then the connection aborts.
    Reset,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    pub kind: BodyKind,
    pub error_key: Option<String>,
    pub retry_after: Option<u64>,
    pub contacts: u64,
    pub invalid_cursor: bool,
}

/// The v3 default `error_key` of a status.
fn default_key(status: u16) -> &'static str {
    match status {
        400 => "contacts.api.bad.request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not.found",
        429 => "throttled",
        503 => "service.unavailable",
        _ => "server.error",
    }
}

impl Reply {
    pub fn ok(body: Vec<u8>, contacts: u64) -> Self {
        Self {
            status: StatusCode::OK,
            body: body.into(),
            kind: BodyKind::Full,
            error_key: None,
            retry_after: None,
            contacts,
            invalid_cursor: false,
        }
    }

    /// An error in the v3 shape: one object for 401 and 429, an array otherwise.
    pub fn error(status: u16, key: Option<&str>, message: &str) -> Self {
        let key = key.unwrap_or(default_key(status));
        let item = json!({"error_key": key, "error_message": message});
        let body = if matches!(status, 401 | 429) {
            item
        } else {
            json!([item])
        };
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            error_key: Some(key.to_owned()),
            ..Self::ok(serde_json::to_vec(&body).expect("json value"), 0)
        }
    }

    pub fn bad_request(message: &str) -> Self {
        Self::error(400, None, message)
    }

    pub fn invalid_cursor(message: &str) -> Self {
        Self {
            invalid_cursor: true,
            ..Self::bad_request(message)
        }
    }

    pub fn with_retry_after(self, secs: Option<u64>) -> Self {
        Self {
            retry_after: secs,
            ..self
        }
    }

    /// Makes the body invalid JSON by cutting it in half; a non-200 becomes a cut-off page.
    pub fn malformed(self) -> Self {
        let body = if self.status == StatusCode::OK {
            self.body
        } else {
            Bytes::from_static(b"{\"contacts\":[{\"contact_id\":\"0\"}]}")
        };
        let cut = body.slice(..body.len() / 2);
        Self {
            status: StatusCode::OK,
            body: cut,
            kind: BodyKind::Malformed,
            ..Self::ok(Vec::new(), 0)
        }
    }

    pub fn reset(self) -> Self {
        let body = if self.status == StatusCode::OK {
            self.body
        } else {
            Bytes::from_static(b"{\"contacts\":[{\"contact_id\":\"0\"}]}")
        };
        Self {
            status: StatusCode::OK,
            body,
            kind: BodyKind::Reset,
            ..Self::ok(Vec::new(), 0)
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let body = match self.kind {
            BodyKind::Full | BodyKind::Malformed => Body::from(self.body),
            BodyKind::Reset => {
                let half = self.body.slice(..self.body.len() / 2);
                // The pause lets headers and the first chunk reach the client before the abort.
                let abort = async {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "simulated reset",
                    ))
                };
                let chunks =
                    stream::once(async { Ok::<Bytes, io::Error>(half) }).chain(stream::once(abort));
                Body::from_stream(chunks)
            }
        };
        let mut resp = (self.status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
