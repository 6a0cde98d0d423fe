//! `OAuthClient` and `MemoryTokenSource` against a scripted token endpoint (axum), which checks
//! the wire format and lets persistence and endpoint failures be provoked precisely.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use cc_export::cc::{
    MemoryTokenSource, OAuthClient, OAuthConfig, PersistFn, TokenError, TokenPair, TokenSource,
};
use cc_export::secret::Secret;
use serde_json::json;
use url::Url;

#[derive(Default)]
struct Endpoint {
    /// Number of the refresh token that is currently valid ("rt-N").
    valid: AtomicU32,
    calls: AtomicU32,
    /// Answer this status (once per entry) instead of refreshing.
    script: Mutex<Vec<u16>>,
    last: Mutex<Option<(String, String, String)>>,
}

async fn token(
    State(ep): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, Json<serde_json::Value>) {
    ep.calls.fetch_add(1, Ordering::SeqCst);
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    *ep.last.lock().unwrap() = Some((h("authorization"), h("user-agent"), body.clone()));
    if let Some(code) = ep.script.lock().unwrap().pop() {
        let status = StatusCode::from_u16(code).unwrap();
        if code == 200 {
            return (status, Json(json!({"access_token": 17})));
        }
        return (
            status,
            Json(json!({"error":"server_error","error_description":"try later"})),
        );
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let rt = form
        .iter()
        .find(|(k, _)| k == "refresh_token")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let n = ep.valid.load(Ordering::SeqCst);
    if rt != format!("rt-{n}") {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"error":"invalid_grant","error_description":"The refresh token is invalid or expired."}),
            ),
        );
    }
    ep.valid.store(n + 1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    (
        StatusCode::OK,
        Json(
            json!({"access_token": format!("at-{}", n + 1), "refresh_token": format!("rt-{}", n + 1),
                    "token_type": "Bearer", "expires_in": 86400}),
        ),
    )
}

async fn endpoint() -> (Arc<Endpoint>, OAuthClient) {
    let ep = Arc::new(Endpoint::default());
    let app = Router::new()
        .route("/oauth2/default/v1/token", post(token))
        .with_state(ep.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = Url::parse(&format!("http://{addr}/oauth2/default/v1/token")).unwrap();
    (ep, oauth(url))
}

fn oauth(auth_url: Url) -> OAuthClient {
    OAuthClient::new(OAuthConfig {
        auth_url,
        client_id: "cid".into(),
        client_secret: Secret::new("csecret"),
        user_agent: "cc-export-tests/1".into(),
        timeout: Duration::from_secs(2),
    })
    .unwrap()
}

fn pair(n: u32, age: Duration) -> TokenPair {
    TokenPair {
        access_token: Secret::new(format!("at-{n}")),
        refresh_token: Secret::new(format!("rt-{n}")),
        generated_at: time::OffsetDateTime::now_utc() - age,
    }
}

const DAY: Duration = Duration::from_secs(86_400);

#[tokio::test]
async fn refresh_sends_the_grant_with_basic_auth() {
    let (ep, oauth) = endpoint().await;
    let new = oauth.refresh(&Secret::new("rt-0")).await.unwrap();
    assert_eq!(new.access_token.expose(), "at-1");
    assert_eq!(new.refresh_token.expose(), "rt-1");
    let (auth, ua, body) = ep.last.lock().unwrap().clone().unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode("cid:csecret");
    assert_eq!(auth, format!("Basic {basic}"));
    assert_eq!(ua, "cc-export-tests/1");
    assert_eq!(body, "grant_type=refresh_token&refresh_token=rt-0");
    // Spent now.
    let err = oauth.refresh(&Secret::new("rt-0")).await.unwrap_err();
    assert!(matches!(err, TokenError::ReauthRequired { .. }), "{err:?}");
    assert!(err.to_string().contains("re-authentication required"));
}

#[tokio::test]
async fn endpoint_errors_are_not_retried() {
    let (ep, oauth) = endpoint().await;
    ep.script.lock().unwrap().push(503);
    let err = oauth.refresh(&Secret::new("rt-0")).await.unwrap_err();
    assert!(
        matches!(err, TokenError::Rejected { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(ep.calls.load(Ordering::SeqCst), 1);
    ep.script.lock().unwrap().push(200); // {"access_token": 17}: not a token
    let err = oauth.refresh(&Secret::new("rt-0")).await.unwrap_err();
    assert!(matches!(err, TokenError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn unreachable_endpoint_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let oauth = oauth(Url::parse(&format!("http://{addr}/token")).unwrap());
    let err = oauth.refresh(&Secret::new("rt-0")).await.unwrap_err();
    assert!(matches!(err, TokenError::Transport(_)), "{err:?}");
}

fn recording() -> (PersistFn, Arc<Mutex<Vec<TokenPair>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (
        Arc::new(move |p: &TokenPair| {
            sink.lock().unwrap().push(p.clone());
            Ok(())
        }),
        seen,
    )
}

#[tokio::test]
async fn a_pair_older_than_max_age_is_refreshed_before_use() {
    let (ep, oauth) = endpoint().await;
    let (persist, seen) = recording();
    let src = MemoryTokenSource::new(
        pair(0, DAY + Duration::from_secs(1)),
        Some(oauth),
        persist,
        DAY,
    );
    assert_eq!(src.access_token().await.unwrap().expose(), "at-1");
    assert_eq!(src.access_token().await.unwrap().expose(), "at-1");
    assert_eq!(ep.calls.load(Ordering::SeqCst), 1);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(seen.lock().unwrap()[0].refresh_token.expose(), "rt-1");
}

#[tokio::test]
async fn concurrent_unauthorized_callers_share_one_refresh() {
    let (ep, oauth) = endpoint().await;
    let (persist, seen) = recording();
    let src = Arc::new(MemoryTokenSource::new(
        pair(0, Duration::ZERO),
        Some(oauth),
        persist,
        DAY,
    ));
    let rejected = Secret::new("at-0");
    let all =
        futures_util::future::join_all((0..10).map(|_| src.refresh_after_unauthorized(&rejected)))
            .await;
    for t in all {
        assert_eq!(t.unwrap().expose(), "at-1");
    }
    assert_eq!(ep.calls.load(Ordering::SeqCst), 1);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_pair_that_cannot_be_stored_is_held_back_until_it_is() {
    let (ep, oauth) = endpoint().await;
    let fail = Arc::new(AtomicU32::new(1));
    let stored = Arc::new(Mutex::new(Vec::new()));
    let (f, s) = (fail.clone(), stored.clone());
    let persist: PersistFn = Arc::new(move |p: &TokenPair| {
        if f.load(Ordering::SeqCst) > 0 {
            f.fetch_sub(1, Ordering::SeqCst);
            anyhow::bail!("database unavailable");
        }
        s.lock().unwrap().push(p.clone());
        Ok(())
    });
    let src = MemoryTokenSource::new(pair(0, Duration::ZERO), Some(oauth), persist, DAY);
    let err = src
        .refresh_after_unauthorized(&Secret::new("at-0"))
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Persist(_)), "{err:?}");
    assert!(err.to_string().contains("database unavailable"));
    // The unstored pair is not used...
    assert_eq!(src.current().await.access_token.expose(), "at-0");
    // ...and on the next call it is stored first, without spending another refresh token.
    assert_eq!(src.access_token().await.unwrap().expose(), "at-1");
    assert_eq!(ep.calls.load(Ordering::SeqCst), 1);
    assert_eq!(stored.lock().unwrap()[0].refresh_token.expose(), "rt-1");
}
