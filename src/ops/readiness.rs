//! What `/readyz` checks: each dependency answers within a few seconds. A probe is a trait so the
//! `serve` command (or a test) can pass its own set.

use std::sync::Arc;
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

/// Opens (and closes) a connection: the broker is up and takes this worker's credentials.
pub struct RabbitMqProbe(pub AmqpSettings);

#[async_trait]
impl ReadinessProbe for RabbitMqProbe {
    fn name(&self) -> &'static str {
        "rabbitmq"
    }

    async fn check(&self) -> Result<(), String> {
        let name = queue::connection_name("readiness probe", &self.0.export_queue);
        let conn = queue::connect(&self.0, &name)
            .await
            .map_err(|e| e.to_string())?;
        let _ = conn.close(200, "OK".into()).await;
        Ok(())
    }
}

/// The worker's and the API's probes: Postgres and RabbitMQ.
pub fn standard(pool: PgPool, amqp: AmqpSettings) -> Vec<Arc<dyn ReadinessProbe>> {
    vec![Arc::new(PostgresProbe(pool)), Arc::new(RabbitMqProbe(amqp))]
}
