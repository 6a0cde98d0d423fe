//! Simulator over HTTP: bearer auth, the OAuth2 refresh grant, token faults.

mod sim_common;

use std::time::Duration;

use cc_export::sim::{SimConfig, SimTokens};
use serde_json::Value;
use sim_common::{ACCOUNT, Api, error_key, small, start};

async fn refresh(
    sim: &cc_export::sim::Simulator,
    secret: &str,
    refresh_token: &str,
) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(sim.auth_url())
        .basic_auth("sim-client", Some(secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn missing_unknown_and_expired_tokens_get_one_401_object() {
    let sim = start(small(5)).await;
    let mut api = Api::new(&sim, ACCOUNT);
    assert_eq!(api.get("/v3/contacts").await.status, 200);
    let anonymous = reqwest::get(format!("{}/contacts", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error_key"], "unauthorized");
    let good = api.token.clone();
    api.token = "not-a-token".into();
    let a = api.get("/v3/contacts").await;
    assert_eq!(
        (a.status, error_key(&a, false).as_str()),
        (401, "unauthorized")
    );
    api.token = good;
    sim.expire_access_tokens();
    let a = api.get("/v3/contact_custom_fields").await;
    assert_eq!(
        (a.status, error_key(&a, false).as_str()),
        (401, "unauthorized")
    );
    assert_eq!(sim.stats().unauthorized, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn access_tokens_expire_after_their_ttl() {
    let sim = start(SimConfig {
        access_token_ttl: Duration::from_millis(200),
        ..small(5)
    })
    .await;
    let api = Api::new(&sim, ACCOUNT);
    assert_eq!(api.get("/v3/contacts").await.status, 200);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(api.get("/v3/contacts").await.status, 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_are_single_use() {
    let sim = start(small(5)).await;
    let first = sim.issue_tokens(ACCOUNT);
    let (status, body) = refresh(&sim, "sim-secret", &first.refresh_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);
    assert_eq!(body["scope"], "contact_data offline_access");
    let second: SimTokens = serde_json::from_value(body).unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);

    let (status, body) = refresh(&sim, "sim-secret", &first.refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(body["error_description"].is_string());
    let (status, _) = refresh(&sim, "sim-secret", "never-issued").await;
    assert_eq!(status, 400);

    // The new access token maps to the same account; the old one stays valid until expiry.
    let mut api = Api::new(&sim, ACCOUNT);
    let expected = api.get("/v3/contacts").await.body;
    for token in [&second.access_token, &first.access_token] {
        api.token = token.clone();
        assert_eq!(api.get("/v3/contacts").await.body, expected);
    }
    let stats = sim.stats();
    assert_eq!(
        (stats.token_requests, stats.refreshes, stats.invalid_grants),
        (3, 1, 2)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_client_credentials_are_invalid_client() {
    let sim = start(small(5)).await;
    let pair = sim.issue_tokens(ACCOUNT);
    let (status, body) = refresh(&sim, "wrong-secret", &pair.refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let no_auth = reqwest::Client::new()
        .post(sim.auth_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", pair.refresh_token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(no_auth.status(), 401);
    let (status, _) = refresh(&sim, "sim-secret", &pair.refresh_token).await;
    assert_eq!(
        status, 200,
        "a rejected client does not spend the refresh token"
    );
    assert_eq!(sim.stats().invalid_clients, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn revoked_refresh_tokens_are_invalid_grant() {
    let sim = start(small(5)).await;
    let mine = sim.issue_tokens(ACCOUNT);
    let theirs = sim.issue_tokens("other");
    reqwest::Client::new()
        .post(format!("http://{}/__sim/revoke/{ACCOUNT}", sim.addr()))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    assert_eq!(
        refresh(&sim, "sim-secret", &mine.refresh_token).await.1["error"],
        "invalid_grant"
    );
    assert_eq!(
        refresh(&sim, "sim-secret", &theirs.refresh_token).await.0,
        200
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn control_routes_issue_tokens_and_report_stats() {
    let sim = start(small(5)).await;
    let http = reqwest::Client::new();
    let origin = format!("http://{}", sim.addr());
    let pair: SimTokens = http
        .post(format!("{origin}/__sim/tokens"))
        .json(&serde_json::json!({"account_id": ACCOUNT}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page = http
        .get(format!("{}/contacts?limit=3", sim.base_url()))
        .bearer_auth(&pair.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let stats: Value = http
        .get(format!("{origin}/__sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            stats["requests"].as_u64(),
            stats["contacts_served"].as_u64()
        ),
        (Some(1), Some(3))
    );
    http.post(format!("{origin}/__sim/stats/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(sim.stats(), Default::default());
    http.post(format!("{origin}/__sim/expire-access-tokens"))
        .send()
        .await
        .unwrap();
    let page = http
        .get(format!("{}/contacts", sim.base_url()))
        .bearer_auth(&pair.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 401);
    sim.shutdown().await;
}
