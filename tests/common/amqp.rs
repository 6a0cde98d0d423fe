//! RabbitMQ helpers shared by the `queue_*` tests: the broker from `AMQP_URL` (tests fail loudly
//! when it is unreachable, never skip), a queue name per test that is deleted when the test ends
//! (even by a panic), a scripted handler, and broker-side connection kills via `rabbitmqctl`.
#![allow(dead_code)]

use std::future::Future;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cc_export::config::AmqpSettings;
use cc_export::queue::{Decision, DeliveryHandler};
use cc_export::secret::Secret;
use lapin::message::BasicGetMessage;
use lapin::options::{BasicGetOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A connection for the test itself; panics with what to do when the broker is not there.
pub async fn connect() -> Connection {
    let props = ConnectionProperties::default().with_connection_name("cc-export tests".into());
    match tokio::time::timeout(
        Duration::from_secs(10),
        Connection::connect(&amqp_url(), props),
    )
    .await
    {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!(
            "RabbitMQ is not reachable (AMQP_URL, default 127.0.0.1:5672): {e}; \
             start it (scripts/services.sh does) - the queue tests never skip"
        ),
        Err(_) => panic!("connecting to RabbitMQ timed out (AMQP_URL); the queue tests never skip"),
    }
}

/// A fresh queue name `test-<uuid>`; the queue and its `.dlq` are deleted on drop.
pub struct TestQueue {
    pub name: String,
    pub conn: Connection,
}

impl TestQueue {
    pub async fn new() -> Self {
        Self {
            name: format!("test-{}", uuid::Uuid::new_v4()),
            conn: connect().await,
        }
    }

    pub fn dlq(&self) -> String {
        format!("{}.dlq", self.name)
    }

    pub fn settings(&self) -> AmqpSettings {
        AmqpSettings {
            amqp_url: Secret::new(amqp_url()),
            export_queue: self.name.clone(),
        }
    }

    /// Publishes raw bytes (through a confirming publisher) to the work queue.
    pub async fn publish(&self, body: &[u8], props: BasicProperties) {
        let publisher = cc_export::queue::Publisher::new(&self.conn).await.unwrap();
        publisher
            .publish_with_properties(&self.name, body, props)
            .await
            .unwrap();
        publisher.close().await;
    }

    /// Messages ready in `queue` (0 when it does not exist).
    pub async fn count(&self, queue: &str) -> u32 {
        let ch = self.conn.create_channel().await.unwrap();
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let n = match ch
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await
        {
            Ok(q) => q.message_count(),
            Err(_) => return 0, // a failed passive declare closed the channel
        };
        let _ = ch.close(200, "OK".into()).await;
        n
    }

    /// Takes the next message of `queue` (auto-ack), waiting up to `within`.
    pub async fn get(&self, queue: &str, within: Duration) -> Option<BasicGetMessage> {
        let ch = self.conn.create_channel().await.unwrap();
        let deadline = Instant::now() + within;
        loop {
            let opts = BasicGetOptions { no_ack: true };
            if let Some(m) = ch.basic_get(queue.into(), opts).await.unwrap() {
                let _ = ch.close(200, "OK".into()).await;
                return Some(m);
            }
            if Instant::now() > deadline {
                let _ = ch.close(200, "OK".into()).await;
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestQueue {
    fn drop(&mut self) {
        let names = [self.name.clone(), self.dlq()];
        // A thread of its own: Drop cannot await, and may run inside or outside a runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let conn = connect().await;
                for name in names {
                    let ch = conn.create_channel().await.unwrap();
                    let _ = ch
                        .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                        .await;
                }
                let _ = conn.close(200, "OK".into()).await;
            });
        })
        .join();
    }
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `within`.
pub async fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Awaits `fut`, panicking after `within`.
pub async fn within<T>(what: &str, limit: Duration, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

type Decide = dyn Fn(&[u8], &BasicProperties, usize) -> Decision + Send + Sync;

/// A handler that records every delivery, sleeps `delay`, tracks how many run at once, and
/// decides by `decide(body, props, times this body was seen before)`.
pub struct Scripted {
    pub seen: Mutex<Vec<Vec<u8>>>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub delay: Duration,
    decide: Box<Decide>,
}

impl Scripted {
    pub fn new(
        delay: Duration,
        decide: impl Fn(&[u8], &BasicProperties, usize) -> Decision + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            seen: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            delay,
            decide: Box::new(decide),
        })
    }

    pub fn acking(delay: Duration) -> Arc<Self> {
        Self::new(delay, |_, _, _| Decision::Ack)
    }

    pub fn seen(&self) -> Vec<Vec<u8>> {
        self.seen.lock().unwrap().clone()
    }

    pub fn times_seen(&self, body: &[u8]) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|b| *b == body)
            .count()
    }
}

#[async_trait]
impl DeliveryHandler for Scripted {
    async fn handle(&self, body: &[u8], props: &BasicProperties) -> Decision {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let before = {
            let mut seen = self.seen.lock().unwrap();
            let before = seen.iter().filter(|b| *b == body).count();
            seen.push(body.to_vec());
            before
        };
        tokio::time::sleep(self.delay).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        (self.decide)(body, props, before)
    }
}

/// Broker-side pids of the connections whose client-provided name contains `name`.
pub fn connection_pids(name: &str) -> Vec<String> {
    let out = Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "-q",
            "--no-table-headers",
            "pid",
            "client_properties",
        ])
        .output()
        .expect("rabbitmqctl runs (the tests run as root next to the broker)");
    assert!(
        out.status.success(),
        "rabbitmqctl list_connections: {out:?}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(name))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

/// Closes a connection from the broker's side (`CONNECTION_FORCED`, as in a broker restart).
pub fn close_connection(pid: &str) {
    let out = Command::new("rabbitmqctl")
        .args(["close_connection", pid, "test: broker-side close"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rabbitmqctl close_connection {pid}: {out:?}"
    );
}
