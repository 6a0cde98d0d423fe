//! `ContactsClient`: paged reads of `/contacts` and `/contact_custom_fields`. Every HTTP
//! attempt waits on the limiter (and the shared gate, when there is one); transient failures are retried (`retry.rs`); a 401 refreshes
//! the access token once.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};
use serde::de::DeserializeOwned;
use url::Url;

pub use super::query::{ContactsQuery, Include};

use super::error::{CcError, chain};
use super::gate::SharedGate;
use super::latency::LatencyGauge;
use super::limiter::ApiLimiter;
use super::model::{ApiErrorItem, CustomFieldDef, CustomFieldsPage};
use super::pacer::Pacer;
use super::page::{ContactsPage, ReadFn, read_raw};
use super::query::{contacts_url, cursor_url, endpoint, resolve_href};
use super::retry::{RetryPolicy, parse_retry_after, with_retries};
use super::token::TokenSource;

/// Custom field definitions per page (the endpoint's maximum).
const CUSTOM_FIELDS_LIMIT: &str = "100";

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// e.g. `https://api.cc.email/v3`; its path is kept.
    pub base_url: Url,
    pub user_agent: String,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// The most one answer's body may hold. A page of 500 contacts with every include is about
    /// 1 MB; the limit only keeps a server that sends without end from taking the memory.
    pub max_body_bytes: usize,
}

impl ClientConfig {
    pub fn new(base_url: Url) -> Self {
        Self {
            base_url,
            user_agent: format!("cc-export/{}", env!("CARGO_PKG_VERSION")),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 8,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            max_body_bytes: 64 << 20,
        }
    }
}

pub struct ContactsClient {
    cfg: ClientConfig,
    http: reqwest::Client,
    tokens: Arc<dyn TokenSource>,
    pacer: Pacer,
    /// The key's limit this client is paced to (requests/s).
    rps: u32,
    latency: LatencyGauge,
}

impl ContactsClient {
    pub fn new(
        cfg: ClientConfig,
        tokens: Arc<dyn TokenSource>,
        limiter: Arc<ApiLimiter>,
    ) -> Result<Self, CcError> {
        let http = Self::http_client(&cfg)?;
        Self::with_http(cfg, http, tokens, limiter)
    }

