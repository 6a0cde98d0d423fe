//! Shared set-up for the client tests: a simulator on port 0 and a client with short backoffs.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cc_export::cc::{
    ApiLimiter, CcError, ClientConfig, ContactsClient, ContactsQuery, MemoryTokenSource,
    OAuthClient, OAuthConfig, PersistFn, TokenPair,
};
use cc_export::secret::Secret;
use cc_export::sim::{Fault, SimConfig, Simulator};
use serde_json::value::RawValue;
use url::Url;

pub const ACCOUNT: &str = "acct-1";
pub const CLIENT_ID: &str = "sim-client";
pub const CLIENT_SECRET: &str = "sim-secret";

pub struct Env {
    pub sim: Simulator,
    pub client: ContactsClient,
    pub tokens: Arc<MemoryTokenSource>,
    persisted: Arc<Mutex<Vec<TokenPair>>>,
}

impl Env {
    pub async fn start(contacts: u64, tweak: impl FnOnce(&mut ClientConfig)) -> Env {
        Self::start_with(contacts, |_| {}, tweak, ApiLimiter::new(1000)).await
    }

    pub async fn start_with(
        contacts: u64,
        sim_tweak: impl FnOnce(&mut SimConfig),
        tweak: impl FnOnce(&mut ClientConfig),
        limiter: Arc<ApiLimiter>,
    ) -> Env {
        init_tracing();
        let mut sim_cfg = SimConfig {
            contacts,
            seed: 42,
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            ..Default::default()
        };
        sim_tweak(&mut sim_cfg);
        let sim = Simulator::start(sim_cfg, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("simulator starts");
        let issued = sim.issue_tokens(ACCOUNT);
        let pair = TokenPair {
            access_token: Secret::new(issued.access_token.clone()),
            refresh_token: Secret::new(issued.refresh_token.clone()),
            generated_at: time::OffsetDateTime::now_utc(),
        };
        let persisted = Arc::new(Mutex::new(Vec::new()));
        let sink = persisted.clone();
        let persist: PersistFn = Arc::new(move |p: &TokenPair| {
            sink.lock().unwrap().push(p.clone());
            Ok(())
        });
        let tokens = Arc::new(MemoryTokenSource::new(
            pair,
            Some(oauth_for(&sim)),
            persist,
            Duration::from_secs(24 * 3600),
        ));
        let mut cfg = ClientConfig::new(Url::parse(&sim.base_url().to_string()).unwrap());
        cfg.min_backoff = Duration::from_millis(10);
        cfg.max_backoff = Duration::from_millis(100);
        cfg.request_timeout = Duration::from_secs(5);
        tweak(&mut cfg);
        let client = ContactsClient::new(cfg, tokens.clone(), limiter).unwrap();
        Env {
            sim,
            client,
            tokens,
            persisted,
        }
    }

    pub fn persisted(&self) -> Vec<TokenPair> {
        self.persisted.lock().unwrap().clone()
    }

    pub fn oauth(&self) -> OAuthClient {
        oauth_for(&self.sim)
    }
}

pub fn oauth_for(sim: &Simulator) -> OAuthClient {
    OAuthClient::new(OAuthConfig {
        auth_url: Url::parse(&sim.auth_url().to_string()).unwrap(),
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(CLIENT_SECRET),
        user_agent: "cc-export-tests".into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
}

/// Follows next links to the end: (ids in order, pages, the first page's count).
pub async fn export_all(
    client: &ContactsClient,
    q: &ContactsQuery,
) -> Result<(Vec<String>, usize, Option<u64>), CcError> {
    let mut page = client.first_page(q).await?;
    let count = page.contacts_count;
    let mut ids = ids_of(&page.contacts);
    let mut pages = 1;
    while let Some(href) = page.next_href.take() {
        assert!(
            page.next_cursor.is_some(),
            "next link without cursor: {href}"
        );
        page = client.next_page(&href).await?;
        ids.extend(ids_of(&page.contacts));
        pages += 1;
        assert!(pages < 100_000, "runaway pagination");
    }
    assert!(page.next_cursor.is_none());
    Ok((ids, pages, count))
}

pub fn ids_of(contacts: &[Box<RawValue>]) -> Vec<String> {
    contacts
        .iter()
        .map(|c| {
            let v: serde_json::Value = serde_json::from_str(c.get()).unwrap();
            v["contact_id"].as_str().expect("contact_id").to_owned()
        })
        .collect()
}

pub fn status(status: u16, error_key: Option<&str>) -> Fault {
    Fault::Status {
        status,
        error_key: error_key.map(str::to_owned),
        retry_after: None,
    }
}

pub fn throttled(retry_after: Option<u64>) -> Fault {
    Fault::Status {
        status: 429,
        error_key: Some("throttled".into()),
        retry_after,
    }
}
