//! `QueueError`: what callers of the queue module match on. Messages are one line and never hold
//! the AMQP URL's credentials (the URL travels as a `Secret`; messages name host, port, vhost).

use lapin::protocol::{AMQPErrorKind, AMQPSoftError};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot connect to RabbitMQ at {endpoint}: {error}")]
    Connect {
        endpoint: String,
        error: lapin::Error,
    },
    #[error("connecting to RabbitMQ at {endpoint} timed out after {secs} s")]
    ConnectTimeout { endpoint: String, secs: u64 },
    /// The queue exists with other arguments than cc-export declares: the broker answered
    /// PRECONDITION_FAILED. Not retried: it needs an operator.
    #[error(
        "queue {queue:?} already exists with other settings than cc-export needs ({expected}); \
         the broker refused to redeclare it (PRECONDITION_FAILED: {detail}); delete the queue \
         or move its messages to a new name (EXPORT_QUEUE), then start again"
    )]
    TopologyConflict {
        queue: String,
        expected: String,
        detail: String,
    },
    #[error("{what} {name:?} is too long for AMQP (at most 255 bytes; a queue's `<name>.dlq` too)")]
    InvalidName { what: &'static str, name: String },
    #[error("{context}: {error}")]
    Amqp {
        context: String,
        error: lapin::Error,
    },
    /// The broker ended the consumer (the queue was deleted, or the node is going down).
    #[error("the broker cancelled the consumer of queue {queue:?} (queue deleted?)")]
    ConsumerCancelled { queue: String },
    #[error("the broker refused (nack) the message published to queue {queue:?}")]
    Nacked { queue: String },
    #[error(
        "the message published to queue {queue:?} was returned unroutable ({reply}): does the queue exist?"
    )]
    Unroutable { queue: String, reply: String },
    /// No confirm in time: a broker under a memory or disk alarm blocks publishers without
    /// closing the connection, so a confirm can take forever.
    #[error("the broker did not confirm the message published to queue {queue:?} within {secs} s")]
    ConfirmTimeout { queue: String, secs: u64 },
}

impl QueueError {
    /// True when reconnecting cannot help without an operator.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            QueueError::TopologyConflict { .. } | QueueError::InvalidName { .. }
        )
    }

    pub(crate) fn amqp(context: impl Into<String>) -> impl FnOnce(lapin::Error) -> QueueError {
        let context = context.into();
        move |error| QueueError::Amqp { context, error }
    }
}

/// The broker's PRECONDITION_FAILED text, when that is what `err` is.
pub(crate) fn precondition_failed(err: &lapin::Error) -> Option<String> {
    match err.kind() {
        lapin::ErrorKind::ProtocolError(e)
            if *e.kind() == AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED) =>
        {
            Some(e.get_message().to_string())
        }
        _ => None,
    }
}
