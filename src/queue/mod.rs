//! The job queue (RabbitMQ, lapin 4): job messages parsed into [`crate::job::JobSpec`], the
//! queue topology (work queue dead-lettering into `<queue>.dlq`), a publisher with confirms, and
//! a consumer that reconnects forever until shut down.

mod fields;
pub mod message;

pub use message::{JOB_TYPE, MAX_BODY_BYTES, Rejection, parse};
