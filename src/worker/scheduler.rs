//! The worker's main loop: a slot frees up → claim the next runnable job from Postgres → run it.
//! The consumer only records jobs; the job table, not the broker, decides what runs next.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::cancellations::{self, Running};
use super::intake::Intake;
use super::runner::run_job;
use super::schedules;
use super::sweeper;
use crate::queue;
use crate::startup::WorkerContext;
use crate::store::jobs;

/// Runs until `shutdown`: then stops taking jobs, hands running ones back with their
/// checkpoints (leases released) and returns.
pub async fn run(ctx: Arc<WorkerContext>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let wake = Arc::new(Notify::new());
    let intake = Arc::new(Intake {
        ctx: ctx.clone(),
        wake: wake.clone(),
    });
    let concurrency = ctx.settings.concurrency;
    let consumer = {
        let (amqp, stop) = (ctx.amqp.clone(), shutdown.clone());
        tokio::spawn(async move { queue::run(&amqp, concurrency as u16, intake, stop).await })
    };
    let sweeper = tokio::spawn(sweeper::run(ctx.clone(), shutdown.clone()));
    let schedules = tokio::spawn(schedules::run(ctx.clone(), wake.clone(), shutdown.clone()));
    let running_jobs = Running::default();
    let listener = tokio::spawn(cancellations::listen(
        ctx.clone(),
        running_jobs.clone(),
        shutdown.clone(),
    ));
    tracing::info!(worker_id = %ctx.settings.worker_id, concurrency, "worker started");

    let slots = Arc::new(Semaphore::new(concurrency));
    let mut running = JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("semaphore open"),
            _ = shutdown.cancelled() => break,
        };
        while running.try_join_next().is_some() {}
        // Never a job this process still runs (its lease may have expired during a DB outage).
        let mine = running_jobs.ids();
        let (me, lease) = (&ctx.settings.worker_id, ctx.settings.lease);
        match jobs::claim_next_except(&ctx.pool, me, lease, &mine).await {
            Ok(Some(job)) => {
                let (ctx, stop) = (ctx.clone(), shutdown.child_token());
                let (cancelled, guard) = running_jobs.register(job.id);
                running.spawn(async move {
                    run_job(ctx, job, stop, cancelled).await;
                    drop((guard, permit));
                });
            }
            Ok(None) => {
                drop(permit);
                // New work arrives through the consumer (wake) or a retry's `run_after` (poll).
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(ctx.settings.poll) => {}
                    _ = shutdown.cancelled() => break,
                }
            }
            Err(e) => {
                drop(permit);
                tracing::warn!("claiming a job failed (is Postgres up?): {e:#}");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = shutdown.cancelled() => break,
                }
            }
        }
    }
    tracing::info!(jobs = running.len(), "draining: handing running jobs back");
    while running.join_next().await.is_some() {}
    match consumer.await {
        Ok(Err(e)) => tracing::warn!("consumer ended with an error: {e:#}"),
        Err(e) => tracing::warn!("consumer task failed: {e}"),
        Ok(Ok(())) => {}
    }
    let _ = sweeper.await;
    let _ = schedules.await;
    let _ = listener.await;
    tracing::info!("worker stopped");
    Ok(())
}
