//! The job queue (RabbitMQ, lapin 4): job messages parsed into [`crate::job::JobSpec`], the
//! queue topology (work queue dead-lettering into `<queue>.dlq`), a publisher with confirms, and
//! a consumer that reconnects forever until shut down.
//!
//! - `message`: bytes → [`JobSpec`](crate::job::JobSpec) or [`Rejection`] (pure, no I/O).
//! - `topology`: [`declare`] the DLQ and the work queue (at every connect).
//! - `publisher`: [`Publisher`] (confirm mode; persistent JSON).
//! - `consumer` (+ `session`, `dispatch`): [`run`] a [`DeliveryHandler`] over the queue.
//! - `outgoing`: [`JobMessage`], the seed-shaped message `cc-export enqueue` sends.

mod connect;
mod consumer;
mod dispatch;
mod error;
mod fields;
pub mod message;
mod outgoing;
mod publisher;
mod session;
mod topology;

pub use connect::{CONNECT_TIMEOUT, connect, connection_name, endpoint};
pub use consumer::{ConsumerOptions, Decision, DeliveryHandler, run, run_with};
pub use dispatch::{HEADER_ERROR, HEADER_JOB_ID, header_str, with_reason};
pub use error::QueueError;
pub use message::{JOB_TYPE, MAX_BODY_BYTES, Rejection, parse};
pub use outgoing::JobMessage;
pub use publisher::{CONTENT_TYPE_JSON, PERSISTENT, Publisher};
pub use topology::{dead_letter_queue, declare, work_queue_arguments};
