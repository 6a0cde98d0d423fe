//! `OAuthClient` and `MemoryTokenSource` against the simulator's token endpoint, which checks the
//! wire format (HTTP Basic client auth, the refresh grant form), rotates refresh tokens and takes
//! scripted faults.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cc_export::cc::{
    MemoryTokenSource, OAuthClient, OAuthConfig, PersistFn, TokenError, TokenPair, TokenSource,
};
use cc_export::secret::Secret;
use cc_export::sim::{Fault, SimConfig, Simulator};
use url::Url;

const DAY: Duration = Duration::from_secs(86_400);

async fn sim() -> Simulator {
    Simulator::start(SimConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn oauth_with(auth_url: &str, secret: &str) -> OAuthClient {
    OAuthClient::new(OAuthConfig {
        auth_url: Url::parse(auth_url).unwrap(),
        client_id: "sim-client".into(),
        client_secret: Secret::new(secret),
        user_agent: "cc-export-tests/1".into(),
        timeout: Duration::from_secs(2),
    })
    .unwrap()
}

fn oauth(sim: &Simulator) -> OAuthClient {
    oauth_with(&sim.auth_url(), "sim-secret")
}

/// The simulator's pair for `account`, issued `age` ago.
fn pair(sim: &Simulator, account: &str, age: Duration) -> TokenPair {
    let t = sim.issue_tokens(account);
    TokenPair {
        access_token: Secret::new(t.access_token),
        refresh_token: Secret::new(t.refresh_token),
        generated_at: time::OffsetDateTime::now_utc() - age,
    }
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
async fn refresh_rotates_the_pair_and_spends_the_old_refresh_token() {
    let sim = sim().await;
    let old = pair(&sim, "acct", Duration::ZERO);
    let new = oauth(&sim).refresh(&old.refresh_token).await.unwrap();
    assert_ne!(new.access_token, old.access_token);
    assert_ne!(new.refresh_token, old.refresh_token);
    let s = sim.stats();
    assert_eq!(
        (s.refreshes, s.invalid_clients, s.without_user_agent),
        (1, 0, 0)
    );
    // Single use: the spent token is refused, and that needs a human.
    let err = oauth(&sim).refresh(&old.refresh_token).await.unwrap_err();
    assert!(matches!(err, TokenError::ReauthRequired { .. }), "{err:?}");
    assert!(err.to_string().contains("re-authentication required"));
    // The new one still works.
    oauth(&sim).refresh(&new.refresh_token).await.unwrap();
}

#[tokio::test]
async fn a_wrong_client_secret_is_rejected_and_does_not_spend_the_token() {
    let sim = sim().await;
    let p = pair(&sim, "acct", Duration::ZERO);
    let err = oauth_with(&sim.auth_url(), "wrong")
        .refresh(&p.refresh_token)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TokenError::Rejected { status: 401, error, .. } if error == "invalid_client"),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains("wrong"),
        "the secret leaked into: {err}"
    );
    oauth(&sim).refresh(&p.refresh_token).await.unwrap();
}

#[tokio::test]
async fn endpoint_errors_are_not_retried_and_a_cut_answer_is_malformed() {
    let sim = sim().await;
    let p = pair(&sim, "acct", Duration::ZERO);
    sim.inject_token(
        Fault::Status {
            status: 503,
            error_key: None,
            retry_after: None,
        },
        1,
    );
    let err = oauth(&sim).refresh(&p.refresh_token).await.unwrap_err();
    assert!(
        matches!(err, TokenError::Rejected { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(
        sim.stats().token_requests,
        1,
        "a refresh that may have reached the server is not retried"
    );
    sim.inject_token(Fault::Malformed, 1);
    let err = oauth(&sim).refresh(&p.refresh_token).await.unwrap_err();
    assert!(matches!(err, TokenError::Malformed(_)), "{err:?}");
    sim.inject_token(Fault::Reset, 1);
    let err = oauth(&sim).refresh(&p.refresh_token).await.unwrap_err();
    assert!(
        matches!(err, TokenError::Transport(_) | TokenError::Malformed(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn unreachable_endpoint_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = oauth_with(&format!("http://{addr}/token"), "s")
        .refresh(&Secret::new("rt"))
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Transport(_)), "{err:?}");
}

#[tokio::test]
async fn a_pair_older_than_max_age_is_refreshed_before_use() {
    let sim = sim().await;
    let (persist, seen) = recording();
    let old = pair(&sim, "acct", DAY + Duration::from_secs(1));
    let src = MemoryTokenSource::new(old.clone(), Some(oauth(&sim)), persist, DAY);
    let fresh = src.access_token().await.unwrap();
    assert_ne!(fresh, old.access_token);
    assert_eq!(src.access_token().await.unwrap(), fresh);
    assert_eq!(sim.stats().refreshes, 1);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].access_token, fresh);
}

#[tokio::test]
async fn concurrent_unauthorized_callers_share_one_refresh() {
    let sim = sim().await;
    let (persist, seen) = recording();
    let old = pair(&sim, "acct", Duration::ZERO);
    let src = Arc::new(MemoryTokenSource::new(
        old.clone(),
        Some(oauth(&sim)),
        persist,
        DAY,
    ));
    let all = futures_util::future::join_all(
        (0..10).map(|_| src.refresh_after_unauthorized(&old.access_token)),
    )
    .await;
    let first = all[0].as_ref().unwrap().clone();
    for t in all {
        assert_eq!(t.unwrap(), first);
    }
    assert_eq!((sim.stats().refreshes, sim.stats().invalid_grants), (1, 0));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_pair_that_cannot_be_stored_is_held_back_until_it_is() {
    let sim = sim().await;
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
    let old = pair(&sim, "acct", Duration::ZERO);
    let src = MemoryTokenSource::new(old.clone(), Some(oauth(&sim)), persist, DAY);
    let err = src
        .refresh_after_unauthorized(&old.access_token)
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Persist(_)), "{err:?}");
    assert!(
        format!("{err:#}").contains("database unavailable"),
        "{err:#}"
    );
    // The unstored pair is not used...
    assert_eq!(src.current().await.access_token, old.access_token);
    // ...and on the next call it is stored first, without spending another refresh token.
    let fresh = src.access_token().await.unwrap();
    assert_ne!(fresh, old.access_token);
    assert_eq!(sim.stats().refreshes, 1);
    assert_eq!(stored.lock().unwrap()[0].access_token, fresh);
}
