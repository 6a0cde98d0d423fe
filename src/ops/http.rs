//! `GET /metrics`, `/healthz`, `/readyz`: a self-contained axum router (its state applied), so
//! the worker serves it alone and `serve` merges it into its own `Router<()>`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::job_counts;
use super::metrics::{CONTENT_TYPE, metrics};
use super::readiness::{self, ReadinessProbe};

#[derive(Clone)]
pub struct OpsState {
    /// Read at each scrape for `cc_export_jobs{status}`.
    pub pool: PgPool,
    /// What `/readyz` checks, in order.
    pub probes: Vec<Arc<dyn ReadinessProbe>>,
}

impl OpsState {
    /// The probes every cc-export server uses: Postgres (this pool) and RabbitMQ.
    pub fn new(pool: PgPool, amqp: crate::config::AmqpSettings) -> Self {
        Self {
            probes: readiness::standard(pool.clone(), amqp),
            pool,
        }
    }
}

pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn scrape(State(state): State<OpsState>) -> Response {
    job_counts::refresh(&state.pool).await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics().encode()).into_response()
}

/// The process is up and answering: nothing else (a liveness probe must not fail on a
/// dependency, or Kubernetes restarts healthy workers during a database outage).
async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when every dependency answers; 503 naming each one that did not.
async fn readyz(State(state): State<OpsState>) -> (StatusCode, String) {
    let checks = state
        .probes
        .iter()
        .map(|p| async move { (p.name(), readiness::run(p.as_ref()).await) });
    let results = futures_util::future::join_all(checks).await;
    let mut body = String::new();
    let mut ready = true;
    for (name, result) in results {
        match result {
            Ok(()) => body.push_str(&format!("{name}: ok\n")),
            Err(why) => {
                ready = false;
                tracing::warn!(dependency = name, "not ready: {why}");
                body.push_str(&format!("{name}: unreachable: {why}\n"));
            }
        }
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

/// Binds `addr` (port 0 picks a free one), logs the bound address, and serves `router` until
/// `shutdown`. Returns the bound address and the server's task.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on METRICS_ADDR {addr}: {e} (port 0 picks a free port)")
    })?;
    let bound = listener.local_addr()?;
    tracing::info!("metrics and health endpoints on http://{bound}");
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await });
        if let Err(e) = server.await {
            tracing::error!("metrics server stopped: {e}");
        }
    });
    Ok((bound, task))
}
