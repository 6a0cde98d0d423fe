//! `CcError`: what callers of the v3 client match on. Messages are one line and never hold a
//! token (tokens only ever travel inside `Secret`, which prints as `***`).

use std::time::Duration;

use super::model::ApiErrorItem;
use super::token::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum CcError {
    /// A 400 answering a `next_page`/`resume` request: the cursor is no longer valid.
    #[error("cursor no longer valid (HTTP 400){}", fmt_errors(.errors))]
    InvalidCursor { errors: Vec<ApiErrorItem> },
    #[error("bad request (HTTP 400){}", fmt_errors(.errors))]
    BadRequest { errors: Vec<ApiErrorItem> },
    #[error("forbidden (HTTP 403): missing scope or privilege, or the application is deactivated")]
    Forbidden,
    #[error("not found (HTTP 404)")]
    NotFound,
    /// Still 401 after one token refresh.
    #[error("unauthorized (HTTP 401) even after refreshing the access token")]
    Unauthorized,
    #[error("re-authentication required: {description}")]
    ReauthRequired { description: String },
    /// The daily request quota of the API key is spent (`CC_DAILY_QUOTA` reached, or the API's
    /// 429 `quota_exceeded`): not retried, the caller waits for 00:00 UTC.
    #[error("daily API quota of the API key exceeded")]
    QuotaExceeded,
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted { attempts: u32, last: Box<CcError> },
    #[error("throttled (HTTP 429){}", fmt_retry_after(.retry_after))]
    Throttled { retry_after: Option<Duration> },
    #[error("server error (HTTP {status}){}", fmt_errors(.errors))]
    Server {
        status: u16,
        errors: Vec<ApiErrorItem>,
    },
    #[error("transport error: {0}")]
    Transport(String),
    /// The shared (cross-process) rate limit could not be consulted; the request was not sent.
    #[error("{0}")]
    RateGate(String),
    #[error("malformed response: {detail}")]
    Malformed { detail: String },
    #[error("token error: {0}")]
    Token(TokenError),
    #[error("client configuration error: {0}")]
    Config(String),
}

impl CcError {
    /// A `what` answer of `len` bytes that does not parse (retried like a transport error).
    pub(crate) fn malformed_body(what: &str, len: usize, e: &serde_json::Error) -> Self {
        CcError::Malformed {
            detail: format!("{what} body ({len} bytes): {e}"),
        }
    }

    /// True when trying again later cannot help without a human or a code change.
    pub fn is_permanent(&self) -> bool {
        match self {
            CcError::InvalidCursor { .. }
            | CcError::BadRequest { .. }
            | CcError::Forbidden
            | CcError::NotFound
            | CcError::ReauthRequired { .. }
            | CcError::Config(_) => true,
            CcError::Token(t) => t.is_permanent(),
            CcError::RetriesExhausted { last, .. } => last.is_permanent(),
            _ => false,
        }
    }

    /// Worth another attempt inside the retry loop (as opposed to the caller's job-level retry).
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            CcError::Throttled { .. }
            | CcError::Transport(_)
            | CcError::RateGate(_)
            | CcError::Malformed { .. } => true,
            CcError::Server { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// The server-requested wait, for a 429 that carried `Retry-After`.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            CcError::Throttled { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// A transport error as one line, with the cause chain but without the URL.
    pub(crate) fn transport(err: reqwest::Error) -> Self {
        if err.is_builder() {
            return CcError::Config(chain(&err.without_url()));
        }
        CcError::Transport(chain(&err.without_url()))
    }
}

impl From<TokenError> for CcError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::ReauthRequired { description } => CcError::ReauthRequired { description },
            other => CcError::Token(other),
        }
    }
}

/// `err: cause: cause`, so "timed out" or "connection reset" shows up in one line.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut src = err.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        src = s.source();
    }
    out.replace('\n', " ")
}

fn fmt_errors(errors: &[ApiErrorItem]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let items: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.error_key, e.error_message).replace('\n', " "))
        .collect();
    format!(": {}", items.join("; "))
}

fn fmt_retry_after(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(", retry after {} ms", d.as_millis()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str) -> ApiErrorItem {
        ApiErrorItem {
            error_key: key.into(),
            error_message: "msg".into(),
        }
    }

    #[test]
    fn permanent_vs_transient() {
        assert!(CcError::BadRequest { errors: vec![] }.is_permanent());
        assert!(CcError::InvalidCursor { errors: vec![] }.is_permanent());
        assert!(CcError::Forbidden.is_permanent());
        assert!(CcError::NotFound.is_permanent());
        assert!(CcError::Config("x".into()).is_permanent());
        let reauth: CcError = TokenError::ReauthRequired {
            description: "spent".into(),
        }
        .into();
        assert!(matches!(reauth, CcError::ReauthRequired { .. }));
        assert!(reauth.is_permanent());
        assert!(reauth.to_string().contains("re-authentication required"));
        for transient in [
            CcError::QuotaExceeded,
            CcError::Throttled { retry_after: None },
            CcError::Server {
                status: 503,
                errors: vec![],
            },
            CcError::Transport("reset".into()),
            CcError::Malformed {
                detail: "eof".into(),
            },
            CcError::Unauthorized,
        ] {
            assert!(!transient.is_permanent(), "{transient}");
        }
    }

    #[test]
    fn retryable_statuses() {
        for s in [500, 502, 503, 504] {
            let e = CcError::Server {
                status: s,
                errors: vec![],
            };
            assert!(e.is_retryable());
        }
        let e = CcError::Server {
            status: 501,
            errors: vec![],
        };
        assert!(!e.is_retryable());
        assert!(!CcError::QuotaExceeded.is_retryable());
        assert!(!CcError::Unauthorized.is_retryable());
        assert!(!CcError::BadRequest { errors: vec![] }.is_retryable());
    }

    #[test]
    fn messages_are_one_line_with_api_errors() {
        let e = CcError::InvalidCursor {
            errors: vec![item("contacts.api.bad.request")],
        };
        let s = e.to_string();
        assert_eq!(
            s,
            "cursor no longer valid (HTTP 400): contacts.api.bad.request: msg"
        );
        let e = CcError::RetriesExhausted {
            attempts: 3,
            last: Box::new(CcError::Throttled {
                retry_after: Some(Duration::from_secs(2)),
            }),
        };
        assert_eq!(
            e.to_string(),
            "gave up after 3 attempts: throttled (HTTP 429), retry after 2000 ms"
        );
        assert!(!e.is_permanent());
    }
}
