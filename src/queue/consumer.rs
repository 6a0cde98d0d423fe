//! The consumer: hands every delivery of the work queue to a [`DeliveryHandler`] and applies its
//! [`Decision`], at most `concurrency` at a time, reconnecting with backoff whenever the broker
//! goes away, until `shutdown` is cancelled.
//!
//! Delivery is at least once: a delivery whose connection dies before its ack is redelivered by
//! the broker (after a reconnect, maybe to another worker), possibly while the first handler is
//! still running. Handlers must be idempotent (the worker's job lease and checkpoints are).
//! RabbitMQ closes a channel whose delivery stays unacked past `consumer_timeout` (30 min by
//! default), so a handler must decide quickly and run long work detached from the delivery.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};
use lapin::BasicProperties;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use uuid::Uuid;

use super::session::{self, SessionEnd};
use super::{QueueError, connection_name, endpoint};
use crate::config::AmqpSettings;

/// What to do with a delivery once handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Done (or nothing to do): acknowledge.
    Ack,
    /// It can never succeed: publish it, with the reason in header `x-cc-export-error` (and
    /// `x-cc-export-job-id`), to `<queue>.dlq` with confirms, then acknowledge it.
    DeadLetter {
        reason: String,
        job_id: Option<Uuid>,
    },
    /// Not now (e.g. the database is down): back on the queue, after
    /// [`ConsumerOptions::requeue_delay`] so that a transient failure does not spin.
    Requeue,
}

impl From<super::Rejection> for Decision {
    /// A message that is not a job can never succeed: dead-letter it with the reason.
    fn from(r: super::Rejection) -> Self {
        Decision::DeadLetter {
            reason: r.reason,
            job_id: r.job_id,
        }
    }
}

#[async_trait]
pub trait DeliveryHandler: Send + Sync {
    /// Decides what becomes of one delivery. A panic here dead-letters the delivery with
    /// "handler panicked: …": a bug does not fix itself on redelivery, and a message that can
    /// never succeed must not loop; the DLQ keeps it for a replay once the bug is fixed.
    async fn handle(&self, body: &[u8], props: &BasicProperties) -> Decision;
}

#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Handlers running at once, and the AMQP prefetch (at least 1).
    pub concurrency: u16,
    /// Shown by `rabbitmqctl list_connections`; default `cc-export consumer <queue> pid <pid>`.
    pub connection_name: Option<String>,
    pub reconnect_min_delay: Duration,
    pub reconnect_max_delay: Duration,
    pub requeue_delay: Duration,
}

impl ConsumerOptions {
    pub fn new(concurrency: u16) -> Self {
        Self {
            concurrency,
            connection_name: None,
            reconnect_min_delay: Duration::from_millis(500),
            reconnect_max_delay: Duration::from_secs(30),
            requeue_delay: Duration::from_secs(1),
        }
    }
}

/// Consumes `settings.export_queue` until `shutdown`; see the module docs. Returns `Ok` after a
/// clean shutdown, an error only when reconnecting cannot help
/// ([`QueueError::is_permanent`], e.g. the queue exists with other arguments).
pub async fn run(
    settings: &AmqpSettings,
    concurrency: u16,
    handler: Arc<dyn DeliveryHandler>,
    shutdown: CancellationToken,
) -> Result<(), QueueError> {
    run_with(
        settings,
        &ConsumerOptions::new(concurrency),
        handler,
        shutdown,
    )
    .await
}

/// [`run`] with every option.
pub async fn run_with(
    settings: &AmqpSettings,
    options: &ConsumerOptions,
    handler: Arc<dyn DeliveryHandler>,
    shutdown: CancellationToken,
) -> Result<(), QueueError> {
    let queue = settings.export_queue.as_str();
    let concurrency = options.concurrency.max(1);
    let ctx = session::Ctx {
        settings: settings.clone(),
        concurrency,
        connection_name: options
            .connection_name
            .clone()
            .unwrap_or_else(|| connection_name("consumer", queue)),
        requeue_delay: options.requeue_delay,
        handler,
        // Shared by every session: handlers of a lost connection may still be running.
        limit: Arc::new(Semaphore::new(usize::from(concurrency))),
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(options.reconnect_min_delay)
        .with_max_delay(options.reconnect_max_delay)
        .with_jitter()
        .without_max_times();
    let mut delays = backoff.build();
    let mut tasks = JoinSet::new();
    let mut attempt = 0u32;
    let result = loop {
        let error = match session::run(&ctx, &mut tasks, &shutdown).await {
            SessionEnd::Shutdown => break Ok(()),
            SessionEnd::Failed { error, .. } if error.is_permanent() => break Err(error),
            SessionEnd::Failed { error, consumed } => {
                if consumed {
                    // It worked for a while: start the backoff over.
                    delays = backoff.build();
                    attempt = 0;
                }
                error
            }
        };
        attempt += 1;
        let delay = delays.next().unwrap_or(options.reconnect_max_delay);
        warn!(
            queue,
            endpoint = %endpoint(&settings.amqp_url),
            attempt,
            delay_ms = delay.as_millis() as u64,
            %error,
            "RabbitMQ connection lost or unavailable; reconnecting"
        );
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            _ = tokio::time::sleep(delay) => {}
        }
    };
    // Handlers of earlier sessions may still run; their acks fail and the broker redelivers.
    while tasks.join_next().await.is_some() {}
    info!(queue, "consumer stopped");
    result
}
