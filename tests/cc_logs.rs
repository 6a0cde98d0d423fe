//! No token or client secret ever reaches the logs, even at TRACE, through refreshes, retries
//! and errors. Its own test binary: it installs a global subscriber that records everything.

mod cc_common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use cc_common::*;
use cc_export::cc::ContactsQuery;
use cc_export::sim::Fault;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_hold_no_secrets() {
    let buf = Buf::default();
    let writer = buf.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let env = Env::start(120, |c| c.max_attempts = 3).await;
    let q = ContactsQuery {
        limit: 50,
        ..Default::default()
    };
    let first = env.client.first_page(&q).await.unwrap();
    let old = env.tokens.current().await;
    env.sim.expire_access_tokens();
    env.sim.inject(throttled(None), 1);
    env.sim.inject(Fault::Malformed, 1);
    env.client
        .next_page(first.next_href.as_deref().unwrap())
        .await
        .unwrap();
    env.sim.inject(status(503, None), 5);
    let err = env.client.first_page(&q).await.unwrap_err();
    let new = env.tokens.current().await;
    // A spent refresh token, refused.
    let refused = env.oauth().refresh(&old.refresh_token).await.unwrap_err();

    use base64::Engine;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("refreshing the access token"), "{text}");
    assert!(text.contains("retrying"), "{text}");
    for secret in [
        old.access_token.expose(),
        old.refresh_token.expose(),
        new.access_token.expose(),
        new.refresh_token.expose(),
        CLIENT_SECRET,
        &basic,
    ] {
        assert!(!text.contains(secret), "a secret leaked into the logs");
        assert!(!err.to_string().contains(secret));
        assert!(!refused.to_string().contains(secret));
        assert!(!format!("{err:?} {refused:?}").contains(secret));
    }
}
