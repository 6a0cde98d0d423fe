//! Runs one claimed job: tokens from Postgres, the export pipeline into an S3 multipart upload
//! whose parts are checkpointed on the job row, a heartbeat that keeps the lease, and the row
//! settled at the end (succeeded, retried, failed, handed back on shutdown).

use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::outcome::{RunEnd, classify};
use crate::cc::ContactsClient;
use crate::encode::{Format, build_encoder, resolve_columns};
use crate::export::{self, Plan, Progress};
use crate::job::JobSpec;
use crate::sink::s3::{S3Location, S3Sink, S3SinkOptions, abort_upload};
use crate::startup::WorkerContext;
use crate::store::DbTokenSource;
use crate::store::StoreError;
use crate::store::jobs::{self, JobRow, JobStatus, LeaseState};
use crate::store::parts::PgPartLedger;

/// Clean restarts allowed when the API refuses a checkpointed cursor.
const MAX_RESTARTS: u32 = 3;

/// `stop`: the worker shuts down (hand the job back); `cancelled`: an operator cancelled it.
pub async fn run_job(
    ctx: Arc<WorkerContext>,
    job: JobRow,
    stop: CancellationToken,
    cancelled: CancellationToken,
) {
    let span = tracing::info_span!("job", job_id = %job.id, account_id = %job.account_id);
    async move {
        tracing::info!(
            attempt = job.attempts,
            from_rows = job.total_processed,
            "job started"
        );
        let started = std::time::Instant::now();
        crate::ops::metrics::job_started();
        let (end, sink) = execute(&ctx, &job, &stop, &cancelled).await;
        let outcome = settle(&ctx, &job, end, sink).await;
        crate::ops::metrics::job_ended(outcome, started.elapsed());
    }
    .instrument(span)
    .await
}

async fn execute(
    ctx: &Arc<WorkerContext>,
    job: &JobRow,
    stop: &CancellationToken,
    cancelled: &CancellationToken,
) -> (RunEnd, Option<S3Sink>) {
    let mut sink = None;
    let lost = CancellationToken::new();
    let heartbeat = tokio::spawn(keep_lease(ctx.clone(), job.id, lost.clone()));
    let run = async {
        let spec = job.spec.as_ref().ok_or_else(|| {
            StoreError::Corrupt(
                job.spec_error
                    .clone()
                    .unwrap_or_else(|| "the job has no spec".into()),
            )
        })?;
        let (client, plan) = prepare(ctx, job, spec).await?;
        let ledger = Arc::new(PgPartLedger::new(
            ctx.pool.clone(),
            job.id,
            ctx.settings.worker_id.clone(),
            ctx.settings.lease,
        ));
        let location = S3Location {
            bucket: ctx.bucket.clone(),
            key: job.output_key.clone(),
        };
        let options = S3SinkOptions {
            part_size: ctx.part_size,
            job_id: job.id.to_string(),
            content_type: Some(content_type(spec)),
        };
        let s = sink.insert(
            S3Sink::open(ctx.s3.clone(), location, options, ledger)
                .await
                .context("opening the object upload")?,
        );
        let outcome = export::run(
            Arc::new(client),
            plan,
            job.position(),
            s,
            &mut Progress::silent(),
        )
        .await?;
        anyhow::Ok(RunEnd::Done {
            rows: outcome.position.rows,
            bytes: outcome.summary.bytes,
        })
    };
    let end = tokio::select! {
        r = run => r.unwrap_or_else(|e| classify(e, job.attempts)),
        _ = stop.cancelled() => RunEnd::Drained,
        _ = lost.cancelled() => RunEnd::LeaseLost,
        _ = cancelled.cancelled() => RunEnd::LeaseLost,
    };
    heartbeat.abort();
    (end, sink)
}

/// The API client and encoding plan for this job. CSV columns are resolved once, on the first
/// run, and kept on the row: a resumed export must write the columns its header names.
async fn prepare(
    ctx: &WorkerContext,
    job: &JobRow,
    spec: &JobSpec,
) -> anyhow::Result<(ContactsClient, Plan)> {
    let tokens = DbTokenSource::new(
        ctx.pool.clone(),
        ctx.token_key.clone(),
        spec.account_id.clone(),
        spec.user_id.clone(),
        ctx.oauth.clone(),
    );
    let client = ContactsClient::new(
        ctx.client_config.clone(),
        Arc::new(tokens),
        ctx.limiter.clone(),
    )?
    .with_gate(ctx.rate_gate.clone());
    let columns = match (&job.columns, spec.format) {
        (Some(columns), _) => columns.clone(),
        (None, Format::Ndjson) => Vec::new(),
        (None, Format::Csv) => {
            let fields = client
                .custom_fields()
                .await
                .context("reading the account's custom fields")?;
            let columns = resolve_columns(spec.columns.as_deref(), &fields)?;
            jobs::save_columns(&ctx.pool, job.id, &ctx.settings.worker_id, &columns).await?;
            columns
        }
    };
    let plan = Plan {
        query: spec.query(),
        encoders: {
            let format = spec.format;
            Arc::new(move || build_encoder(format, &columns, false))
        },
        gzip: spec.gzip,
        max_restarts: MAX_RESTARTS,
        partitions: ctx.settings.partitions,
    };
    Ok((client, plan))
}

