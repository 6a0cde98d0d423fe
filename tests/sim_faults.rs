//! Simulator over HTTP: rate limit, daily quota, scripted and random faults, latency.

mod sim_common;

use std::time::{Duration, Instant};

use cc_export::sim::{Fault, SimConfig};
use sim_common::{ACCOUNT, Api, error_key, small, start};

#[tokio::test]
async fn above_the_rate_limit_requests_are_throttled() {
    let sim = start(SimConfig {
        rate_limit_rps: Some(4),
        ..small(20)
    })
    .await;
    let api = Api::new(&sim, ACCOUNT);
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let a = api.get("/v3/contacts?limit=1").await;
        if a.status == 429 {
            assert_eq!(error_key(&a, false), "throttled");
            assert!(a.headers.get("retry-after").is_none());
        }
        statuses.push(a.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        4,
        "{statuses:?}"
    );
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(
        api.get("/v3/contacts?limit=1").await.status,
        200,
        "the window slides"
    );
    let stats = sim.stats();
    assert_eq!((stats.requests, stats.throttled), (11, 6));
    assert_eq!(stats.max_requests_in_any_1s, 10);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_daily_quota_answers_quota_exceeded() {
    let sim = start(SimConfig {
        daily_quota: Some(3),
        ..small(20)
    })
    .await;
    let api = Api::new(&sim, ACCOUNT);
    for _ in 0..3 {
        assert_eq!(api.get("/v3/contacts").await.status, 200);
    }
    let a = api.get("/v3/contacts").await;
    assert_eq!(
        (a.status, error_key(&a, false).as_str()),
        (429, "quota_exceeded")
    );
    assert_eq!(sim.stats().quota_exceeded, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn status_faults_use_the_v3_error_shapes() {
    let sim = start(small(20)).await;
    let api = Api::new(&sim, ACCOUNT);
    sim.inject(
        Fault::Status {
            status: 429,
            error_key: None,
            retry_after: Some(2),
        },
        1,
    );
    sim.inject(
        Fault::Status {
            status: 503,
            error_key: None,
            retry_after: None,
        },
        2,
    );
    sim.inject(
        Fault::Status {
            status: 401,
            error_key: None,
            retry_after: None,
        },
        1,
    );
    sim.inject(
        Fault::Status {
            status: 500,
            error_key: None,
            retry_after: None,
        },
        1,
    );
    let a = api.get("/v3/contacts").await;
    assert_eq!(
        (a.status, error_key(&a, false).as_str()),
        (429, "throttled")
    );
    assert_eq!(a.headers["retry-after"], "2");
    for _ in 0..2 {
        let a = api.get("/v3/contacts").await;
        assert_eq!(
            (a.status, error_key(&a, true).as_str()),
            (503, "service.unavailable")
        );
    }
    let a = api.get("/v3/contacts").await;
    assert_eq!(
        (a.status, error_key(&a, false).as_str()),
        (401, "unauthorized")
    );
    let a = api.get("/v3/contacts").await;
    assert_eq!(
        (a.status, error_key(&a, true).as_str()),
        (500, "server.error")
    );
    assert_eq!(
        api.get("/v3/contacts").await.status,
        200,
        "the script is used up"
    );
    let stats = sim.stats();
    assert_eq!(
        (
            stats.faults_injected,
            stats.server_errors,
            stats.throttled,
            stats.unauthorized
        ),
        (5, 3, 1, 1)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_reset_and_delay_faults() {
    let sim = start(small(50)).await;
    let api = Api::new(&sim, ACCOUNT);
    let normal = api.get("/v3/contacts").await.body;

    sim.inject(Fault::Malformed, 1);
    let a = api.get("/v3/contacts").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers["content-type"], "application/json");
    assert!(serde_json::from_slice::<serde_json::Value>(&a.body).is_err());
    assert!(normal.starts_with(&a.body), "a prefix of the real page");

    sim.inject(Fault::Reset, 1);
    let resp = api
        .http
        .get(format!("{}/contacts", sim.base_url()))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.is_err(), "the body must fail midway");

    sim.inject(Fault::Delay { ms: 400 }, 1);
    let slow = api
        .http
        .get(format!("{}/contacts", sim.base_url()))
        .bearer_auth(&api.token)
        .timeout(Duration::from_millis(100));
    assert!(slow.send().await.unwrap_err().is_timeout());
    sim.inject(Fault::Delay { ms: 150 }, 1);
    let t = Instant::now();
    assert_eq!(
        api.get("/v3/contacts").await.body,
        normal,
        "a delayed answer is the normal one"
    );
    assert!(t.elapsed() >= Duration::from_millis(150));
    tokio::time::sleep(Duration::from_millis(300)).await; // let the timed-out request finish
    let stats = sim.stats();
    assert_eq!(
        (stats.malformed, stats.resets, stats.faults_injected),
        (1, 1, 4)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_can_be_scripted_over_http() {
    let sim = start(small(5)).await;
    let api = Api::new(&sim, ACCOUNT);
    let body = serde_json::json!({"fault": {"kind": "status", "status": 429, "error_key": "throttled", "retry_after": 1}, "times": 2});
    let resp = api
        .http
        .post(format!("{}/__sim/faults", api.origin))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(api.get("/v3/contacts").await.headers["retry-after"], "1");
    assert_eq!(api.get("/v3/contacts").await.status, 429);
    assert_eq!(api.get("/v3/contacts").await.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn random_faults_follow_the_rates() {
    let sim = start(SimConfig {
        fault_rate: 1.0,
        ..small(5)
    })
    .await;
    let api = Api::new(&sim, ACCOUNT);
    for _ in 0..5 {
        assert!([500, 503].contains(&api.get("/v3/contacts").await.status));
    }
    sim.shutdown().await;
    let sim = start(SimConfig {
        malformed_rate: 1.0,
        ..small(5)
    })
    .await;
    let api = Api::new(&sim, ACCOUNT);
    let a = api.get("/v3/contacts").await;
    assert_eq!(a.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&a.body).is_err());
    assert_eq!(sim.stats().malformed, 1);
    sim.shutdown().await;
    let sim = start(SimConfig {
        fault_rate: 0.3,
        malformed_rate: 0.1,
        ..small(5)
    })
    .await;
    let api = Api::new(&sim, ACCOUNT);
    for _ in 0..200 {
        api.get("/v3/contacts").await;
    }
    let s = sim.stats();
    assert!(
        (30..90).contains(&s.server_errors) && (5..40).contains(&s.malformed),
        "{s:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn latency_is_added_to_every_v3_answer() {
    let sim = start(SimConfig {
        latency: Duration::from_millis(120),
        ..small(5)
    })
    .await;
    let api = Api::new(&sim, ACCOUNT);
    for path in ["/v3/contacts", "/v3/contacts?limit=0"] {
        let t = Instant::now();
        api.get(path).await;
        assert!(t.elapsed() >= Duration::from_millis(120), "{path}");
    }
    sim.shutdown().await;
}
