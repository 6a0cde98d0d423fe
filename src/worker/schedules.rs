//! Scheduled syncs, in every worker: every `WORKER_SCHEDULE_POLL_SECS` the worker that gets the
//! schedules' advisory lock turns due runs into queued job rows (`store::schedules`), then
//! publishes each with confirms. The row, not the message, is what makes the job run: a publish
//! that fails (or a crash before it) loses nothing, since every worker claims queued rows from
//! the table; the message only tells the other workers at once, as `enqueue` would.
//!
//! Not to be confused with `scheduler`, the loop that claims and runs jobs.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::queue;
use crate::startup::WorkerContext;
use crate::store::schedules::{self, DueRun, Tick};

/// Schedules handled per transaction; more due ones are taken at once by the next round.
const BATCH: i64 = 100;

pub async fn run(ctx: Arc<WorkerContext>, wake: Arc<Notify>, shutdown: CancellationToken) {
    loop {
        let full = match schedules::enqueue_due(
            &ctx.pool,
            &ctx.export_prefix,
            ctx.settings.max_attempts,
            BATCH,
        )
        .await
        {
            Ok(Tick::Busy) => {
                tracing::debug!("schedules checked: another worker holds the lock");
                false
            }
            Ok(Tick::Enqueued(runs)) => {
                tracing::debug!(enqueued = runs.len(), "schedules checked");
                if !runs.is_empty() {
                    wake.notify_one();
                    // A broker that is away must not hold up a shutdown: the rows are safe.
                    tokio::select! {
                        _ = publish(&ctx, &runs) => {}
                        _ = shutdown.cancelled() => return,
                    }
                }
                runs.len() as i64 >= BATCH
            }
            Err(e) => {
                tracing::warn!("checking the schedules failed (is Postgres up?): {e:#}");
                false
            }
        };
        if full {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(ctx.settings.schedule_poll) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Publishes the runs' messages with confirms; a failure is logged, the rows run regardless.
/// The longest one tick waits for the broker to take its runs.
const PUBLISH_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

async fn publish(ctx: &WorkerContext, runs: &[DueRun]) {
    let queue_name = ctx.amqp.export_queue.as_str();
    let jobs: Vec<(&[u8], String)> = runs
        .iter()
        .map(|run| (&run.body[..], run.spec.job_id.to_string()))
        .collect();
    let result = queue::publish_jobs(&ctx.amqp, "schedules", &jobs);
    // A blocked broker (memory or disk alarm) never confirms: give up and let the table carry
    // the runs, so the schedule loop keeps ticking.
    let result = match tokio::time::timeout(PUBLISH_WAIT, result).await {
        Ok(result) => result,
        Err(_) => Err(queue::QueueError::ConfirmTimeout {
            queue: queue_name.to_string(),
            secs: PUBLISH_WAIT.as_secs(),
        }),
    };
    if let Err(e) = result {
        tracing::warn!(
            jobs = runs.len(),
            "publishing scheduled runs failed; their queued rows run anyway: {e:#}"
        );
    }
}
