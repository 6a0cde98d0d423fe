//! Configuration shared by the commands: one typed struct per concern, every field a flag that
//! can also be set through the environment variable the design names.

use url::Url;

use crate::secret::Secret;

/// How to reach Constant Contact and how hard the API key may be used.
#[derive(clap::Args, Debug, Clone)]
pub struct ApiSettings {
    /// Constant Contact v3 API base URL.
    #[arg(
        long,
        env = "CC_API_BASE_URL",
        default_value = "https://api.cc.email/v3"
    )]
    pub api_base_url: Url,
    /// OAuth2 token endpoint (the refresh grant).
    #[arg(
        long,
        env = "CC_AUTH_URL",
        default_value = "https://authz.constantcontact.com/oauth2/default/v1/token"
    )]
    pub auth_url: Url,
    /// The application's client id (the API key).
    #[arg(long, env = "CC_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The application's client secret.
    #[arg(long, env = "CC_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<Secret>,
    /// Requests per second for the API key.
    #[arg(long, env = "CC_RATE_LIMIT_RPS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rate_limit_rps: u32,
    /// Requests per UTC day for the API key.
    #[arg(long, env = "CC_DAILY_QUOTA", default_value_t = 10_000)]
    pub daily_quota: u64,
    /// Seconds one API or token request may take before it is abandoned and retried.
    #[arg(long, env = "CC_REQUEST_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub request_timeout_secs: u64,
    /// Allow plain http:// API and token URLs that are not on this machine (default: TLS, or loopback).
    #[arg(long, env = "CC_ALLOW_HTTP", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_http: bool,
    /// Cursor chains per export: `auto` splits the account into `created_at` windows fetched at
    /// once when the API's latency keeps one chain under the rate limit; `off`; or a number.
    #[arg(long, env = "EXPORT_PARTITIONS", default_value = "auto")]
    pub partitions: crate::export::Partitions,
}

impl ApiSettings {
    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout_secs)
    }

    /// Tokens travel to both URLs: refuse cleartext to another machine unless explicitly allowed.
    pub fn check_tls(&self) -> anyhow::Result<()> {
        for (name, url) in [
            ("CC_API_BASE_URL", &self.api_base_url),
            ("CC_AUTH_URL", &self.auth_url),
        ] {
            match url.scheme() {
                "https" => {}
                "http" if self.allow_http || is_loopback(url) => {}
                "http" => anyhow::bail!(
                    "{name} {url} is plain http to another machine: use https, or set CC_ALLOW_HTTP=true"
                ),
                other => anyhow::bail!("{name} {url}: scheme {other} is not http(s)"),
            }
        }
        Ok(())
    }
}

/// `localhost` or a loopback address: traffic that never leaves the machine.
pub fn is_loopback(url: &Url) -> bool {
    use std::net::IpAddr;
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(s))
    }
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// Logging: `RUST_LOG` filters, `LOG_FORMAT` picks the shape.
#[derive(clap::Args, Debug, Clone)]
pub struct LogSettings {
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
}

/// Postgres.
#[derive(clap::Args, Debug, Clone)]
pub struct DbSettings {
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Secret,
}

/// RabbitMQ.
#[derive(clap::Args, Debug, Clone)]
pub struct AmqpSettings {
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_env_values = true
    )]
    pub amqp_url: Secret,
    /// Queue name; its dead-letter queue is `<name>.dlq`.
    #[arg(long, env = "EXPORT_QUEUE", default_value = "constantcontact-export")]
    pub export_queue: String,
}

impl AmqpSettings {
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dlq", self.export_queue)
    }
}

/// The object store.
#[derive(clap::Args, Debug, Clone)]
pub struct S3Settings {
    #[arg(long, env = "S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// An S3-compatible endpoint (default: AWS).
    #[arg(long, env = "S3_ENDPOINT_URL")]
    pub s3_endpoint_url: Option<Url>,
    #[arg(long, env = "S3_FORCE_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set)]
    pub s3_force_path_style: bool,
    /// Allow a plain http:// endpoint that is not on this machine (default: TLS, or loopback).
    #[arg(long, env = "S3_ALLOW_HTTP", default_value_t = false, action = clap::ArgAction::Set)]
    pub s3_allow_http: bool,
    /// Multipart part size in MiB (at least 5, S3's minimum for all parts but the last).
    #[arg(long, env = "S3_PART_SIZE_MIB", default_value_t = 8, value_parser = clap::value_parser!(u64).range(5..=5120))]
    pub s3_part_size_mib: u64,
    /// Every object key the worker writes starts with this.
    #[arg(long, env = "EXPORT_PREFIX", default_value = "exports/")]
    pub export_prefix: String,
}

/// Key for the tokens stored in Postgres.
#[derive(clap::Args, Debug, Clone)]
pub struct TokenKeySettings {
    /// Base64 of 32 bytes; tokens are stored AES-256-GCM encrypted with it.
    #[arg(long, env = "TOKEN_ENCRYPTION_KEY", hide_env_values = true)]
    pub token_encryption_key: Option<Secret>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(base: &str, auth: &str, allow_http: bool) -> ApiSettings {
        ApiSettings {
            api_base_url: base.parse().unwrap(),
            auth_url: auth.parse().unwrap(),
            client_id: None,
            client_secret: None,
            rate_limit_rps: 10,
            daily_quota: 10,
            request_timeout_secs: 30,
            allow_http,
            partitions: Default::default(),
        }
    }

    #[test]
    fn api_urls_need_tls_unless_loopback_or_allowed() {
        let tls = "https://authz.constantcontact.com/token";
        assert!(
            api("https://api.cc.email/v3", tls, false)
                .check_tls()
                .is_ok()
        );
        assert!(
            api("http://127.0.0.1:8080/v3", "http://localhost/t", false)
                .check_tls()
                .is_ok()
        );
        assert!(api("http://[::1]:8080/v3", tls, false).check_tls().is_ok());
        let err = api("http://api.cc.email/v3", tls, false)
            .check_tls()
            .unwrap_err();
        assert!(err.to_string().contains("CC_ALLOW_HTTP"), "{err}");
        let err = api("https://api.cc.email/v3", "http://10.0.0.5/t", false)
            .check_tls()
            .unwrap_err();
        assert!(err.to_string().contains("CC_AUTH_URL"), "{err}");
        assert!(
            api("http://api.internal/v3", "http://10.0.0.5/t", true)
                .check_tls()
                .is_ok()
        );
        assert!(api("ftp://api.cc.email/v3", tls, true).check_tls().is_err());
    }
}
