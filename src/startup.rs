//! Wires pools and clients once and hands them down (zero-to-production style): everything a
//! worker's jobs share lives in one `WorkerContext`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::api::publisher::JobPublisher;
use crate::api::{ApiContext, ApiState, JwtSettings, JwtVerifier};
use crate::cc::{ApiLimiter, ClientConfig, OAuthClient, OAuthConfig, SharedGate};
use crate::config::{AmqpSettings, ApiSettings, DbSettings, S3Settings, TokenKeySettings};
use crate::sink::s3::s3_client;
use crate::store::{self, PgRateGate, crypto::TokenKey};

/// `cc-export worker`'s own flags, plus the shared settings.
#[derive(clap::Args, Debug, Clone)]
pub struct WorkerArgs {
    /// Jobs this process runs at once (= AMQP prefetch).
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub concurrency: u16,
    /// Names this process on the leases it holds (default: host name, pid and a random suffix).
    #[arg(long, env = "WORKER_ID")]
    pub worker_id: Option<String>,
    /// Seconds a lease lasts without a heartbeat; a dead worker's jobs are taken over after it.
    #[arg(long, env = "WORKER_LEASE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(4..=3600))]
    pub lease_secs: u64,
    /// Attempts before a job that keeps failing transiently is marked failed.
    #[arg(long, env = "WORKER_MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..=100))]
    pub max_attempts: i32,
    /// `/metrics`, `/healthz` and `/readyz` listen here (port 0: a free port, logged).
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9464")]
    pub metrics_addr: std::net::SocketAddr,
    /// Seconds between two checks for due scheduled runs (`cc-export schedules`).
    #[arg(long, env = "WORKER_SCHEDULE_POLL_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub schedule_poll_secs: u64,
    #[command(flatten)]
    pub db: DbSettings,
    #[command(flatten)]
    pub amqp: AmqpSettings,
    #[command(flatten)]
    pub s3: S3Settings,
    #[command(flatten)]
    pub api: ApiSettings,
    #[command(flatten)]
    pub token_key: TokenKeySettings,
}

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub worker_id: String,
    pub concurrency: usize,
    pub lease: Duration,
    pub heartbeat: Duration,
    pub poll: Duration,
    /// Between two checks for due scheduled runs.
    pub schedule_poll: Duration,
    pub max_attempts: i32,
    pub partitions: crate::export::Partitions,
}

pub struct WorkerContext {
    pub pool: sqlx::PgPool,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub part_size: u64,
    pub export_prefix: String,
    pub amqp: AmqpSettings,
    pub client_config: ClientConfig,
    pub oauth: OAuthClient,
    pub token_key: TokenKey,
    /// This process's pacing of the API key…
    pub limiter: Arc<ApiLimiter>,
    /// …and the key's slots and daily quota shared with every other process (Postgres).
    pub rate_gate: Arc<dyn SharedGate>,
    pub settings: WorkerSettings,
}

pub fn user_agent() -> String {
    format!("cc-export/{}", env!("CARGO_PKG_VERSION"))
}

/// The Constant Contact side every process using the API key shares: OAuth client, v3 client
/// settings, this process's limiter and the key's gate in Postgres.
struct CcWiring {
    oauth: OAuthClient,
    client_config: ClientConfig,
    limiter: Arc<ApiLimiter>,
    rate_gate: Arc<dyn SharedGate>,
}

fn cc_wiring(api: &ApiSettings, pool: &sqlx::PgPool, role: &str) -> anyhow::Result<CcWiring> {
    let (Some(client_id), Some(client_secret)) = (api.client_id.clone(), api.client_secret.clone())
    else {
        anyhow::bail!(
            "CC_CLIENT_ID and CC_CLIENT_SECRET are required: the {role} refreshes OAuth tokens"
        );
    };
    let oauth = OAuthClient::new(OAuthConfig {
        auth_url: api.auth_url.clone(),
        client_id: client_id.clone(),
        client_secret,
        user_agent: user_agent(),
        timeout: api.request_timeout(),
    })?;
    let mut client_config = ClientConfig::new(api.api_base_url.clone());
    client_config.user_agent = user_agent();
    client_config.request_timeout = api.request_timeout();
    Ok(CcWiring {
        oauth,
        client_config,
        limiter: ApiLimiter::for_key(&client_id, api.rate_limit_rps),
        rate_gate: Arc::new(PgRateGate::new(
            pool.clone(),
            &client_id,
            api.rate_limit_rps,
            api.daily_quota,
        )),
    })
}

