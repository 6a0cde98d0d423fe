//! `ApiError`: every failure a route answers with, as the seed's error shape
//! `{success: false, errno, message}` (plus `status` for 401, and the Constant Contact error
//! items when one is passed through). Internal details go to the log, never to the caller.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::cc::CcError;
use crate::cc::model::ApiErrorItem;

/// The seed's messages, word for word (callers match on them).
pub const TOKEN_NOT_FOUND: &str = "Api Token Not Found";
pub const UNAUTHORIZED_USER: &str = "Unauthorized User";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, malformed, expired or wrongly signed bearer token; `reason` says which.
    #[error("unauthorized: {reason}")]
    Unauthorized { reason: String },
    /// No `cc_tokens` row for the caller's account and user.
    #[error("no stored Constant Contact tokens")]
    TokenNotFound,
    /// A parameter or body the API refuses before calling anything.
    #[error("{0}")]
    BadRequest(String),
    /// The token's account may not do this (e.g. a body naming another account).
    #[error("{0}")]
    Forbidden(String),
    /// Absent, or another account's (the two are not told apart).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The resource is in a state the request does not apply to.
    #[error("{0}")]
    Conflict(String),
    /// An answer of Constant Contact passed through (400, 403, 429), or 502 when it failed.
    #[error("Constant Contact: {error}")]
    Upstream { status: StatusCode, error: CcError },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn unauthorized(reason: impl Into<String>) -> Self {
        ApiError::Unauthorized {
            reason: reason.into(),
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }

    /// The HTTP status a failed Constant Contact call is answered with (the seed's table: its
    /// 400s and 429s pass through; an API that failed is a bad gateway).
    pub fn from_cc(error: CcError) -> Self {
        // After retries, the last answer is what the caller needs.
        let error = match error {
            CcError::RetriesExhausted { last, .. } => *last,
            other => other,
        };
        let status = match &error {
            CcError::BadRequest { .. }
            | CcError::InvalidCursor { .. }
            | CcError::ReauthRequired { .. }
            | CcError::Unauthorized => StatusCode::BAD_REQUEST,
            CcError::Token(t) if t.is_permanent() => StatusCode::BAD_REQUEST,
            CcError::Forbidden => StatusCode::FORBIDDEN,
            CcError::Throttled { .. } | CcError::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            CcError::RateGate(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        };
        ApiError::Upstream { status, error }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::TokenNotFound | ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Upstream { status, .. } => *status,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> serde_json::Value {
        let code = self.status().as_u16();
        match self {
            // The seed's two rows, errno 400 as it documents them.
            ApiError::Unauthorized { reason } => json!({
                "success": false, "errno": 400, "status": UNAUTHORIZED_USER,
                "message": UNAUTHORIZED_USER, "error": reason,
            }),
            ApiError::TokenNotFound => {
                json!({"success": false, "errno": 400, "message": TOKEN_NOT_FOUND})
            }
            ApiError::Upstream { error, .. } => json!({
                "success": false, "errno": code,
                "message": format!("Error from Constant Contact API: {error}"),
                "errors": upstream_items(error),
            }),
            ApiError::Internal(_) => {
                json!({"success": false, "errno": code, "message": "Internal Server Error"})
            }
            other => json!({"success": false, "errno": code, "message": other.to_string()}),
        }
    }
}

/// The API's own error items, as it sent them (`[]` when it sent none).
fn upstream_items(error: &CcError) -> Vec<ApiErrorItem> {
    match error {
        CcError::BadRequest { errors }
        | CcError::InvalidCursor { errors }
        | CcError::Server { errors, .. } => errors.clone(),
        CcError::Throttled { .. } => vec![ApiErrorItem {
            error_key: "throttled".into(),
            error_message: "Too many requests".into(),
        }],
        CcError::QuotaExceeded => vec![ApiErrorItem {
            error_key: "quota_exceeded".into(),
            error_message: "Daily request quota exceeded".into(),
        }],
        _ => Vec::new(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(e) => tracing::error!(error = %format!("{e:#}"), "request failed"),
            ApiError::Upstream { error, .. } => {
                tracing::warn!(status = status.as_u16(), %error, "Constant Contact call failed")
            }
            ApiError::Unauthorized { reason } => tracing::info!(reason, "request refused"),
            _ => tracing::debug!(status = status.as_u16(), error = %self, "request refused"),
        }
        (status, Json(self.body())).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::NoTokens { .. } => ApiError::TokenNotFound,
            StoreError::NotFound { .. } => ApiError::NotFound { what: "job" },
            StoreError::WrongStatus { .. } => ApiError::Conflict(e.to_string()),
            StoreError::Db(_) => ApiError::Unavailable("database unreachable".into()),
            other => ApiError::Internal(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_error_rows() {
        let e = ApiError::TokenNotFound;
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            e.body(),
            json!({"success": false, "errno": 400, "message": "Api Token Not Found"})
        );
        let e = ApiError::unauthorized("token expired");
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(e.body()["status"], "Unauthorized User");
        assert_eq!(e.body()["errno"], 400);
    }

    #[test]
    fn constant_contact_statuses_pass_through() {
        let bad = ApiError::from_cc(CcError::BadRequest { errors: vec![] });
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let slow = ApiError::from_cc(CcError::RetriesExhausted {
            attempts: 1,
            last: Box::new(CcError::Throttled { retry_after: None }),
        });
        assert_eq!(slow.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(slow.body()["errors"][0]["error_key"], "throttled");
        let down = ApiError::from_cc(CcError::Transport("reset".into()));
        assert_eq!(down.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(
            ApiError::from_cc(CcError::QuotaExceeded).status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}
