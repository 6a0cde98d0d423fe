//! The whole system for end-to-end tests: real `cc-export worker` processes against Postgres (a
//! fresh schema), RabbitMQ (a fresh queue), moto (a fresh bucket) and the in-process simulator.
//! Include next to `db`, `s3_common` and `amqp` (`#[path]` modules of the same test crate).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use cc_export::cc::TokenPair;
use cc_export::secret::Secret;
use cc_export::sim::{SimConfig, Simulator};
use cc_export::store::{JobRow, TokenKey, jobs, tokens};
use lapin::BasicProperties;
use uuid::Uuid;

use super::amqp::TestQueue;
use super::db::{TestDb, fresh_db};
use super::s3_common;

pub const BIN: &str = env!("CARGO_BIN_EXE_cc-export");
pub const ACCOUNT: &str = "acct-1";
pub const USER: &str = "user_abc";

pub struct Stack {
    pub db: TestDb,
    pub sim: Simulator,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub queue: TestQueue,
    pub key: TokenKey,
    key_b64: String,
    pub rps: u32,
    /// Extra environment for every worker.
    pub env: Vec<(String, String)>,
    workers: Vec<(String, Child)>,
    pub logs: tempfile::TempDir,
}

impl Stack {
    /// `rps`: the API key's limit, configured in the workers and enforced by the simulator.
    pub async fn start(contacts: u64, rps: u32) -> Self {
        Self::start_with(
            SimConfig {
                contacts,
                rate_limit_rps: Some(rps),
                deleted_per_mille: 0,
                ..SimConfig::default()
            },
            rps,
        )
        .await
    }

