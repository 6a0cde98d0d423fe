//! One connection's life in the consumer: connect, declare the queues, prefetch, consume and
//! dispatch until the connection dies or shutdown; on shutdown cancel the consumer, wait for the
//! handlers and close.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::connect::short;
use super::consumer::DeliveryHandler;
use super::dispatch::{self, Dispatch};
use super::{Publisher, QueueError, connect, dead_letter_queue, declare, endpoint};
use crate::config::AmqpSettings;

/// A broker that stopped answering must not hold a shutdown or a reconnect for long.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct Ctx {
    pub settings: AmqpSettings,
    pub concurrency: u16,
    pub connection_name: String,
    pub requeue_delay: Duration,
    pub handler: Arc<dyn DeliveryHandler>,
    pub limit: Arc<Semaphore>,
}

pub(super) enum SessionEnd {
    Shutdown,
    /// `consumed`: the session got as far as consuming (the backoff starts over).
    Failed {
        error: QueueError,
        consumed: bool,
    },
}

impl SessionEnd {
    fn failed(error: QueueError) -> Self {
        SessionEnd::Failed {
            error,
            consumed: false,
        }
    }
}

struct Open {
    conn: Connection,
    channel: Channel,
    publisher: Publisher,
    consumer: lapin::Consumer,
    tag: String,
}

pub(super) async fn run(
    ctx: &Ctx,
    tasks: &mut JoinSet<()>,
    shutdown: &CancellationToken,
) -> SessionEnd {
    let open = tokio::select! {
        _ = shutdown.cancelled() => return SessionEnd::Shutdown,
        open = open(ctx) => match open {
            Ok(open) => open,
            Err(error) => return SessionEnd::failed(error),
        },
    };
    let queue = ctx.settings.export_queue.as_str();
    info!(
        queue,
        endpoint = %endpoint(&ctx.settings.amqp_url),
        connection_name = ctx.connection_name,
        concurrency = ctx.concurrency,
        "consuming"
    );
    let dispatch = Arc::new(Dispatch {
        handler: ctx.handler.clone(),
        publisher: open.publisher.clone(),
        queue: queue.to_owned(),
        dead_letter_queue: dead_letter_queue(queue),
        requeue_delay: ctx.requeue_delay,
    });
    let mut consumer = open.consumer.clone();
    let lost = loop {
        // Reap finished handlers so the set does not grow with every delivery.
        while tasks.try_join_next().is_some() {}
        // A permit before the next delivery: never more than `concurrency` handlers, counting
        // those of a lost connection still running.
        let permit = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break None,
            permit = ctx.limit.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let next = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break None,
            next = consumer.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                debug!(
                    delivery_tag = delivery.delivery_tag,
                    redelivered = delivery.redelivered,
                    "delivery"
                );
                tasks.spawn(dispatch::handle(dispatch.clone(), delivery, permit));
            }
            Some(Err(error)) => break Some(QueueError::amqp("consuming")(error)),
            None => {
                break Some(QueueError::ConsumerCancelled {
                    queue: queue.to_owned(),
                });
            }
        }
    };
    match lost {
        Some(error) => {
            close(&open.conn).await;
            SessionEnd::Failed {
                error,
                consumed: true,
            }
        }
        None => {
            shut_down(open, tasks).await;
            SessionEnd::Shutdown
        }
    }
}

async fn open(ctx: &Ctx) -> Result<Open, QueueError> {
    let queue = ctx.settings.export_queue.as_str();
    let conn = connect(&ctx.settings, &ctx.connection_name).await?;
    declare(&conn, queue).await?;
    let publisher = Publisher::new(&conn).await?;
    let channel = conn
        .create_channel()
        .await
        .map_err(QueueError::amqp("opening the consuming channel"))?;
    // Before basic_consume: a consumer without a prefetch limit gets the whole queue at once.
    channel
        .basic_qos(ctx.concurrency, BasicQosOptions::default())
        .await
        .map_err(QueueError::amqp("setting the prefetch (basic.qos)"))?;
    let tag = format!("cc-export-{}", uuid::Uuid::new_v4());
    let consumer = channel
        .basic_consume(
            short("queue", queue)?,
            short("consumer tag", &tag)?,
            BasicConsumeOptions::default(), // manual acks (no_ack = false)
            FieldTable::default(),
        )
        .await
        .map_err(QueueError::amqp(format!("consuming queue {queue:?}")))?;
    Ok(Open {
        conn,
        channel,
        publisher,
        consumer,
        tag,
    })
}

async fn shut_down(open: Open, tasks: &mut JoinSet<()>) {
    // No new deliveries; prefetched ones never handled go back to the queue when the channel
    // closes.
    let cancel = open
        .channel
        .basic_cancel(open.tag.as_str().into(), BasicCancelOptions::default());
    if let Ok(Err(error)) = tokio::time::timeout(CLOSE_TIMEOUT, cancel).await {
        warn!(%error, "basic.cancel failed");
    }
    // The handlers ack on this connection: it stays open until they are done.
    while tasks.join_next().await.is_some() {}
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, open.channel.close(200, "OK".into())).await;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, open.publisher.close()).await;
    close(&open.conn).await;
}

async fn close(conn: &Connection) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.close(200, "OK".into())).await;
}
