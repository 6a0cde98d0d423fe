//! `cc-export worker`: consume jobs until SIGTERM/SIGINT, then hand running jobs back with their
//! checkpoints and exit 0.

use std::process::ExitCode;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::ops;
use crate::startup::{WorkerArgs, build_worker};

pub async fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let metrics_addr = args.metrics_addr;
    let ctx = Arc::new(build_worker(args).await?);
    // Kept up through the drain: probes and scrapes still answer while jobs are handed back.
    let stop_ops = CancellationToken::new();
    let ops = ops::OpsState::new(ctx.pool.clone(), ctx.amqp.clone());
    let (_, ops_server) = ops::serve(metrics_addr, ops::router(ops), stop_ops.clone()).await?;
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        super::shutdown_signal().await;
        tracing::info!("signal received: finishing up");
        trigger.cancel();
    });
    let result = crate::worker::run(ctx, shutdown).await;
    stop_ops.cancel();
    let _ = ops_server.await;
    result?;
    Ok(ExitCode::SUCCESS)
}
