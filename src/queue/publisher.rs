//! Publishing with publisher confirms: `publish` returns once the broker has taken the message
//! (persistent, to a durable queue), or says why it did not.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection};

use super::QueueError;
use super::connect::short;
use crate::config::AmqpSettings;

pub const CONTENT_TYPE_JSON: &str = "application/json";
/// AMQP delivery mode "persistent": written to disk by the broker on a durable queue.
pub const PERSISTENT: u8 = 2;

/// A confirm-mode channel. Cheap to clone; clones share the channel, and concurrent publishes
/// on it are confirmed one by one.
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
}

impl Publisher {
    /// Opens a channel on `conn` and puts it in confirm mode.
    pub async fn new(conn: &Connection) -> Result<Self, QueueError> {
        let channel = conn
            .create_channel()
            .await
            .map_err(QueueError::amqp("opening the publishing channel"))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(QueueError::amqp("enabling publisher confirms"))?;
        Ok(Self { channel })
    }

    /// Publishes `body` to `queue` (through the default exchange) as persistent JSON and waits
    /// for the broker's confirm.
    pub async fn publish(
        &self,
        queue: &str,
        body: &[u8],
        message_id: Option<&str>,
        headers: FieldTable,
    ) -> Result<(), QueueError> {
        let mut props = BasicProperties::default().with_content_type(CONTENT_TYPE_JSON.into());
        if let Some(id) = message_id {
            props = props.with_message_id(short("message id", id)?);
        }
        if !headers.inner().is_empty() {
            props = props.with_headers(headers);
        }
        self.publish_with_properties(queue, body, props).await
    }

    /// Publishes with the given properties (made persistent) and waits for the confirm.
    /// `mandatory`, so a message to a queue that does not exist comes back as
    /// [`QueueError::Unroutable`] instead of being dropped.
    pub async fn publish_with_properties(
        &self,
        queue: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), QueueError> {
        let routing_key = short("queue", queue)?;
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let props = properties.with_delivery_mode(PERSISTENT);
        let confirm = self
            .channel
            .basic_publish("".into(), routing_key, options, body, props)
            .await
            .map_err(QueueError::amqp(format!("publishing to queue {queue:?}")))?
            .await
            .map_err(QueueError::amqp(format!(
                "waiting for the broker to confirm a message to queue {queue:?}"
            )))?;
        match confirm {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) => Err(QueueError::Unroutable {
                queue: queue.into(),
                reply: format!("{} {}", returned.reply_code, returned.reply_text),
            }),
            Confirmation::Nack(_) => Err(QueueError::Nacked {
                queue: queue.into(),
            }),
            // Only without confirm_select, which `new` always sends.
            Confirmation::NotRequested => Ok(()),
        }
    }

    /// Closes the channel (best effort; the connection stays open).
    pub async fn close(&self) {
        let _ = self.channel.close(200, "OK".into()).await;
    }
}

/// Publishes job messages `(body, job_id)` to the export queue on a connection of its own
/// (named for `role`), each confirmed, then closes it: the one-off publishers (`enqueue`, a
/// schedule tick) that keep no connection between uses.
pub async fn publish_jobs(
    amqp: &AmqpSettings,
    role: &str,
    jobs: &[(&[u8], String)],
) -> Result<(), QueueError> {
    let queue_name = amqp.export_queue.as_str();
    let conn = super::connect(amqp, &super::connection_name(role, queue_name)).await?;
    let sent = async {
        super::declare(&conn, queue_name).await?;
        let publisher = Publisher::new(&conn).await?;
        for (body, job_id) in jobs {
            publisher
                .publish(queue_name, body, Some(job_id), FieldTable::default())
                .await?;
        }
        publisher.close().await;
        Ok(())
    }
    .await;
    let _ = conn.close(200, "OK".into()).await;
    sent
}
