//! Shared by the S3 tests: the moto server `scripts/services.sh` started (read from the
//! environment; a missing endpoint fails the test, never skips it), a bucket per test, a
//! recording in-memory part ledger, and readers for what landed in the bucket.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use aws_sdk_s3::Client;
use cc_export::config::S3Settings;
use cc_export::sink::s3::{self, ClientOptions};
use cc_export::sink::{LedgerState, PartLedger, PartRecord, Position};

pub const MIB: u64 = 1024 * 1024;

/// `S3Settings` for the moto server of `scripts/services.sh`.
pub fn settings() -> S3Settings {
    let endpoint = std::env::var("S3_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "S3_ENDPOINT_URL is not set: run the tests with scripts/test.sh, or `source \
             scripts/services.sh` first (it starts moto and exports S3_ENDPOINT_URL and AWS_*)"
        )
    });
    S3Settings {
        s3_bucket: None,
        s3_endpoint_url: Some(endpoint.parse().expect("S3_ENDPOINT_URL is a URL")),
        s3_force_path_style: true,
        s3_allow_http: false,
        s3_part_size_mib: 5,
        export_prefix: String::new(),
    }
}

/// The client the sink would get, with shorter backoffs (moto answers some requests with 500).
pub async fn client() -> Client {
    let options = ClientOptions {
        initial_backoff: std::time::Duration::from_millis(20),
        max_backoff: std::time::Duration::from_millis(200),
        ..ClientOptions::default()
    };
    s3::s3_client_with(&settings(), &options)
        .await
        .expect("S3 client")
}

/// A client whose retries are quick, for tests that make a server fail.
pub async fn client_for(endpoint: &str, max_attempts: u32) -> Client {
    let mut settings = settings();
    settings.s3_endpoint_url = Some(endpoint.parse().unwrap());
    let options = ClientOptions {
        max_attempts,
        initial_backoff: std::time::Duration::from_millis(10),
        max_backoff: std::time::Duration::from_millis(50),
        ..ClientOptions::default()
    };
    s3::s3_client_with(&settings, &options).await.unwrap()
}

/// Creates a bucket no other test (or earlier run against the same moto) uses.
pub async fn new_bucket(client: &Client, tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!(
        "t-{}-{}-{}-{}",
        tag.to_ascii_lowercase().replace('_', "-"),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_000
    );
    let name: String = name.chars().take(63).collect();
    client
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {name}: {e:?}"));
    name
}

pub async fn get(client: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get s3://{bucket}/{key}: {e:?}"));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

pub async fn exists(client: &Client, bucket: &str, key: &str) -> bool {
    client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

pub async fn metadata(client: &Client, bucket: &str, key: &str) -> HashMap<String, String> {
    let out = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    out.metadata.unwrap_or_default()
}

pub async fn tags(client: &Client, bucket: &str, key: &str) -> HashMap<String, String> {
    let out = client
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    out.tag_set.into_iter().map(|t| (t.key, t.value)).collect()
}

/// Upload ids of the multipart uploads in progress in a bucket.
pub async fn uploads(client: &Client, bucket: &str) -> Vec<String> {
    let out = client
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    out.uploads
        .unwrap_or_default()
        .into_iter()
        .filter_map(|u| u.upload_id)
        .collect()
}

/// What the sink told the ledger, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Begin(String),
    Part(PartRecord, Position, u64),
    Reset,
}

/// A ledger in memory that remembers every call; what the job row in Postgres does, minus SQL.
#[derive(Default)]
pub struct MemoryLedger {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    state: LedgerState,
    position: Position,
    calls: Vec<Call>,
}

impl MemoryLedger {
    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    pub fn state(&self) -> LedgerState {
        self.inner.lock().unwrap().state.clone()
    }

    /// The position recorded with the last part: where a resumed export starts.
    pub fn position(&self) -> Position {
        self.inner.lock().unwrap().position.clone()
    }

    pub fn parts(&self) -> Vec<PartRecord> {
        self.state().parts
    }
}

#[async_trait]
impl PartLedger for MemoryLedger {
    async fn load(&self) -> anyhow::Result<LedgerState> {
        Ok(self.state())
    }

    async fn begin_upload(&self, upload_id: &str) -> anyhow::Result<()> {
        let mut i = self.inner.lock().unwrap();
        i.state.upload_id = Some(upload_id.to_owned());
        i.state.parts.clear();
        i.calls.push(Call::Begin(upload_id.to_owned()));
        Ok(())
    }

    async fn record_part(
        &self,
        part: &PartRecord,
        after: &Position,
        bytes_total: u64,
    ) -> anyhow::Result<()> {
        let mut i = self.inner.lock().unwrap();
        i.state.parts.retain(|p| p.part_number < part.part_number);
        i.state.parts.push(part.clone());
        i.position = after.clone();
        i.calls
            .push(Call::Part(part.clone(), after.clone(), bytes_total));
        Ok(())
    }

    async fn reset(&self) -> anyhow::Result<()> {
        let mut i = self.inner.lock().unwrap();
        i.state = LedgerState::default();
        i.position = Position::default();
        i.calls.push(Call::Reset);
        Ok(())
    }
}
