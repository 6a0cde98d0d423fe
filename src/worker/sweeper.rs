//! Background chores of every worker: abort the multipart uploads of failed and cancelled jobs
//! whose runner could not (it died, or the job was cancelled while queued).
//! Jobs whose lease expired need no sweeping: `claim_next` takes them over.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::sink::s3::abort_upload;
use crate::startup::WorkerContext;
use crate::store::jobs;

const EVERY: Duration = Duration::from_secs(30);

pub async fn run(ctx: Arc<WorkerContext>, shutdown: CancellationToken) {
    loop {
        if let Err(e) = sweep(&ctx).await {
            tracing::warn!("sweep failed: {e:#}");
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

async fn sweep(ctx: &WorkerContext) -> anyhow::Result<()> {
    for (job_id, key, upload_id) in jobs::orphaned_uploads(&ctx.pool, 100).await? {
        abort_upload(&ctx.s3, &ctx.bucket, &key, &upload_id).await?; // false: already gone
        jobs::clear_upload(&ctx.pool, job_id, &upload_id).await?;
        tracing::info!(%job_id, "aborted the upload of a finished job");
    }
    Ok(())
}
