//! What `/readyz` checks: each dependency answers within a few seconds. A probe is a trait so the
//! `serve` command (or a test) can pass its own set.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;

use crate::config::AmqpSettings;
use crate::queue;

/// Kubernetes probes time out after a few seconds; answer before they do.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

#[async_trait]
pub trait ReadinessProbe: Send + Sync {
    /// Names the dependency in `/readyz`'s answer (`postgres`, `rabbitmq`).
    fn name(&self) -> &'static str;
    /// `Err` holds one line saying why (never a credential).
    async fn check(&self) -> Result<(), String>;
}

/// Runs `probe` bounded by `PROBE_TIMEOUT`.
pub async fn run(probe: &dyn ReadinessProbe) -> Result<(), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, probe.check()).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {}s", PROBE_TIMEOUT.as_secs())),
    }
}

pub struct PostgresProbe(pub PgPool);

#[async_trait]
impl ReadinessProbe for PostgresProbe {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn check(&self) -> Result<(), String> {
        sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&self.0)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string().replace(['\n', '\r'], " "))
    }
}

/// The broker is up and takes this process's credentials: one connection, opened at the first
/// check and kept, and a channel opened and closed on it at each check (a round trip to the
/// broker, so a dead one fails the check at once). A connection per check would make every
/// probe an AMQP handshake and a pair of log lines on the broker.
pub struct RabbitMqProbe {
    settings: AmqpSettings,
    held: tokio::sync::Mutex<Option<lapin::Connection>>,
    opened: AtomicU64,
}

impl RabbitMqProbe {
    pub fn new(settings: AmqpSettings) -> Self {
        Self {
            settings,
            held: tokio::sync::Mutex::new(None),
            opened: AtomicU64::new(0),
        }
    }

    /// Connections this probe has opened so far.
    pub fn connections_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }
}

async fn round_trip(conn: &lapin::Connection) -> Result<(), lapin::Error> {
    let channel = conn.create_channel().await?;
    channel.close(200, "OK".into()).await
}

#[async_trait]
impl ReadinessProbe for RabbitMqProbe {
    fn name(&self) -> &'static str {
        "rabbitmq"
    }

    async fn check(&self) -> Result<(), String> {
        let mut held = self.held.lock().await;
        if let Some(conn) = held.as_ref() {
            if conn.status().connected() && round_trip(conn).await.is_ok() {
                return Ok(());
            }
            // Broken (the broker restarted, or went away): start over with a new connection.
            let _ = conn.close(200, "OK".into()).await;
            *held = None;
        }
        let name = queue::connection_name("readiness probe", &self.settings.export_queue);
        let conn = queue::connect(&self.settings, &name)
            .await
            .map_err(|e| e.to_string())?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        round_trip(&conn).await.map_err(|e| e.to_string())?;
        *held = Some(conn);
        Ok(())
    }
}

/// The worker's and the API's probes: Postgres and RabbitMQ.
pub fn standard(pool: PgPool, amqp: AmqpSettings) -> Vec<Arc<dyn ReadinessProbe>> {
    vec![
        Arc::new(PostgresProbe(pool)),
        Arc::new(RabbitMqProbe::new(amqp)),
    ]
}
