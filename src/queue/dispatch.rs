//! One delivery: run the handler (a panic becomes a dead-letter), then apply its decision.
//! Nothing here can take the consumer down; what fails is logged and left to redelivery.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions, BasicRejectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Acker, BasicProperties};
use tokio::sync::OwnedSemaphorePermit;
use tracing::{error, warn};
use uuid::Uuid;

use super::Publisher;
use super::consumer::{Decision, DeliveryHandler};

pub const HEADER_ERROR: &str = "x-cc-export-error";
pub const HEADER_JOB_ID: &str = "x-cc-export-job-id";
/// Headers carry the reason's first KiB; the job row has all of it.
const MAX_HEADER_REASON: usize = 1024;
/// A blocked broker (memory or disk alarm) holds publishes: past this, fall back to a reject.
const DEAD_LETTER_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) struct Dispatch {
    pub handler: Arc<dyn DeliveryHandler>,
    pub publisher: Publisher,
    pub queue: String,
    pub dead_letter_queue: String,
    pub requeue_delay: Duration,
}

/// Handles one delivery; `_permit` is the concurrency slot, held until the decision is applied.
pub(super) async fn handle(d: Arc<Dispatch>, delivery: Delivery, _permit: OwnedSemaphorePermit) {
    let Delivery {
        data,
        properties,
        acker,
        delivery_tag,
        ..
    } = delivery;
    let handling = d.handler.handle(&data, &properties);
    let decision = match AssertUnwindSafe(handling).catch_unwind().await {
        Ok(decision) => decision,
        Err(panic) => {
            let reason = format!("handler panicked: {}", panic_message(&*panic));
            error!(queue = d.queue, delivery_tag, %reason, "handler panicked; dead-lettering");
            Decision::DeadLetter {
                reason,
                job_id: None,
            }
        }
    };
    let outcome = match decision {
        Decision::Ack => settled(acker.ack(BasicAckOptions::default()).await),
        Decision::Requeue => {
            tokio::time::sleep(d.requeue_delay).await;
            let requeue = BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            };
            settled(acker.nack(requeue).await)
        }
        Decision::DeadLetter { reason, job_id } => {
            warn!(queue = d.queue, delivery_tag, ?job_id, %reason, "dead-lettering");
            dead_letter(&d, &data, properties, &acker, &reason, job_id).await
        }
    };
    if let Err(error) = outcome {
        // The channel is gone: the broker redelivers this message (at least once).
        warn!(
            queue = d.queue,
            delivery_tag, error, "could not settle the delivery; the broker will redeliver it"
        );
    }
}

/// lapin 4 answers `Ok(false)`, not an error, when the delivery's channel has closed.
fn settled(result: lapin::Result<bool>) -> Result<(), String> {
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err("its channel is closed".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Publishes to the DLQ with the reason, confirmed, THEN acks: the message is never in neither
/// queue. When the publish fails, a reject still moves it there through the work queue's
/// dead-letter arguments (without the reason header; `x-death` says "rejected").
async fn dead_letter(
    d: &Dispatch,
    body: &[u8],
    properties: BasicProperties,
    acker: &Acker,
    reason: &str,
    job_id: Option<Uuid>,
) -> Result<(), String> {
    let props = with_reason(properties, reason, job_id);
    let publish = d
        .publisher
        .publish_with_properties(&d.dead_letter_queue, body, props);
    let failure = match tokio::time::timeout(DEAD_LETTER_TIMEOUT, publish).await {
        Ok(Ok(())) => return settled(acker.ack(BasicAckOptions::default()).await),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no confirm within {} s", DEAD_LETTER_TIMEOUT.as_secs()),
    };
    error!(
        queue = d.dead_letter_queue,
        error = failure,
        "publishing to the dead-letter queue failed; rejecting instead"
    );
    settled(acker.reject(BasicRejectOptions { requeue: false }).await)
}

/// The original properties (message id, content type, producer's headers...) plus ours.
pub fn with_reason(
    properties: BasicProperties,
    reason: &str,
    job_id: Option<Uuid>,
) -> BasicProperties {
    let mut headers = properties.headers().clone().unwrap_or_default();
    headers.insert(
        HEADER_ERROR.into(),
        AMQPValue::LongString(LongString::from(truncate(reason, MAX_HEADER_REASON))),
    );
    if let Some(id) = job_id {
        headers.insert(
            HEADER_JOB_ID.into(),
            AMQPValue::LongString(LongString::from(id.to_string())),
        );
    }
    properties.with_headers(headers)
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

/// The job id header of a dead-lettered message, for tools reading the DLQ.
pub fn header_str<'a>(headers: &'a FieldTable, name: &str) -> Option<&'a [u8]> {
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_headers_keep_the_producers_properties() {
        let mut theirs = FieldTable::default();
        theirs.insert("x-trace".into(), AMQPValue::LongString("t1".into()));
        let props = BasicProperties::default()
            .with_message_id("m1".into())
            .with_headers(theirs);
        let id = Uuid::new_v4();
        let out = with_reason(props, &"é".repeat(600), Some(id));
        let headers = out.headers().clone().unwrap();
        assert_eq!(header_str(&headers, "x-trace"), Some(&b"t1"[..]));
        let reason = header_str(&headers, HEADER_ERROR).unwrap();
        assert!(reason.len() <= MAX_HEADER_REASON && std::str::from_utf8(reason).is_ok());
        assert_eq!(
            header_str(&headers, HEADER_JOB_ID),
            Some(id.to_string().as_bytes())
        );
        assert_eq!(out.message_id().as_ref().map(|m| m.as_str()), Some("m1"));
    }

    #[test]
    fn panic_messages_are_read() {
        let p = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(panic_message(&*p), "boom 1");
    }
}