    /// The HTTP client `new` builds for `cfg`. Building one loads the TLS trust roots, so a
    /// process making a client per request (the API) builds this once and shares it.
    pub fn http_client(cfg: &ClientConfig) -> Result<reqwest::Client, CcError> {
        reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.connect_timeout)
            .build()
            .map_err(|e| CcError::Config(chain(&e)))
    }

    /// A client over an existing HTTP client (from [`Self::http_client`] with the same `cfg`).
    pub fn with_http(
        cfg: ClientConfig,
        http: reqwest::Client,
        tokens: Arc<dyn TokenSource>,
        limiter: Arc<ApiLimiter>,
    ) -> Result<Self, CcError> {
        if !matches!(cfg.base_url.scheme(), "http" | "https") || cfg.base_url.cannot_be_a_base() {
            return Err(CcError::Config(format!(
                "base URL must be http(s): {}",
                cfg.base_url
            )));
        }
        if cfg.max_attempts == 0 {
            return Err(CcError::Config("max_attempts must be at least 1".into()));
        }
        Ok(Self {
            cfg,
            http,
            tokens,
            rps: limiter.rps(),
            latency: LatencyGauge::default(),
            pacer: Pacer::local(limiter),
        })
    }

    /// Also waits on `gate`, shared with the other processes using the same API key.
    pub fn with_gate(mut self, gate: Arc<dyn SharedGate>) -> Self {
        self.pacer = self.pacer.with_shared(gate);
        self
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// The rate limit (requests/s) this client is paced to.
    pub fn rate_limit(&self) -> u32 {
        self.rps
    }

    /// The API's recent answer time, limiter waits excluded; `None` before any answer.
    pub fn latency(&self) -> Option<Duration> {
        self.latency.average()
    }

    /// The first page of `q`, its contacts raw.
    pub async fn first_page(&self, q: &ContactsQuery) -> Result<ContactsPage, CcError> {
        self.first_page_with(q, &read_raw).await
    }

    /// The page behind a `next_href` (relative to the API origin, e.g. `/v3/contacts?cursor=…`).
    pub async fn next_page(&self, next_href: &str) -> Result<ContactsPage, CcError> {
        self.next_page_with(next_href, &read_raw).await
    }

    /// The page at a stored cursor: `GET {base}/contacts?cursor=…`.
    pub async fn resume(&self, cursor: &str) -> Result<ContactsPage, CcError> {
        self.resume_with(cursor, &read_raw).await
    }

    /// [`Self::first_page`], its body read by `read`.
    pub async fn first_page_with<R>(
        &self,
        q: &ContactsQuery,
        read: &ReadFn<R>,
    ) -> Result<ContactsPage<R>, CcError> {
        let url = contacts_url(&self.cfg.base_url, q)?;
        self.fetch_page(url, false, read).await
    }

    /// [`Self::next_page`], its body read by `read`.
    pub async fn next_page_with<R>(
        &self,
        next_href: &str,
        read: &ReadFn<R>,
    ) -> Result<ContactsPage<R>, CcError> {
        let url = resolve_href(&self.cfg.base_url, next_href)?;
        self.fetch_page(url, true, read).await
    }

    /// [`Self::resume`], its body read by `read`.
    pub async fn resume_with<R>(
        &self,
        cursor: &str,
        read: &ReadFn<R>,
    ) -> Result<ContactsPage<R>, CcError> {
        let url = cursor_url(&self.cfg.base_url, cursor)?;
        self.fetch_page(url, true, read).await
    }

    /// Every custom field definition of the account (all pages).
    pub async fn custom_fields(&self) -> Result<Vec<CustomFieldDef>, CcError> {
        let mut url = endpoint(&self.cfg.base_url, "contact_custom_fields")?;
        url.query_pairs_mut()
            .append_pair("limit", CUSTOM_FIELDS_LIMIT);
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        loop {
            let page: CustomFieldsPage = self.get_json(&url, "custom_fields", false).await?;
            out.extend(page.custom_fields);
            let Some(next) = page.links.and_then(|l| l.next) else {
                return Ok(out);
            };
            // A server handing back a link it already gave would loop forever.
            if !seen.insert(next.href.clone()) {
                return Err(CcError::Malformed {
                    detail: "custom fields next link repeats".into(),
                });
            }
            url = resolve_href(&self.cfg.base_url, &next.href)?;
        }
    }

    async fn fetch_page<R>(
        &self,
        url: Url,
        cursor_request: bool,
        read: &ReadFn<R>,
    ) -> Result<ContactsPage<R>, CcError> {
        let base = &self.cfg.base_url;
        self.get_parsed(&url, "contacts", cursor_request, |body| {
            ContactsPage::read(base, body, read)
        })
        .await
    }

    /// GET with retries, the body parsed as JSON; at most one token refresh per call.
    async fn get_json<T: DeserializeOwned>(
        &self,
        url: &Url,
        what: &'static str,
        cursor_request: bool,
    ) -> Result<T, CcError> {
        self.get_parsed(url, what, cursor_request, |body| {
            serde_json::from_slice(&body).map_err(|e| CcError::malformed_body(what, body.len(), &e))
        })
        .await
    }

    /// GET with retries, the body read by `parse` (a malformed body is retried like a
    /// transport error); at most one token refresh per call.
    async fn get_parsed<T>(
        &self,
        url: &Url,
        what: &'static str,
        cursor_request: bool,
        parse: impl Fn(Bytes) -> Result<T, CcError>,
    ) -> Result<T, CcError> {
        let policy = RetryPolicy {
            max_attempts: self.cfg.max_attempts,
            min_backoff: self.cfg.min_backoff,
            max_backoff: self.cfg.max_backoff,
        };
        let refreshed = AtomicBool::new(false);
        with_retries(policy, what, |_| {
            self.attempt(url, what, cursor_request, &refreshed, &parse)
        })
        .await
    }

    async fn attempt<T>(
        &self,
        url: &Url,
        what: &'static str,
        cursor_request: bool,
        refreshed: &AtomicBool,
        parse: &impl Fn(Bytes) -> Result<T, CcError>,
    ) -> Result<T, CcError> {
        let mut token = self.tokens.access_token().await?;
        loop {
            self.pacer.wait().await?;
            let sent = std::time::Instant::now();
            let resp = self
                .http
                .get(url.clone())
                .bearer_auth(token.expose())
                .header(ACCEPT, "application/json")
                .send()
                .await
                .inspect_err(|_| crate::ops::metrics::api_no_answer(what))
                .map_err(CcError::transport)?;
            let status = resp.status();
            crate::ops::metrics::api_response(what, status.as_u16(), sent.elapsed());
            if status == StatusCode::UNAUTHORIZED {
                if refreshed.swap(true, Ordering::SeqCst) {
                    return Err(CcError::Unauthorized);
                }
                tracing::info!(request = what, "HTTP 401: refreshing the access token once");
                crate::ops::metrics::token_refreshed();
                token = self.tokens.refresh_after_unauthorized(&token).await?;
                continue;
            }
            if !status.is_success() {
                let retry_after = retry_after(resp.headers());
                // The error body is only a detail: an unreadable one must not hide the status.
                let body = self.read_body(resp, what).await.unwrap_or_default();
                let err = classify(status, retry_after, &body, cursor_request);
                if matches!(err, CcError::QuotaExceeded) {
                    self.pacer.quota_spent().await;
                }
                return Err(err);
            }
            let body = self.read_body(resp, what).await?;
            self.latency.record(sent.elapsed());
            return parse(body);
        }
    }

    /// The body, each frame appended to one buffer (sized from `Content-Length`) as it arrives;
    /// refused past `max_body_bytes` (as malformed: retried, and a server that keeps sending
    /// fails the call) instead of buffering whatever the server sends.
    async fn read_body(&self, mut resp: reqwest::Response, what: &str) -> Result<Bytes, CcError> {
        let max = self.cfg.max_body_bytes;
        let too_large = || CcError::Malformed {
            detail: format!("{what} body larger than the {max} bytes allowed"),
        };
        let announced = resp.content_length().unwrap_or(0);
        if announced > max as u64 {
            return Err(too_large());
        }
        let mut body = Vec::with_capacity(announced as usize);
        while let Some(frame) = resp.chunk().await.map_err(CcError::transport)? {
            if body.len() + frame.len() > max {
                return Err(too_large());
            }
            body.extend_from_slice(&frame);
        }
        Ok(Bytes::from(body))
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, time::OffsetDateTime::now_utc())
}

