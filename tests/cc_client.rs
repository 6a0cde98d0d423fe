//! The v3 client against the in-process simulator: pagination, tokens, faults, the limiter.

mod cc_common;

use std::time::{Duration, Instant};

use cc_common::*;
use cc_export::cc::{CcError, ContactsQuery, Include};
use cc_export::sim::Fault;

#[tokio::test]
async fn pagination_returns_every_id_once_in_order() {
    let env = Env::start(1234, |_| {}).await;
    let expected: Vec<String> = env.sim.dataset().expected_ids(ACCOUNT).collect();
    // Deleted contacts are left out of a default query.
    assert!(
        expected.len() > 1000 && expected.len() < 1234,
        "{}",
        expected.len()
    );
    for limit in [500, 137, 50] {
        let q = ContactsQuery {
            limit,
            include_count: true,
            ..Default::default()
        };
        let (ids, pages, count) = export_all(&env.client, &q).await.unwrap();
        assert_eq!(ids, expected, "limit {limit}");
        assert_eq!(
            pages,
            expected.len().div_ceil(limit as usize),
            "limit {limit}"
        );
        assert_eq!(count, Some(expected.len() as u64));
    }
    // Without include_count there is no count.
    let q = ContactsQuery {
        limit: 500,
        ..Default::default()
    };
    let page = env.client.first_page(&q).await.unwrap();
    assert_eq!(page.contacts_count, None);
    assert_eq!(
        env.sim.stats().without_user_agent,
        0,
        "every request names its User-Agent"
    );
}

#[tokio::test]
async fn small_pages_and_includes() {
    let env = Env::start(7, |_| {}).await;
    let q = ContactsQuery {
        limit: 1,
        include: vec![Include::ListMemberships],
        ..Default::default()
    };
    let (ids, pages, _) = export_all(&env.client, &q).await.unwrap();
    let expected: Vec<String> = env.sim.dataset().expected_ids(ACCOUNT).collect();
    assert_eq!(pages, expected.len());
    assert_eq!(ids, expected);
    let page = env.client.first_page(&q).await.unwrap();
    let c: serde_json::Value = serde_json::from_str(page.contacts[0].get()).unwrap();
    assert!(c.get("list_memberships").is_some(), "{c}");
    assert!(c.get("notes").is_none(), "notes were not asked for: {c}");
}

#[tokio::test]
async fn resume_from_a_cursor_continues_where_the_link_would() {
    let env = Env::start(300, |_| {}).await;
    let q = ContactsQuery {
        limit: 100,
        ..Default::default()
    };
    let first = env.client.first_page(&q).await.unwrap();
    let href = first.next_href.clone().expect("a next link");
    let cursor = first
        .next_cursor
        .clone()
        .expect("a cursor in the next link");
    assert!(href.contains("cursor="), "{href}");
    let via_link = env.client.next_page(&href).await.unwrap();
    let via_cursor = env.client.resume(&cursor).await.unwrap();
    assert_eq!(ids_of(&via_link.contacts), ids_of(&via_cursor.contacts));
    assert_eq!(via_link.next_cursor, via_cursor.next_cursor);
    let expected: Vec<String> = env.sim.dataset().expected_ids(ACCOUNT).collect();
    assert_eq!(ids_of(&via_cursor.contacts), expected[100..200].to_vec());
}

#[tokio::test]
async fn custom_field_definitions() {
    let env = Env::start(10, |_| {}).await;
    let defs = env.client.custom_fields().await.unwrap();
    let expected = env.sim.dataset().custom_fields(ACCOUNT);
    assert_eq!(defs.len(), expected.len());
    for (d, e) in defs.iter().zip(&expected) {
        assert_eq!(d.custom_field_id, e["custom_field_id"].as_str().unwrap());
    }
}

