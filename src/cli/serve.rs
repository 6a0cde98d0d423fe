//! `cc-export serve`: the HTTP API until SIGTERM/SIGINT; in-flight requests finish first.

use std::process::ExitCode;

use anyhow::Context;

use crate::startup::{ServeArgs, build_api};

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let addr = args.addr;
    let amqp = args.amqp.clone();
    let state = build_api(args).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding API_ADDR {addr}"))?;
    let local = listener.local_addr()?;
    // The first line of stdout, so scripts and tests can find a port chosen with `:0`.
    println!("http://{local}");
    tracing::info!(%local, algorithm = ?state.jwt.algorithm(), "API listening");
    // /metrics, /healthz and /readyz beside the API, unauthenticated like the worker's: probes and
    // scrapers carry no JWT, and the answers hold no account data.
    let ops = crate::ops::router(crate::ops::OpsState::new(state.pool.clone(), amqp));
    axum::serve(listener, crate::api::router(state.clone()).merge(ops))
        .with_graceful_shutdown(super::shutdown_signal())
        .await
        .context("serving the API")?;
    state.publisher.close().await;
    tracing::info!("API stopped");
    Ok(ExitCode::SUCCESS)
}