/// The typed error for a non-2xx, non-401 answer.
fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    cursor_request: bool,
) -> CcError {
    let errors = ApiErrorItem::parse_body(body).unwrap_or_default();
    match status.as_u16() {
        400 if cursor_request => CcError::InvalidCursor { errors },
        400 => CcError::BadRequest { errors },
        401 => CcError::Unauthorized,
        403 => CcError::Forbidden,
        404 => CcError::NotFound,
        429 if errors.iter().any(|e| e.error_key == "quota_exceeded") => CcError::QuotaExceeded,
        429 => CcError::Throttled { retry_after },
        status => CcError::Server { status, errors },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    #[test]
    fn classification() {
        let bad = br#"[{"error_key":"contacts.api.bad.request","error_message":"bad cursor"}]"#;
        match classify(st(400), None, bad, true) {
            CcError::InvalidCursor { errors } => assert_eq!(errors[0].error_message, "bad cursor"),
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            classify(st(400), None, bad, false),
            CcError::BadRequest { .. }
        ));
        assert!(matches!(
            classify(st(403), None, b"", false),
            CcError::Forbidden
        ));
        assert!(matches!(
            classify(st(404), None, b"<html>", true),
            CcError::NotFound
        ));
        let quota = br#"{"error_key":"quota_exceeded","error_message":"daily"}"#;
        assert!(matches!(
            classify(st(429), None, quota, false),
            CcError::QuotaExceeded
        ));
        let throttled = br#"{"error_key":"throttled","error_message":"slow"}"#;
        let wait = Some(Duration::from_secs(2));
        match classify(st(429), wait, throttled, false) {
            CcError::Throttled { retry_after } => assert_eq!(retry_after, wait),
            e => panic!("{e:?}"),
        }
        match classify(st(503), None, b"oops", false) {
            e @ CcError::Server { status: 503, .. } => assert!(e.is_retryable()),
            e => panic!("{e:?}"),
        }
        assert!(!classify(st(415), None, b"", false).is_retryable());
    }

    #[test]
    fn defaults() {
        let cfg = ClientConfig::new(Url::parse("https://api.cc.email/v3").unwrap());
        assert!(cfg.user_agent.starts_with("cc-export/"));
        assert_eq!(cfg.max_attempts, 8);
        assert_eq!(cfg.request_timeout, Duration::from_secs(30));
        assert_eq!(cfg.min_backoff, Duration::from_millis(200));
    }
}