fn token_key(settings: &TokenKeySettings) -> anyhow::Result<TokenKey> {
    let key = settings
        .token_encryption_key
        .as_ref()
        .context("TOKEN_ENCRYPTION_KEY is required: stored tokens are encrypted")?;
    TokenKey::from_base64(key.expose()).context("TOKEN_ENCRYPTION_KEY")
}

pub async fn build_worker(args: WorkerArgs) -> anyhow::Result<WorkerContext> {
    let token_key = token_key(&args.token_key)?;
    let bucket = args.s3.s3_bucket.clone().context("S3_BUCKET is required")?;
    let concurrency = args.concurrency as usize;
    // Configuration first: a plain-http token URL is refused before any connection is made.
    args.api.check_tls()?;
    let pool = store::connect(args.db.database_url.expose(), db_connections(concurrency)).await?;
    let cc = cc_wiring(&args.api, &pool, "worker")?;
    let lease = Duration::from_secs(args.lease_secs);
    Ok(WorkerContext {
        pool,
        s3: s3_client(&args.s3).await?,
        bucket,
        part_size: args.s3.s3_part_size_mib * 1024 * 1024,
        export_prefix: args.s3.export_prefix.clone(),
        amqp: args.amqp.clone(),
        client_config: cc.client_config,
        oauth: cc.oauth,
        token_key,
        limiter: cc.limiter,
        rate_gate: cc.rate_gate,
        settings: WorkerSettings {
            worker_id: args.worker_id.clone().unwrap_or_else(default_worker_id),
            concurrency,
            lease,
            heartbeat: lease / 4,
            poll: Duration::from_secs(2),
            schedule_poll: Duration::from_secs(args.schedule_poll_secs),
            max_attempts: args.max_attempts,
            partitions: args.api.partitions,
        },
    })
}

/// `cc-export serve`'s flags, plus the shared settings.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Listen address.
    #[arg(long, env = "API_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Seconds a presigned download URL stays valid.
    #[arg(long, env = "API_DOWNLOAD_URL_TTL_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub download_url_ttl_secs: u64,
    /// Attempts recorded on the jobs it creates (as WORKER_MAX_ATTEMPTS does for queued ones).
    #[arg(long, env = "WORKER_MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..=100))]
    pub max_attempts: i32,
    #[command(flatten)]
    pub jwt: JwtSettings,
    #[command(flatten)]
    pub db: DbSettings,
    #[command(flatten)]
    pub amqp: AmqpSettings,
    #[command(flatten)]
    pub s3: S3Settings,
    #[command(flatten)]
    pub api: ApiSettings,
    #[command(flatten)]
    pub token_key: TokenKeySettings,
}

/// Postgres connections of the API process (requests hold one briefly; a token refresh holds
/// one for the OAuth round trip).
const API_DB_CONNECTIONS: u32 = 16;

pub async fn build_api(args: ServeArgs) -> anyhow::Result<ApiState> {
    let jwt = JwtVerifier::from_settings(&args.jwt)?;
    let token_key = token_key(&args.token_key)?;
    let bucket = args.s3.s3_bucket.clone().context("S3_BUCKET is required")?;
    args.api.check_tls()?;
    let pool = store::connect(args.db.database_url.expose(), API_DB_CONNECTIONS).await?;
    let cc = cc_wiring(&args.api, &pool, "API")?;
    let mut client_config = cc.client_config;
    // One attempt: the caller gets Constant Contact's 429 or failure at once and retries itself.
    client_config.max_attempts = 1;
    let http = crate::cc::ContactsClient::http_client(&client_config)?;
    Ok(ApiState::new(ApiContext {
        pool,
        jwt,
        token_key,
        oauth: cc.oauth,
        client_config,
        http,
        limiter: cc.limiter,
        rate_gate: cc.rate_gate,
        publisher: JobPublisher::new(args.amqp.clone()),
        s3: s3_client(&args.s3).await?,
        bucket,
        export_prefix: args.s3.export_prefix.clone(),
        max_attempts: args.max_attempts,
        download_ttl: Duration::from_secs(args.download_url_ttl_secs),
    }))
}

/// Most connections a worker opens. Its jobs touch the database briefly, a few times a minute
/// each (heartbeat, a checkpoint per part, the key's block once a second for all of them): 100
/// jobs starting at once opened ~80, which only adds Postgres backends (its default
/// `max_connections` is 100, shared by every worker) and queue for a few milliseconds at 32.
const MAX_DB_CONNECTIONS: u32 = 32;

fn db_connections(concurrency: usize) -> u32 {
    (concurrency as u32)
        .saturating_add(4)
        .min(MAX_DB_CONNECTIONS)
}

fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    format!(
        "{}-{}-{:04x}",
        host.unwrap_or_else(|| "worker".into()),
        std::process::id(),
        fastrand::u16(..)
    )
}
