//! `PgRateGate`: the shared half of the rate limit ([`crate::cc::SharedGate`]) over Postgres.
//! The process reserves the key's slots a block at a time (`reserve_key_block`, one statement on
//! the database's single clock, migrations/0003): a block counts its slots against the key's UTC
//! day, then takes the next stretch of the key's time, directly after this process's previous
//! block or a jitter gap after another process's. Inside its blocks the process paces its own
//! requests, in the order they asked (`cc::blocks`). See `docs/RATE_LIMIT.md`.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use time::{Date, OffsetDateTime};

use crate::cc::blocks::{Blocks, Grant};
use crate::cc::gate::{GateError, SHARED_JITTER_BUDGET, SharedGate};
use crate::cc::limiter::slot_interval;

/// A gate that cannot answer in this long is treated as unavailable (the request is not sent).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A request that wakes this long after its slot is logged (debug): a busy process.
const LATE: Duration = Duration::from_millis(5);

const RESERVE: &str = "
SELECT granted, usage_day, starts_at, ends_at, starts_in_us, ends_in_us, follows
FROM reserve_key_block($1, $2, $3, $4, $5, $6, $7, $8, $9)";

const MARK_EXHAUSTED: &str = "
INSERT INTO api_key_usage AS u (api_key, day, exhausted_at, updated_at)
VALUES ($1, (now() AT TIME ZONE 'UTC')::date, now(), now())
ON CONFLICT (api_key, day) DO UPDATE
    SET exhausted_at = coalesce(u.exhausted_at, now()), updated_at = now(),
        requests = greatest(u.requests - CASE WHEN u.day = $3 THEN $2 ELSE 0 END, 0)";

/// One reservation as the database answered it (`reserve_key_block`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Reservation {
    /// Slots granted and counted; 0: the day's quota is spent (or the day marked exhausted).
    pub granted: i32,
    /// The UTC day (database clock) the slots were counted on.
    pub usage_day: Date,
    /// The block, on the database's clock: `granted` slots from `starts_at` to `ends_at`.
    pub starts_at: Option<OffsetDateTime>,
    pub ends_at: Option<OffsetDateTime>,
    /// The same, as durations from the instant the database read its clock.
    pub starts_in_us: Option<i64>,
    pub ends_in_us: Option<i64>,
    /// It starts where this process's previous block ended.
    pub follows: bool,
}

/// One row of `api_key_usage`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DayUsage {
    pub day: Date,
    pub requests: i64,
    pub exhausted: bool,
}

#[derive(Debug)]
struct Held {
    blocks: Blocks,
    /// Where this process's latest block ends, on the database's clock.
    last_end: Option<OffsetDateTime>,
}

#[derive(Debug)]
pub struct PgRateGate {
    pool: PgPool,
    api_key: String,
    /// Names this process on the key's slot row (random: a restarted process is another one).
    holder: String,
    slots: i32,
    interval: Duration,
    daily_quota: i64,
    /// Waiters queue here in order (tokio's mutex is FIFO), each holding it until its slot.
    turn: tokio::sync::Mutex<()>,
    held: Mutex<Held>,
}

impl PgRateGate {
    /// Every process must be configured with the same `rps` and `daily_quota` for `api_key`:
    /// each block is reserved at its own process's spacing. A block is `rps` slots (~1 s).
    pub fn new(pool: PgPool, api_key: &str, rps: u32, daily_quota: u64) -> Self {
        let interval = slot_interval(rps);
        Self {
            pool,
            api_key: api_key.to_owned(),
            holder: uuid::Uuid::new_v4().to_string(),
            slots: rps.clamp(1, i32::MAX as u32) as i32,
            interval,
            daily_quota: i64::try_from(daily_quota).unwrap_or(i64::MAX),
            turn: tokio::sync::Mutex::new(()),
            held: Mutex::new(Held {
                blocks: Blocks::new(interval, rps),
                last_end: None,
            }),
        }
    }

