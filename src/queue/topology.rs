//! The queues, declared at every (re)connect: the durable dead-letter queue `<queue>.dlq` and the
//! durable work queue, which dead-letters into it, so a reject (or an expiry) also ends up there.

use lapin::Connection;
use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable, LongString};

use super::QueueError;
use super::connect::short;
use super::error::precondition_failed;

pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dlq")
}

/// The work queue's arguments: dead-letter through the default exchange to `<queue>.dlq`.
pub fn work_queue_arguments(queue: &str) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(LongString::from("")),
    );
    args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(LongString::from(dead_letter_queue(queue))),
    );
    args
}

/// Declares both queues (idempotent). A queue that exists with other arguments is
/// [`QueueError::TopologyConflict`]. Uses a channel of its own: a refused declare closes it.
pub async fn declare(conn: &Connection, queue: &str) -> Result<(), QueueError> {
    let dlq = dead_letter_queue(queue);
    let (queue_name, dlq_name) = (short("queue", queue)?, short("queue", &dlq)?);
    let channel = conn
        .create_channel()
        .await
        .map_err(QueueError::amqp("opening a channel to declare the queues"))?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(dlq_name, durable, FieldTable::default())
        .await
        .map_err(|e| refused(e, &dlq, "durable, no arguments".into()))?;
    channel
        .queue_declare(queue_name, durable, work_queue_arguments(queue))
        .await
        .map_err(|e| {
            let expected =
                format!("durable, x-dead-letter-exchange \"\", x-dead-letter-routing-key {dlq:?}");
            refused(e, queue, expected)
        })?;
    // Best effort: the declares are done whatever happens to this channel now.
    let _ = channel.close(200, "OK".into()).await;
    Ok(())
}

fn refused(error: lapin::Error, queue: &str, expected: String) -> QueueError {
    match precondition_failed(&error) {
        Some(detail) => QueueError::TopologyConflict {
            queue: queue.into(),
            expected,
            detail,
        },
        None => QueueError::Amqp {
            context: format!("declaring queue {queue:?}"),
            error,
        },
    }
}