    /// A simulator configured by the test (faults, latency, cursor TTL…); the workers are told
    /// `rps` as the key's limit, which may differ from the simulator's.
    pub async fn start_with(cfg: SimConfig, rps: u32) -> Self {
        let sim = Simulator::start(cfg, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let s3 = s3_common::client().await;
        let bucket = s3_common::new_bucket(&s3, "e2e").await;
        let raw_key: [u8; 32] = std::array::from_fn(|_| fastrand::u8(..));
        let key_b64 = base64::engine::general_purpose::STANDARD.encode(raw_key);
        let queue = TestQueue::new().await;
        cc_export::queue::declare(&queue.conn, &queue.name)
            .await
            .unwrap();
        Self {
            db: fresh_db().await,
            sim,
            s3,
            bucket,
            queue,
            key: TokenKey::from_base64(&key_b64).unwrap(),
            key_b64,
            rps,
            env: Vec::new(),
            workers: Vec::new(),
            logs: tempfile::tempdir().unwrap(),
        }
    }

    /// Stores the simulator's tokens for `account`, as `cc-export tokens put` would.
    pub async fn put_tokens(&self, account: &str, user: &str) -> TokenPair {
        let t = self.sim.issue_tokens(account);
        let pair = TokenPair {
            access_token: Secret::new(t.access_token),
            refresh_token: Secret::new(t.refresh_token),
            generated_at: time::OffsetDateTime::now_utc(),
        };
        tokens::put(&self.db.pool, &self.key, account, user, &pair)
            .await
            .unwrap();
        pair
    }

    pub fn worker_command(&self, name: &str) -> Command {
        let log = std::fs::File::create(self.log_path(name)).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("worker")
            .env("DATABASE_URL", self.db.url())
            .env("AMQP_URL", super::amqp::amqp_url())
            .env("EXPORT_QUEUE", &self.queue.name)
            .env("S3_BUCKET", &self.bucket)
            .env("S3_FORCE_PATH_STYLE", "true")
            .env("S3_PART_SIZE_MIB", "5")
            .env("CC_API_BASE_URL", self.sim.base_url())
            .env("CC_AUTH_URL", self.sim.auth_url())
            .env("CC_CLIENT_ID", "sim-client")
            .env("CC_CLIENT_SECRET", "sim-secret")
            .env("CC_RATE_LIMIT_RPS", self.rps.to_string())
            .env("TOKEN_ENCRYPTION_KEY", &self.key_b64)
            .env("WORKER_ID", name)
            .env("WORKER_LEASE_SECS", "4")
            .env("WORKER_CONCURRENCY", "2")
            .env("WORKER_MAX_ATTEMPTS", "20")
            .env("RUST_LOG", "info,cc_export=debug")
            // One chain unless a test asks for windows: tests count requests and contacts, and
            // `auto` decides on the (debug, loaded) simulator's answer time.
            .env("EXPORT_PARTITIONS", "off")
            // Several workers per machine: each takes a free port and logs it.
            .env("METRICS_ADDR", "127.0.0.1:0")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        cmd
    }

    /// The `http://host:port` a worker serves `/metrics`, `/healthz` and `/readyz` on, read from
    /// its log (it binds port 0); waits up to `within` for the line.
    pub async fn metrics_url(&self, name: &str, within: Duration) -> String {
        const MARK: &str = "metrics and health endpoints on http://";
        let deadline = Instant::now() + within;
        loop {
            let log = std::fs::read_to_string(self.log_path(name)).unwrap_or_default();
            if let Some(at) = log.find(MARK) {
                let addr: String = log[at + MARK.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
                    .collect();
                return format!("http://{addr}");
            }
            assert!(
                Instant::now() < deadline,
                "worker {name} logged no metrics address within {within:?}:\n{}",
                tail(&log, 4000)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// TOKEN_ENCRYPTION_KEY of this stack, for other processes (`cc-export serve`).
    pub fn key_b64(&self) -> &str {
        &self.key_b64
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.logs.path().join(format!("{name}.log"))
    }

    /// Everything every worker of this test logged.
    pub fn all_logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(self.logs.path()).unwrap() {
            all.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default());
        }
        all
    }

    pub fn spawn_worker(&mut self, name: &str) {
        let child = self
            .worker_command(name)
            .spawn()
            .expect("start cc-export worker");
        self.workers.push((name.to_owned(), child));
    }

    fn take(&mut self, name: &str) -> Child {
        let i = self
            .workers
            .iter()
            .position(|(n, _)| n == name)
            .expect("known worker");
        self.workers.remove(i).1
    }

    pub fn kill_worker(&mut self, name: &str) {
        let mut child = self.take(name);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }

    /// SIGTERM, then the exit status (panics after `within`).
    pub fn terminate_worker(&mut self, name: &str, within: Duration) -> std::process::ExitStatus {
        let mut child = self.take(name);
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("worker {name} did not exit within {within:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` (e.g. "TERM") without waiting: several workers can be signalled at once.
    pub fn signal_worker(&self, name: &str, signal: &str) {
        let (_, child) = self
            .workers
            .iter()
            .find(|(n, _)| n == name)
            .expect("known worker");
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status();
    }

    /// Still running (not crashed)?
    pub fn worker_alive(&mut self, name: &str) -> bool {
        let (_, child) = self
            .workers
            .iter_mut()
            .find(|(n, _)| n == name)
            .expect("known worker");
        child.try_wait().unwrap().is_none()
    }

    pub async fn publish(&self, body: &[u8]) {
        self.queue.publish(body, BasicProperties::default()).await;
    }

    /// Publishes the seed's message shape for `account`; returns its job id.
    pub async fn publish_job(&self, account: &str, batch_size: u32) -> Uuid {
        let job_id = Uuid::new_v4();
        self.publish_job_with_id(job_id, account, batch_size).await;
        job_id
    }

    pub async fn publish_job_with_id(&self, job_id: Uuid, account: &str, batch_size: u32) {
        let body = serde_json::json!({
            "type": "constantcontact-export",
            "job_id": job_id,
            "account_id": account,
            "user_id": USER,
            "batch_size": batch_size,
            "last_cursor": null,
            "total_processed": 0
        });
        self.publish(body.to_string().as_bytes()).await;
    }

    pub async fn job(&self, id: Uuid) -> Option<JobRow> {
        jobs::get(&self.db.pool, id).await.unwrap()
    }

    /// Polls the job row until `cond` holds; panics (with the row and worker logs) after `within`.
    pub async fn wait_job(
        &self,
        id: Uuid,
        within: Duration,
        what: &str,
        cond: impl Fn(&JobRow) -> bool,
    ) -> JobRow {
        let deadline = Instant::now() + within;
        loop {
            let row = self.job(id).await;
            if let Some(row) = row.as_ref().filter(|r| cond(r)) {
                return row.clone();
            }
            if Instant::now() > deadline {
                // Where the message is (ready, unacked on a consumer, or gone) and what the
                // workers said of this job, before the tail of their logs.
                let queue = &self.queue.name;
                let ready = self.queue.count(queue).await;
                let logs = self.all_logs();
                let id_text = id.to_string();
                let naming: Vec<&str> = logs.lines().filter(|l| l.contains(&id_text)).collect();
                panic!(
                    "job {id}: {what} not reached within {within:?}; row: {row:#?}\n\
                     queue {queue}: {ready} ready; broker: {}\n\
                     log lines naming the job:\n{}\nlogs:\n{}",
                    broker_view(queue),
                    tail(&naming.join("\n"), 4000),
                    tail(&logs, 4000)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_succeeded(&self, id: Uuid, within: Duration) -> JobRow {
        self.wait_job(id, within, "succeeded", |r| {
            r.status == jobs::JobStatus::Succeeded
        })
        .await
    }

    pub async fn object(&self, key: &str) -> Vec<u8> {
        s3_common::get(&self.s3, &self.bucket, key).await
    }

    /// The `Contact ID` column of a CSV object, in file order.
    pub async fn object_ids(&self, key: &str) -> Vec<String> {
        let bytes = self.object(key).await;
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let col = reader
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "Contact ID")
            .expect("Contact ID column");
        reader
            .records()
            .map(|r| r.unwrap()[col].to_owned())
            .collect()
    }

    pub fn expected_ids(&self, account: &str) -> Vec<String> {
        self.sim.dataset().expected_ids(account).collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for (_, child) in &mut self.workers {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `rabbitmqctl`'s line for `queue` (ready, unacked, consumers), when the tool is here.
fn broker_view(queue: &str) -> String {
    let args = [
        "-q",
        "list_queues",
        "name",
        "messages_ready",
        "messages_unacknowledged",
        "consumers",
    ];
    match std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
    {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with(queue))
            .collect::<Vec<_>>()
            .join("; "),
        Err(e) => format!("rabbitmqctl unavailable ({e})"),
    }
}

pub fn tail(s: &str, n: usize) -> &str {
    let start = s.len().saturating_sub(n);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    &s[start..]
}

impl Stack {
    /// Every object key in the bucket (for checking nothing landed outside the prefix).
    pub async fn all_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            keys.extend(
                page.unwrap()
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        keys
    }
}
