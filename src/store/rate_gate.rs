//! `PgRateGate`: the shared half of the rate limit ([`crate::cc::SharedGate`]) over Postgres.
//! One statement per request, on the database's single clock: count it against the key's UTC
//! day (refused at `CC_DAILY_QUOTA` or once the day is marked exhausted), then take the key's
//! next GCRA slot and answer how long to wait for it. See `docs/RATE_LIMIT.md`.

use std::time::Duration;

use sqlx::PgPool;
use time::Date;

use crate::cc::gate::{GateError, SharedGate, shared_interval};

/// A gate that cannot answer in this long is treated as unavailable (the request is not sent).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

const ACQUIRE: &str = "
WITH used AS (
    INSERT INTO api_key_usage AS u (api_key, day, requests, updated_at)
    SELECT $1, (now() AT TIME ZONE 'UTC')::date, 1, now() WHERE $3 > 0
    ON CONFLICT (api_key, day) DO UPDATE
        SET requests = u.requests + 1, updated_at = now()
        WHERE u.requests < $3 AND u.exhausted_at IS NULL
    RETURNING u.requests
), slot AS (
    -- clock_timestamp(), not now(): it is read after the row lock is ours, so a request that
    -- queued behind others never gets a slot in the past.
    INSERT INTO api_key_slots AS s (api_key, tat)
    SELECT $1, clock_timestamp() + $2 * interval '1 microsecond' FROM used
    ON CONFLICT (api_key) DO UPDATE
        SET tat = greatest(s.tat, clock_timestamp()) + $2 * interval '1 microsecond'
    RETURNING extract(epoch FROM (s.tat - $2 * interval '1 microsecond' - clock_timestamp()))::float8
        AS wait_secs
)
SELECT wait_secs FROM slot";

const MARK_EXHAUSTED: &str = "
INSERT INTO api_key_usage AS u (api_key, day, exhausted_at, updated_at)
VALUES ($1, (now() AT TIME ZONE 'UTC')::date, now(), now())
ON CONFLICT (api_key, day) DO UPDATE
    SET exhausted_at = coalesce(u.exhausted_at, now()), updated_at = now()";

#[derive(Debug, Clone)]
pub struct PgRateGate {
    pool: PgPool,
    api_key: String,
    interval_us: i64,
    daily_quota: i64,
}

/// One row of `api_key_usage`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DayUsage {
    pub day: Date,
    pub requests: i64,
    pub exhausted: bool,
}

impl PgRateGate {
    /// Every process must be configured with the same `rps` and `daily_quota` for `api_key`:
    /// each request moves the key's slot by its own process's interval.
    pub fn new(pool: PgPool, api_key: &str, rps: u32, daily_quota: u64) -> Self {
        Self {
            pool,
            api_key: api_key.to_owned(),
            interval_us: shared_interval(rps).as_micros() as i64,
            daily_quota: i64::try_from(daily_quota).unwrap_or(i64::MAX),
        }
    }

    /// Takes this request's slot; returns how long to wait for it (zero when it is now).
    pub async fn take_slot(&self) -> Result<Duration, GateError> {
        let wait: Option<f64> = timed(
            sqlx::query_scalar(ACQUIRE)
                .bind(&self.api_key)
                .bind(self.interval_us)
                .bind(self.daily_quota)
                .fetch_optional(&self.pool),
        )
        .await?;
        let wait = wait.ok_or(GateError::QuotaExceeded)?;
        Ok(Duration::try_from_secs_f64(wait).unwrap_or(Duration::ZERO))
    }

    /// Whether `migrations/0002_api_key_usage.sql` was applied to the pool's schema.
    pub async fn is_migrated(pool: &PgPool) -> Result<bool, GateError> {
        timed(
            sqlx::query_scalar(
                "SELECT to_regclass('api_key_slots') IS NOT NULL
                    AND to_regclass('api_key_usage') IS NOT NULL",
            )
            .fetch_one(pool),
        )
        .await
    }

    /// Today's (UTC, database clock) row for the key, if any request was counted.
    pub async fn today(&self) -> Result<Option<DayUsage>, GateError> {
        timed(
            sqlx::query_as(
                "SELECT day, requests, exhausted_at IS NOT NULL AS exhausted FROM api_key_usage
                 WHERE api_key = $1 AND day = (now() AT TIME ZONE 'UTC')::date",
            )
            .bind(&self.api_key)
            .fetch_optional(&self.pool),
        )
        .await
    }
}

#[async_trait::async_trait]
impl SharedGate for PgRateGate {
    async fn acquire(&self) -> Result<(), GateError> {
        let wait = self.take_slot().await?;
        // A duration computed on the database's clock, slept on ours: no clocks are compared.
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    async fn mark_exhausted(&self) -> Result<(), GateError> {
        timed(
            sqlx::query(MARK_EXHAUSTED)
                .bind(&self.api_key)
                .execute(&self.pool),
        )
        .await?;
        tracing::warn!("the API key's daily quota is spent: every process waits for 00:00 UTC");
        Ok(())
    }
}

async fn timed<T>(query: impl Future<Output = Result<T, sqlx::Error>>) -> Result<T, GateError> {
    match tokio::time::timeout(STATEMENT_TIMEOUT, query).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(GateError::Unavailable(format!(
            "shared rate limit unavailable (Postgres): {}",
            crate::cc::error::chain(&e)
        ))),
        Err(_) => Err(GateError::Unavailable(format!(
            "shared rate limit unavailable (Postgres): no answer within {} s",
            STATEMENT_TIMEOUT.as_secs()
        ))),
    }
}