/// Extends the lease every heartbeat interval; cancels `lost` when the row is no longer ours.
async fn keep_lease(ctx: Arc<WorkerContext>, job_id: uuid::Uuid, lost: CancellationToken) {
    loop {
        tokio::time::sleep(ctx.settings.heartbeat).await;
        match jobs::heartbeat(
            &ctx.pool,
            job_id,
            &ctx.settings.worker_id,
            ctx.settings.lease,
        )
        .await
        {
            Ok(LeaseState::Held) => {}
            Ok(LeaseState::Lost { status }) => {
                tracing::warn!(?status, "lease lost; stopping");
                lost.cancel();
                return;
            }
            // A database blip: the checkpoint writes are lease-guarded, so keep going.
            Err(e) => tracing::warn!("heartbeat failed: {e:#}"),
        }
    }
}

/// Records how the run ended; returns the outcome's metric label.
async fn settle(
    ctx: &WorkerContext,
    job: &JobRow,
    end: RunEnd,
    sink: Option<S3Sink>,
) -> &'static str {
    let (pool, me) = (&ctx.pool, ctx.settings.worker_id.as_str());
    let mut outcome = end.label();
    let result = match end {
        RunEnd::Done { rows, bytes } => {
            tracing::info!(rows, bytes, key = %job.output_key, "job succeeded");
            jobs::succeed(pool, job.id, me, rows, bytes).await
        }
        RunEnd::Drained => {
            tracing::info!("shutting down: job handed back with its checkpoint");
            jobs::release(pool, job.id, me).await.map(|_| ())
        }
        RunEnd::LeaseLost => {
            if let Ok(Some(row)) = jobs::get(pool, job.id).await
                && row.status == JobStatus::Cancelled
            {
                outcome = "cancelled";
                tracing::info!("job cancelled; aborting its upload");
                abort(ctx, job, sink).await;
            }
            Ok(())
        }
        RunEnd::QuotaWait { until } => {
            tracing::warn!(%until, "the API key's daily quota is spent; the job waits for 00:00 UTC");
            jobs::defer(
                pool,
                job.id,
                me,
                until,
                "waiting for the API key's daily quota (resets 00:00 UTC)",
            )
            .await
            .map(|_| ())
        }
        RunEnd::Retry { error, delay } => {
            match jobs::retry_later(pool, job.id, me, &error, delay).await {
                Ok(JobStatus::Failed) => {
                    outcome = "failed";
                    tracing::error!(%error, "job failed: attempts used up");
                    abort(ctx, job, sink).await;
                    Ok(())
                }
                Ok(_) => {
                    tracing::warn!(%error, retry_in = ?delay, "job will be retried");
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        RunEnd::Abort { error } => {
            tracing::error!(%error, "job failed");
            let r = jobs::fail(pool, job.id, me, &error).await;
            abort(ctx, job, sink).await;
            r
        }
    };
    if let Err(e) = result {
        // The lease runs out and the job is picked up again from its checkpoint.
        tracing::error!("could not record the job's outcome: {e:#}");
    }
    outcome
}

/// Aborts the job's multipart upload, if any, and forgets it on the row. Not through the
/// ledger: the job is no longer running, so its lease-guarded writes would be refused.
async fn abort(ctx: &WorkerContext, job: &JobRow, sink: Option<S3Sink>) {
    let Some(upload_id) = sink.as_ref().and_then(|s| s.upload_id().map(str::to_owned)) else {
        return;
    };
    match abort_upload(&ctx.s3, &ctx.bucket, &job.output_key, &upload_id).await {
        Ok(_) => {
            if let Err(e) = jobs::clear_upload(&ctx.pool, job.id, &upload_id).await {
                tracing::warn!("aborted upload not cleared on the row (the sweeper will): {e:#}");
            }
        }
        Err(e) => tracing::warn!("aborting the upload failed (the sweeper retries): {e:#}"),
    }
}

fn content_type(spec: &JobSpec) -> String {
    match (spec.gzip, spec.format) {
        (true, _) => "application/gzip".into(),
        (false, Format::Csv) => "text/csv; charset=utf-8".into(),
        (false, Format::Ndjson) => "application/x-ndjson".into(),
    }
}
