//! [`Simulator`]: binds the port, serves every route, exposes the test controls in-process.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::auth::SimTokens;
use super::config::SimConfig;
use super::dataset::Dataset;
use super::faults::Fault;
use super::state::SimState;
use super::stats::SimStats;
use super::{admin, oauth, v3};

/// A running Constant Contact v3 simulator.
#[derive(Debug)]
pub struct Simulator {
    state: Arc<SimState>,
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/v3/contacts", get(v3::contacts))
        .route("/v3/contact_custom_fields", get(v3::custom_fields))
        .route("/oauth2/default/v1/token", post(oauth::token))
        .merge(admin::routes())
        .with_state(state)
}

impl Simulator {
    /// Binds `addr` (port 0 picks a free port) and starts serving.
    pub async fn start(cfg: SimConfig, addr: SocketAddr) -> std::io::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(SimState::new(cfg));
        let app = router(Arc::clone(&state));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%addr, contacts = state.cfg.contacts, seed = state.cfg.seed, "simulator listening");
        Ok(Simulator {
            state,
            addr,
            stop,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v3", self.addr)
    }

    pub fn auth_url(&self) -> String {
        format!("http://{}/oauth2/default/v1/token", self.addr)
    }

    pub fn issue_tokens(&self, account_id: &str) -> SimTokens {
        self.state.tokens.issue(account_id)
    }

    /// Every token string issued or refreshed so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.tokens.issued()
    }

    /// Every access token issued so far now gets a 401.
    pub fn expire_access_tokens(&self) {
        self.state.tokens.expire_access_tokens();
    }

    /// The next refresh with any of the account's current refresh tokens gets `invalid_grant`.
    pub fn revoke_refresh_tokens(&self, account_id: &str) {
        self.state.tokens.revoke_refresh_tokens(account_id);
    }

    /// Every cursor issued so far now gets a 400.
    pub fn invalidate_cursors(&self) {
        self.state.cursors.invalidate();
    }

    /// Queues `fault` for the next `times` `/v3` requests (FIFO, before random faults).
    pub fn inject(&self, fault: Fault, times: u32) {
        self.state.faults.inject(fault, times);
    }

    /// Queues `fault` for the next `times` token endpoint requests (errors in the OAuth shape).
    pub fn inject_token(&self, fault: Fault, times: u32) {
        self.state.token_faults.inject(fault, times);
    }

    pub fn stats(&self) -> SimStats {
        self.state.stats.snapshot()
    }

    pub fn reset_stats(&self) {
        self.state.stats.reset();
    }

    pub fn dataset(&self) -> &Dataset {
        &self.state.dataset
    }

    /// Stops accepting connections and waits (up to 5 s) for open ones to finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(std::time::Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}