#[tokio::test]
async fn expired_access_token_is_refreshed_once_and_rotated() {
    let env = Env::start(300, |_| {}).await;
    let q = ContactsQuery {
        limit: 100,
        ..Default::default()
    };
    let first = env.client.first_page(&q).await.unwrap();
    let old = env.tokens.current().await;
    env.sim.expire_access_tokens();
    let second = env
        .client
        .next_page(first.next_href.as_deref().unwrap())
        .await
        .unwrap();
    let expected: Vec<String> = env.sim.dataset().expected_ids(ACCOUNT).collect();
    assert_eq!(ids_of(&second.contacts), expected[100..200].to_vec());
    let stats = env.sim.stats();
    assert_eq!(stats.refreshes, 1);
    assert!(stats.unauthorized >= 1);
    // The new pair was persisted, and it is the one in use.
    let persisted = env.persisted();
    assert_eq!(persisted.len(), 1);
    let now = env.tokens.current().await;
    assert_eq!(persisted[0].access_token, now.access_token);
    assert_eq!(persisted[0].refresh_token, now.refresh_token);
    assert_ne!(now.refresh_token, old.refresh_token);
    // The old refresh token is spent.
    let err = env.oauth().refresh(&old.refresh_token).await.unwrap_err();
    assert!(
        err.to_string().contains("re-authentication required"),
        "{err}"
    );
}

#[tokio::test]
async fn concurrent_unauthorized_requests_cause_one_refresh() {
    let env = Env::start(50, |_| {}).await;
    env.sim.expire_access_tokens();
    let q = ContactsQuery {
        limit: 10,
        ..Default::default()
    };
    let results = futures_util::future::join_all((0..8).map(|_| env.client.first_page(&q))).await;
    for r in results {
        assert_eq!(r.unwrap().contacts.len(), 10);
    }
    assert_eq!(env.sim.stats().refreshes, 1);
    assert_eq!(env.persisted().len(), 1);
}

#[tokio::test]
async fn invalid_grant_requires_reauthentication_without_a_retry_loop() {
    let env = Env::start(20, |_| {}).await;
    env.sim.revoke_refresh_tokens(ACCOUNT);
    env.sim.expire_access_tokens();
    let before = env.sim.stats();
    let err = env
        .client
        .first_page(&ContactsQuery::default())
        .await
        .unwrap_err();
    assert!(matches!(err, CcError::ReauthRequired { .. }), "{err:?}");
    assert!(err.is_permanent());
    assert!(
        err.to_string().contains("re-authentication required"),
        "{err}"
    );
    let after = env.sim.stats();
    assert_eq!(after.invalid_grants - before.invalid_grants, 1);
    assert_eq!(
        after.requests - before.requests,
        1,
        "one 401, then no retries"
    );
    assert!(env.persisted().is_empty());
}

#[tokio::test]
async fn throttled_with_retry_after_waits_that_long() {
    let env = Env::start(20, |_| {}).await;
    env.sim.inject(throttled(Some(1)), 1);
    let start = Instant::now();
    env.client
        .first_page(&ContactsQuery::default())
        .await
        .unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(waited < Duration::from_millis(1800), "{waited:?}");
    assert_eq!(env.sim.stats().throttled, 1);
}

#[tokio::test]
async fn throttled_without_retry_after_backs_off() {
    let env = Env::start(20, |_| {}).await;
    env.sim.inject(throttled(None), 3);
    let before = env.sim.stats().requests;
    env.client
        .first_page(&ContactsQuery::default())
        .await
        .unwrap();
    assert_eq!(env.sim.stats().requests - before, 4);
}

#[tokio::test]
async fn daily_quota_is_not_retried() {
    let env = Env::start(20, |_| {}).await;
    env.sim.inject(status(429, Some("quota_exceeded")), 1);
    let before = env.sim.stats().requests;
    let err = env
        .client
        .first_page(&ContactsQuery::default())
        .await
        .unwrap_err();
    assert!(matches!(err, CcError::QuotaExceeded), "{err:?}");
    assert_eq!(env.sim.stats().requests - before, 1);
}

