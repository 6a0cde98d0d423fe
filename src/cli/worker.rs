//! `cc-export worker`: consume jobs until SIGTERM/SIGINT, then hand running jobs back with their
//! checkpoints and exit 0.

use std::process::ExitCode;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::startup::{WorkerArgs, build_worker};

pub async fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let ctx = Arc::new(build_worker(args).await?);
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        super::shutdown_signal().await;
        tracing::info!("signal received: finishing up");
        trigger.cancel();
    });
    crate::worker::run(ctx, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}
