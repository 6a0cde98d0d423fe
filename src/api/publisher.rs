//! `JobPublisher`: one AMQP connection for the API's publishes (confirm mode), opened on first
//! use and reopened when it has died, so a broker restart costs one failed attempt, not the
//! process.

use std::time::Duration;

use lapin::Connection;
use lapin::types::FieldTable;
use tokio::sync::Mutex;

use crate::config::AmqpSettings;
use crate::queue::{self, Publisher, QueueError};

/// How long a request waits for the broker (connect + confirm) before answering
/// `published: false`: the job row is recorded already and workers take it from the table.
const PUBLISH_WAIT: Duration = Duration::from_secs(5);

pub struct JobPublisher {
    amqp: AmqpSettings,
    link: Mutex<Option<(Connection, Publisher)>>,
}

impl JobPublisher {
    pub fn new(amqp: AmqpSettings) -> Self {
        Self {
            amqp,
            link: Mutex::new(None),
        }
    }

    /// Publishes one job message and waits for the broker's confirm, at most `PUBLISH_WAIT`
    /// (a blocked broker leaves the link dropped, so the next request opens a fresh one). A send
    /// on a connection that broke since the last request is tried once more on a fresh one.
    pub async fn publish(&self, body: &[u8], job_id: &str) -> Result<(), QueueError> {
        match tokio::time::timeout(PUBLISH_WAIT, self.publish_confirmed(body, job_id)).await {
            Ok(result) => result,
            Err(_) => {
                // The timed-out attempt released the lock when it was dropped.
                *self.link.lock().await = None;
                Err(QueueError::ConfirmTimeout {
                    queue: self.amqp.export_queue.clone(),
                    secs: PUBLISH_WAIT.as_secs(),
                })
            }
        }
    }

    async fn publish_confirmed(&self, body: &[u8], job_id: &str) -> Result<(), QueueError> {
        let queue_name = self.amqp.export_queue.as_str();
        // Publishes queue here: jobs are created at human rates, and one channel keeps them simple.
        let mut link = self.link.lock().await;
        let mut last = None;
        for _ in 0..2 {
            if !link.as_ref().is_some_and(|(c, _)| c.status().connected()) {
                *link = Some(self.open().await?);
            }
            let (_, publisher) = link.as_ref().expect("opened above");
            match publisher
                .publish(queue_name, body, Some(job_id), FieldTable::default())
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(job_id, error = %e, "publish failed; reopening the connection");
                    *link = None;
                    last = Some(e);
                }
            }
        }
        Err(last.expect("two attempts failed"))
    }

    async fn open(&self) -> Result<(Connection, Publisher), QueueError> {
        let queue_name = self.amqp.export_queue.as_str();
        let conn = queue::connect(&self.amqp, &queue::connection_name("serve", queue_name)).await?;
        queue::declare(&conn, queue_name).await?;
        let publisher = Publisher::new(&conn).await?;
        Ok((conn, publisher))
    }

    /// Closes the connection (shutdown).
    pub async fn close(&self) {
        if let Some((conn, publisher)) = self.link.lock().await.take() {
            publisher.close().await;
            let _ = conn.close(200, "OK".into()).await;
        }
    }
}
