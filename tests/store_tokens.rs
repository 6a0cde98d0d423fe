//! Encrypted tokens in Postgres and `DbTokenSource` against the project's simulator.

mod common;

use std::time::Duration;

use cc_export::cc::{OAuthClient, OAuthConfig, TokenError, TokenPair, TokenSource};
use cc_export::secret::Secret;
use cc_export::sim::{SimConfig, Simulator};
use cc_export::store::{CryptoError, DbTokenSource, StoreError, TokenKey, tokens};
use common::db::fresh_db;
use sqlx::PgPool;
use time::OffsetDateTime;

const ACCOUNT: &str = "acct-7";
const USER: &str = "user_abc";

fn key(b: u8) -> TokenKey {
    TokenKey::from_bytes(&[b; 32]).unwrap()
}

async fn sim() -> Simulator {
    let cfg = SimConfig {
        contacts: 10,
        ..SimConfig::default()
    };
    Simulator::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn oauth(sim: &Simulator) -> OAuthClient {
    OAuthClient::new(OAuthConfig {
        auth_url: sim.auth_url().parse().unwrap(),
        client_id: "sim-client".into(),
        client_secret: Secret::new("sim-secret"),
        user_agent: "cc-export-tests".into(),
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

/// Stores the simulator's pair for ACCOUNT, `age` old.
async fn put_sim_tokens(pool: &PgPool, sim: &Simulator, age: Duration) -> TokenPair {
    let t = sim.issue_tokens(ACCOUNT);
    let pair = TokenPair {
        access_token: t.access_token.into(),
        refresh_token: t.refresh_token.into(),
        generated_at: OffsetDateTime::now_utc() - age,
    };
    tokens::put(pool, &key(1), ACCOUNT, USER, &pair)
        .await
        .unwrap();
    pair
}

#[tokio::test]
async fn table_holds_only_ciphertext_and_round_trips() {
    let db = fresh_db().await;
    let pair = TokenPair {
        access_token: "plain-access-token-123".into(),
        refresh_token: "plain-refresh-token-456".into(),
        generated_at: OffsetDateTime::now_utc().replace_nanosecond(0).unwrap(),
    };
    tokens::put(&db.pool, &key(1), ACCOUNT, USER, &pair)
        .await
        .unwrap();
    let (at, rt, key_id): (Vec<u8>, Vec<u8>, String) =
        sqlx::query_as("SELECT access_token_enc, refresh_token_enc, key_id FROM cc_tokens")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    for (blob, plain) in [
        (&at, "plain-access-token-123"),
        (&rt, "plain-refresh-token-456"),
    ] {
        assert!(blob.len() >= 12 + 16 + plain.len());
        for probe in [plain, "plain-", "token-"] {
            assert!(!blob.windows(probe.len()).any(|w| w == probe.as_bytes()));
        }
    }
    assert_eq!(key_id, key(1).key_id());
    let whole_row: String = sqlx::query_scalar("SELECT row_to_json(t)::text FROM cc_tokens t")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(!whole_row.contains("plain"), "{whole_row}");
    let back = tokens::load(&db.pool, &key(1), ACCOUNT, USER)
        .await
        .unwrap();
    assert_eq!(back, pair);
}

#[tokio::test]
async fn wrong_key_and_missing_row_are_clear_errors() {
    let db = fresh_db().await;
    let sim = sim().await;
    put_sim_tokens(&db.pool, &sim, Duration::ZERO).await;
    let err = tokens::load(&db.pool, &key(2), ACCOUNT, USER)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, StoreError::Crypto(CryptoError::KeyMismatch { .. })),
        "{msg}"
    );
    assert!(
        msg.contains(key(1).key_id()) && msg.contains(key(2).key_id()),
        "{msg}"
    );

    // Through the TokenSource: permanent, and says what to do.
    let src = DbTokenSource::new(db.pool.clone(), key(2), ACCOUNT, USER, oauth(&sim));
    let err = src.access_token().await.unwrap_err();
    assert!(
        err.is_permanent() && err.to_string().contains(key(1).key_id()),
        "{err}"
    );
    let src = DbTokenSource::new(db.pool.clone(), key(1), "nobody", USER, oauth(&sim));
    assert!(matches!(
        src.check().await,
        Err(StoreError::NoTokens { .. })
    ));
    let err = src.access_token().await.unwrap_err();
    assert!(err.is_permanent());
    assert!(
        err.to_string().contains(
            "no tokens stored for account nobody user user_abc; run `cc-export tokens put`"
        ),
        "{err}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn fresh_tokens_are_used_without_refresh() {
    let db = fresh_db().await;
    let sim = sim().await;
    let pair = put_sim_tokens(&db.pool, &sim, Duration::from_secs(60)).await;
    let src = DbTokenSource::new(db.pool.clone(), key(1), ACCOUNT, USER, oauth(&sim));
    src.check().await.unwrap();
    assert_eq!(src.access_token().await.unwrap(), pair.access_token);
    assert_eq!(src.access_token().await.unwrap(), pair.access_token);
    assert_eq!(sim.stats().refreshes, 0);
    sim.shutdown().await;
}

/// Two "processes" (separate pools) find the pair stale at once: exactly one refresh.
#[tokio::test]
async fn concurrent_stale_refresh_across_processes_refreshes_once() {
    let db = fresh_db().await;
    let sim = sim().await;
    let old = put_sim_tokens(&db.pool, &sim, Duration::from_secs(25 * 3600)).await;
    let mut sources = Vec::new();
    for _ in 0..2 {
        let pool = db.another_pool(2).await;
        sources.push(DbTokenSource::new(pool, key(1), ACCOUNT, USER, oauth(&sim)));
    }
    let (a, b) = tokio::join!(sources[0].access_token(), sources[1].access_token());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b, "both use the one new token");
    assert_ne!(a, old.access_token);
    let stats = sim.stats();
    assert_eq!((stats.refreshes, stats.invalid_grants), (1, 0));
    let stored = tokens::load(&db.pool, &key(1), ACCOUNT, USER)
        .await
        .unwrap();
    assert_eq!(stored.access_token, a);
    assert!(OffsetDateTime::now_utc() - stored.generated_at < Duration::from_secs(60));
    sim.shutdown().await;
}

/// Two processes get a 401 for the same token at once: exactly one refresh.
#[tokio::test]
async fn concurrent_unauthorized_across_processes_refreshes_once() {
    let db = fresh_db().await;
    let sim = sim().await;
    let old = put_sim_tokens(&db.pool, &sim, Duration::ZERO).await;
    let mut sources = Vec::new();
    for _ in 0..3 {
        let pool = db.another_pool(2).await;
        sources.push(DbTokenSource::new(pool, key(1), ACCOUNT, USER, oauth(&sim)));
    }
    let rejected = old.access_token.clone();
    let (a, b, c) = tokio::join!(
        sources[0].refresh_after_unauthorized(&rejected),
        sources[1].refresh_after_unauthorized(&rejected),
        sources[2].refresh_after_unauthorized(&rejected),
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert!(a == b && b == c && a != old.access_token);
    let stats = sim.stats();
    assert_eq!((stats.refreshes, stats.invalid_grants), (1, 0));
    // A later 401 on the new token refreshes again, once.
    let d = sources[0].refresh_after_unauthorized(&a).await.unwrap();
    assert_ne!(d, a);
    assert_eq!(
        sources[1].access_token().await.unwrap(),
        a,
        "cached until its own 401"
    );
    assert_eq!(sources[1].refresh_after_unauthorized(&a).await.unwrap(), d);
    assert_eq!(sim.stats().refreshes, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn revoked_refresh_token_needs_reauth() {
    let db = fresh_db().await;
    let sim = sim().await;
    let old = put_sim_tokens(&db.pool, &sim, Duration::ZERO).await;
    sim.revoke_refresh_tokens(ACCOUNT);
    let src = DbTokenSource::new(db.pool.clone(), key(1), ACCOUNT, USER, oauth(&sim));
    let err = src
        .refresh_after_unauthorized(&old.access_token)
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::ReauthRequired { .. }), "{err}");
    assert!(err.is_permanent());
    assert!(!err.to_string().contains(old.refresh_token.expose()));
    // The row is untouched (and not locked: a second attempt answers the same way).
    let stored = tokens::load(&db.pool, &key(1), ACCOUNT, USER)
        .await
        .unwrap();
    assert_eq!(
        (stored.access_token, stored.refresh_token),
        (old.access_token.clone(), old.refresh_token.clone())
    );
    let err = src
        .refresh_after_unauthorized(&old.access_token)
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::ReauthRequired { .. }));
    sim.shutdown().await;
}
