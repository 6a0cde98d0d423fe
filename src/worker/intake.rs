//! What the consumer does with a delivery: a message that can never succeed is dead-lettered
//! with its reason (and recorded when it names a job); a good one is recorded, then acked.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lapin::BasicProperties;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::job::JobSpec;
use crate::queue::{Decision, DeliveryHandler, message};
use crate::startup::WorkerContext;
use crate::store::jobs::{self, RecordOutcome};

pub struct Intake {
    pub ctx: Arc<WorkerContext>,
    /// Wakes the scheduler when a new job is recorded.
    pub wake: Arc<Notify>,
}

#[async_trait]
impl DeliveryHandler for Intake {
    async fn handle(&self, body: &[u8], props: &BasicProperties) -> Decision {
        let message_id = props.message_id().as_ref().map(|id| id.as_str());
        let spec = match message::parse(body, message_id, &self.ctx.export_prefix) {
            Ok(spec) => spec,
            Err(rejection) => {
                tracing::warn!(job_id = ?rejection.job_id, reason = %rejection.reason, "dead-lettering a bad message");
                if let Some(job_id) = rejection.job_id {
                    let raw = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
                    if let Err(e) = jobs::record_rejected(
                        &self.ctx.pool,
                        job_id,
                        rejection.account_id.as_deref(),
                        rejection.user_id.as_deref(),
                        raw,
                        &rejection.reason,
                    )
                    .await
                    {
                        tracing::warn!(%job_id, "could not record the rejection: {e:#}");
                    }
                }
                crate::ops::metrics::queue_message("dead_lettered");
                return Decision::DeadLetter {
                    reason: rejection.reason,
                    job_id: rejection.job_id,
                };
            }
        };
        let span =
            tracing::info_span!("intake", job_id = %spec.job_id, account_id = %spec.account_id);
        // Instrumented, not entered: a guard held across `.await` would lend this job's span
        // to whatever else the thread runs meanwhile.
        self.record(&spec).instrument(span).await
    }
}

impl Intake {
    /// Records a valid job (acked), or asks for a requeue when Postgres is away.
    async fn record(&self, spec: &JobSpec) -> Decision {
        // Names the job before the first await: a delivery whose row never appears shows here.
        tracing::debug!("recording the job");
        match jobs::record(&self.ctx.pool, spec, self.ctx.settings.max_attempts).await {
            Ok(RecordOutcome::Created(_)) => {
                tracing::info!("job recorded");
                crate::ops::metrics::queue_message("recorded");
                self.wake.notify_one();
                Decision::Ack
            }
            Ok(RecordOutcome::Existing(row)) => {
                // A redelivery or a duplicate: the row already decides what happens to the job.
                tracing::info!(status = ?row.status, "duplicate delivery of a known job; acknowledged");
                crate::ops::metrics::queue_message("duplicate");
                self.wake.notify_one();
                Decision::Ack
            }
            Err(e) => {
                // Postgres is away: keep the message; the pause keeps a redelivery loop slow.
                tracing::warn!("could not record the job, requeueing: {e:#}");
                crate::ops::metrics::queue_message("requeued");
                tokio::time::sleep(Duration::from_secs(2)).await;
                Decision::Requeue
            }
        }
    }
}
