//! Building the S3 client: aws-config's defaults (credentials, region) plus what S3-compatible
//! servers need (endpoint, path-style addressing, checksums only when the operation requires
//! them), bounded retries, and TLS unless the endpoint is on this machine or plain HTTP is asked
//! for explicitly.

use std::net::IpAddr;
use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use url::Url;

use crate::config::S3Settings;

/// How the client behaves beyond what `S3Settings` says.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Attempts per request, the first included. 500/503, throttling, timeouts and connection
    /// resets are retried with jittered exponential backoff; other errors fail at once.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Allow an `http://` endpoint that is not a loopback address (credentials and data would
    /// cross the network in clear text; signatures stop tampering, not reading).
    pub allow_http: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            allow_http: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum S3ClientError {
    #[error(
        "S3 endpoint {0} is plain http:// on a non-loopback host; use https://, or allow it \
         explicitly (--s3-allow-http / S3_ALLOW_HTTP=true)"
    )]
    InsecureEndpoint(Url),
    #[error("S3 endpoint {0} must be an http:// or https:// URL")]
    BadEndpoint(Url),
}

/// `s3_client_with` with the default options (and `S3_ALLOW_HTTP` from the settings).
pub async fn s3_client(settings: &S3Settings) -> Result<aws_sdk_s3::Client, S3ClientError> {
    s3_client_with(settings, &ClientOptions::default()).await
}

pub async fn s3_client_with(
    settings: &S3Settings,
    options: &ClientOptions,
) -> Result<aws_sdk_s3::Client, S3ClientError> {
    if let Some(url) = &settings.s3_endpoint_url {
        check_endpoint(url, options.allow_http || settings.s3_allow_http)?;
    }
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut builder = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(settings.s3_force_path_style)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(options.max_attempts.max(1))
                .with_initial_backoff(options.initial_backoff)
                .with_max_backoff(options.max_backoff),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                // A part is at most a few hundred MiB: an attempt that takes longer is stuck.
                .operation_attempt_timeout(Duration::from_secs(600))
                .build(),
        );
    if let Some(url) = &settings.s3_endpoint_url {
        builder = builder.endpoint_url(url.as_str().trim_end_matches('/'));
        // S3-compatible servers ignore the region but SigV4 needs one.
        if shared.region().is_none() {
            builder = builder.region(Region::from_static("us-east-1"));
        }
    }
    Ok(aws_sdk_s3::Client::from_conf(builder.build()))
}

fn check_endpoint(url: &Url, allow_http: bool) -> Result<(), S3ClientError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(S3ClientError::InsecureEndpoint(url.clone())),
        _ => Err(S3ClientError::BadEndpoint(url.clone())),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, allow: bool) -> bool {
        check_endpoint(&url.parse().unwrap(), allow).is_ok()
    }

    #[test]
    fn tls_by_default_plain_http_only_on_loopback_or_when_allowed() {
        assert!(check("https://s3.example.com", false));
        assert!(check("http://127.0.0.1:9000", false));
        assert!(check("http://[::1]:9000", false));
        assert!(check("http://localhost:9000", false));
        assert!(!check("http://minio.internal:9000", false));
        assert!(!check("http://10.0.0.5:9000", false));
        assert!(check("http://minio.internal:9000", true));
        assert!(!check("ftp://127.0.0.1", true));
    }
}
