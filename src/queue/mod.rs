//! The job queue (RabbitMQ, lapin 4): job messages parsed into [`crate::job::JobSpec`], the
//! queue topology (work queue dead-lettering into `<queue>.dlq`), a publisher with confirms, and
//! a consumer that reconnects forever until shut down.
//!
//! - `message`: bytes → [`JobSpec`](crate::job::JobSpec) or [`Rejection`] (pure, no I/O).
//! - `topology`: [`declare`] the DLQ and the work queue (at every connect).
//! - `publisher`: [`Publisher`] (confirm mode; persistent JSON).
//! - `consumer` (+ `session`, `dispatch`): [`run`] a [`DeliveryHandler`] over the queue.
//! - `outgoing`: [`JobMessage`], the seed-shaped message `cc-export enqueue` sends.
//!
//! Decisions worth knowing:
//! - Messages: `null` means absent; unknown fields are ignored (producers may add fields before
//!   workers know them); a repeated key is refused (parsers disagree on which copy wins); an
//!   empty `last_cursor` is no resume point; `output_key` is relative to `EXPORT_PREFIX`.
//! - Delivery is at least once: a connection lost before an ack means a redelivery, possibly
//!   while the first handler still runs. Handlers must be idempotent (the worker's job lease
//!   and checkpoints make it so) and quick (RabbitMQ's `consumer_timeout`, 30 min by default,
//!   closes a channel holding a delivery unacked that long).
//! - A handler panic dead-letters the delivery ("handler panicked: …"): a bug does not fix
//!   itself on redelivery, and requeueing would loop. `Requeue` waits `requeue_delay` first so
//!   a transient failure does not spin.
//! - Dead-lettering publishes to `<queue>.dlq` with confirms, then acks; if that publish fails
//!   the delivery is rejected, which the work queue's `x-dead-letter-*` arguments route to the
//!   DLQ too (reason then only in the job row and the logs, `x-death` in the headers).

mod connect;
mod consumer;
mod dispatch;
mod error;
mod fields;
mod key;
pub mod message;
mod outgoing;
mod publisher;
mod session;
mod topology;

pub use connect::{CONNECT_TIMEOUT, connect, connection_name, endpoint};
pub use consumer::{ConsumerOptions, Decision, DeliveryHandler, run, run_with};
pub use dispatch::{HEADER_ERROR, HEADER_JOB_ID, header_str, with_reason};
pub use error::QueueError;
pub use message::{JOB_TYPE, MAX_BODY_BYTES, Rejection, parse, parse_delivery};
pub use outgoing::JobMessage;
pub use publisher::{CONTENT_TYPE_JSON, PERSISTENT, Publisher, publish_jobs};
pub use topology::{dead_letter_queue, declare, work_queue_arguments};