#[tokio::test]
async fn server_error_bursts_are_recovered() {
    let env = Env::start(20, |_| {}).await;
    for code in [500, 502, 503, 504] {
        env.sim.inject(status(code, None), 1);
    }
    let before = env.sim.stats().requests;
    let page = env
        .client
        .first_page(&ContactsQuery::default())
        .await
        .unwrap();
    assert_eq!(
        ids_of(&page.contacts),
        env.sim.dataset().expected_ids(ACCOUNT).collect::<Vec<_>>()
    );
    assert_eq!(env.sim.stats().requests - before, 5);
}

#[tokio::test]
async fn malformed_bodies_and_resets_are_recovered() {
    let env = Env::start(20, |_| {}).await;
    env.sim.inject(Fault::Malformed, 2);
    env.sim.inject(Fault::Reset, 2);
    let page = env
        .client
        .first_page(&ContactsQuery::default())
        .await
        .unwrap();
    assert_eq!(
        ids_of(&page.contacts),
        env.sim.dataset().expected_ids(ACCOUNT).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_response_slower_than_the_timeout_is_retried() {
    let env = Env::start(20, |c| c.request_timeout = Duration::from_millis(400)).await;
    env.sim.inject(Fault::Delay { ms: 1500 }, 1);
    let start = Instant::now();
    let page = env
        .client
        .first_page(&ContactsQuery::default())
        .await
        .unwrap();
    assert_eq!(
        ids_of(&page.contacts),
        env.sim.dataset().expected_ids(ACCOUNT).collect::<Vec<_>>()
    );
    assert!(
        start.elapsed() < Duration::from_millis(1400),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn bad_cursors_are_invalid_and_not_retried() {
    let env = Env::start(300, |_| {}).await;
    let q = ContactsQuery {
        limit: 100,
        ..Default::default()
    };
    let first = env.client.first_page(&q).await.unwrap();
    let cursor = first.next_cursor.unwrap();
    let mut tampered = cursor.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [tampered.as_str(), "not-a-cursor"] {
        let before = env.sim.stats().requests;
        let err = env.client.resume(bad).await.unwrap_err();
        assert!(matches!(err, CcError::InvalidCursor { .. }), "{err:?}");
        assert!(err.is_permanent());
        assert_eq!(env.sim.stats().requests - before, 1);
    }
    // A cursor the server has since forgotten.
    env.sim.invalidate_cursors();
    let err = env.client.resume(&cursor).await.unwrap_err();
    assert!(matches!(err, CcError::InvalidCursor { .. }), "{err:?}");
    // The same 400 on a first page is a plain bad request.
    env.sim.inject(status(400, None), 1);
    let err = env.client.first_page(&q).await.unwrap_err();
    assert!(matches!(err, CcError::BadRequest { .. }), "{err:?}");
}

#[tokio::test]
async fn forbidden_and_not_found_are_not_retried() {
    let env = Env::start(20, |_| {}).await;
    env.sim.inject(status(403, None), 1);
    env.sim.inject(status(404, None), 1);
    let before = env.sim.stats().requests;
    let q = ContactsQuery::default();
    let e1 = env.client.first_page(&q).await.unwrap_err();
    let e2 = env.client.first_page(&q).await.unwrap_err();
    assert!(matches!(e1, CcError::Forbidden), "{e1:?}");
    assert!(matches!(e2, CcError::NotFound), "{e2:?}");
    assert_eq!(env.sim.stats().requests - before, 2);
}

/// The last attempt's error of a call that ran out of its `attempts`.
fn last_attempt(err: &CcError, attempts: u32) -> &CcError {
    match err {
        CcError::RetriesExhausted { attempts: n, last } if *n == attempts => last,
        other => panic!("expected {attempts} attempts to run out: {other:?}"),
    }
}

#[tokio::test]
async fn retries_run_out() {
    let env = Env::start(20, |c| c.max_attempts = 3).await;
    env.sim.inject(status(503, None), 10);
    let before = env.sim.stats().requests;
    let err = env
        .client
        .first_page(&ContactsQuery::default())
        .await
        .unwrap_err();
    let last = last_attempt(&err, 3);
    assert!(
        matches!(last, CcError::Server { status: 503, .. }),
        "{last:?}"
    );
    assert!(!err.is_permanent());
    assert_eq!(env.sim.stats().requests - before, 3);
}

#[tokio::test]
async fn a_body_past_the_size_limit_is_refused_not_buffered() {
    let env = Env::start(600, |c| {
        c.max_body_bytes = 8 * 1024;
        c.max_attempts = 2;
    })
    .await;
    // One contact fits the limit...
    let one = ContactsQuery {
        limit: 1,
        ..Default::default()
    };
    assert_eq!(env.client.first_page(&one).await.unwrap().contacts.len(), 1);
    // ...a page of 500 (hundreds of kilobytes) does not, and says so.
    let err = env
        .client
        .first_page(&ContactsQuery::default())
        .await
        .unwrap_err();
    let CcError::Malformed { detail } = last_attempt(&err, 2) else {
        panic!("{err:?}");
    };
    assert!(
        detail.contains("larger than the 8192 bytes allowed"),
        "{detail}"
    );
}

#[tokio::test]
async fn the_limiter_keeps_under_the_server_limit() {
    const RPS: u32 = 20;
    const REQUESTS: usize = 70;
    let env = Env::start_with(
        500,
        |s| s.rate_limit_rps = Some(RPS),
        |_| {},
        cc_export::cc::ApiLimiter::new(RPS),
    )
    .await;
    let q = ContactsQuery {
        limit: 5,
        ..Default::default()
    };
    let start = Instant::now();
    let results =
        futures_util::future::join_all((0..REQUESTS).map(|_| env.client.first_page(&q))).await;
    let elapsed = start.elapsed();
    for r in results {
        r.unwrap();
    }
    let stats = env.sim.stats();
    assert_eq!(stats.throttled, 0);
    assert!(stats.max_requests_in_any_1s <= RPS as u64, "{stats:?}");
    // At ≥ 98 % of the limit: 69 gaps of 1/20 s take 3.45 s; 250 ms for timer wake-ups and
    // the 2 shared cores (the limiter measured 98.4 % at 20 rps here).
    let ideal = Duration::from_secs_f64((REQUESTS - 1) as f64 / RPS as f64);
    assert!(elapsed >= ideal, "{elapsed:?}");
    assert!(
        elapsed < ideal.mul_f64(1.0 / 0.98) + Duration::from_millis(250),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn random_faults_still_yield_every_contact_exactly_once() {
    let env = Env::start_with(
        1500,
        |s| {
            s.fault_rate = 0.15;
            s.malformed_rate = 0.1;
        },
        |c| c.max_attempts = 12,
        cc_export::cc::ApiLimiter::new(1000),
    )
    .await;
    let q = ContactsQuery {
        limit: 50,
        ..Default::default()
    };
    let (ids, _, _) = export_all(&env.client, &q).await.unwrap();
    assert_eq!(
        ids,
        env.sim.dataset().expected_ids(ACCOUNT).collect::<Vec<_>>()
    );
    let stats = env.sim.stats();
    assert!(stats.server_errors > 0 && stats.malformed > 0, "{stats:?}");
}

#[tokio::test]
async fn the_simulated_daily_quota_ends_in_quota_exceeded() {
    let env = Env::start_with(
        20,
        |s| s.daily_quota = Some(2),
        |_| {},
        cc_export::cc::ApiLimiter::new(1000),
    )
    .await;
    let q = ContactsQuery::default();
    env.client.first_page(&q).await.unwrap();
    env.client.first_page(&q).await.unwrap();
    let err = env.client.first_page(&q).await.unwrap_err();
    assert!(matches!(err, CcError::QuotaExceeded), "{err:?}");
    assert_eq!(env.sim.stats().requests, 3);
}
