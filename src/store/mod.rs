//! Postgres: the job table (lifecycle and leases), the part ledger of S3 multipart uploads, the
//! encrypted OAuth tokens, the API key's shared rate limit and daily quota, and the export schedules. Runtime-checked queries with bound parameters only.

pub mod crypto;
pub mod error;
pub mod jobs;
pub mod parts;
pub mod rate_gate;
pub mod schedules;
pub mod token_source;
pub mod tokens;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use crypto::{CryptoError, TokenKey};
pub use error::StoreError;
pub use jobs::{JobRow, JobStatus, LeaseState, RecordOutcome};
pub use parts::PgPartLedger;
pub use rate_gate::{DayUsage, PgRateGate};
pub use token_source::DbTokenSource;

/// Connects a pool to `database_url` (`DATABASE_URL`). The URL never appears in errors: it may
/// hold a password.
pub async fn connect(database_url: &str, max_conns: u32) -> Result<PgPool, StoreError> {
    let opts: PgConnectOptions = database_url.parse().map_err(|e: sqlx::Error| {
        // sqlx's parse error may echo the URL; say only what kind of problem it is.
        let kind = match e {
            sqlx::Error::Configuration(_) => "not a valid postgres:// URL",
            _ => "unusable",
        };
        StoreError::Db(sqlx::Error::Configuration(
            format!("DATABASE_URL is {kind}").into(),
        ))
    })?;
    let pool = PgPoolOptions::new()
        .max_connections(max_conns.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await?;
    Ok(pool)
}

/// [`connect`] from the shared settings.
pub async fn connect_settings(
    db: &crate::config::DbSettings,
    max_conns: u32,
) -> Result<PgPool, StoreError> {
    connect(db.database_url.expose(), max_conns).await
}

/// Applies `migrations/` (embedded at build time).
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::migrate!("./migrations").run(pool).await?;
    Ok(())
}