    /// This process's name on the key's slot row.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The raw statement: reserves a block after `after` (this process's previous block's end)
    /// and gives back `unused` slots of earlier blocks. No state of this gate changes.
    pub async fn reserve(
        &self,
        after: Option<OffsetDateTime>,
        unused: Option<(Date, u32)>,
    ) -> Result<Reservation, GateError> {
        let (unused_day, unused) = unused.map_or((None, 0), |(d, n)| (Some(d), n));
        timed(
            sqlx::query_as(RESERVE)
                .bind(&self.api_key)
                .bind(&self.holder)
                .bind(after)
                .bind(self.slots)
                .bind(self.interval.as_micros() as i64)
                .bind(SHARED_JITTER_BUDGET.as_micros() as i64)
                .bind(self.daily_quota)
                .bind(i32::try_from(unused).unwrap_or(i32::MAX))
                .bind(unused_day)
                .fetch_one(&self.pool),
        )
        .await
    }

    /// Reserves the next block into this process's held blocks.
    async fn next_block(&self) -> Result<(), GateError> {
        let (after, unused) = {
            let mut held = self.held();
            (held.last_end, held.blocks.take_unused())
        };
        let r = self.reserve(after, unused).await?;
        let received = Instant::now();
        let (Some(ends_at), Some(starts_in), Some(ends_in)) =
            (r.ends_at, r.starts_in_us, r.ends_in_us)
        else {
            return Err(GateError::QuotaExceeded);
        };
        if r.granted <= 0 {
            return Err(GateError::QuotaExceeded);
        }
        let grant = Grant {
            slots: r.granted as u32,
            day: r.usage_day,
            starts_in: micros(starts_in),
            ends_in: micros(ends_in),
            follows: r.follows,
        };
        tracing::debug!(
            slots = grant.slots,
            follows = grant.follows,
            starts_in_ms = grant.starts_in.as_millis() as u64,
            gave_back = unused.map_or(0, |(_, n)| n),
            "reserved a block of the API key's slots"
        );
        let mut held = self.held();
        held.blocks.add(&grant, received);
        held.last_end = Some(ends_at);
        Ok(())
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `migrations/0003_key_slot_blocks.sql` was applied to the pool's schema.
    pub async fn is_migrated(pool: &PgPool) -> Result<bool, GateError> {
        timed(
            sqlx::query_scalar(
                "SELECT to_regclass('api_key_slots') IS NOT NULL
                    AND to_regclass('api_key_usage') IS NOT NULL
                    AND to_regproc('reserve_key_block') IS NOT NULL",
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
        // Held until this caller's slot: the next caller's slot is one interval after it.
        let _turn = self.turn.lock().await;
        let slot = loop {
            if let Some(slot) = self.held().blocks.take(Instant::now()) {
                break slot;
            }
            self.next_block().await?;
        };
        // The last held slot, and the caller waits for it anyway: reserve the next block now, so
        // that it follows this one on the key's time without a gap (the next caller retries a
        // failure).
        let early = slot > Instant::now() && !self.held().blocks.holds_next();
        if early && let Err(e) = self.next_block().await {
            tracing::debug!(error = %e, "reserving the next block early failed");
        }
        // An instant placed from durations the database computed: no clocks are compared.
        tokio::time::sleep_until(slot.into()).await;
        let woke = Instant::now();
        self.held().blocks.sent(woke);
        if woke > slot + LATE {
            tracing::debug!(
                late_ms = (woke - slot).as_millis() as u64,
                "woke late for a slot"
            );
        }
        Ok(())
    }

    async fn mark_exhausted(&self) -> Result<(), GateError> {
        let unused = {
            let mut held = self.held();
            held.blocks.retire_all();
            held.blocks.take_unused()
        };
        let (unused_day, unused) = unused.map_or((None, 0), |(d, n)| (Some(d), i64::from(n)));
        timed(
            sqlx::query(MARK_EXHAUSTED)
                .bind(&self.api_key)
                .bind(unused)
                .bind(unused_day)
                .execute(&self.pool),
        )
        .await?;
        tracing::warn!("the API key's daily quota is spent: every process waits for 00:00 UTC");
        Ok(())
    }
}

fn micros(us: i64) -> Duration {
    Duration::from_micros(us.max(0) as u64)
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
