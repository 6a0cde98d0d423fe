//! One `cc-export worker` process running 100 jobs at once (100 accounts, one API key at 10 rps
//! enforced by the simulator): how much of the key's limit it uses, and how evenly the jobs share
//! it. Needs Postgres, RabbitMQ and S3 (moto) like the end-to-end tests: `DATABASE_URL`,
//! `AMQP_URL`, `S3_ENDPOINT_URL` (`source scripts/services.sh`).
//!
//! `cargo bench --bench key_share` runs the full size; without `--bench` (`cargo test
//! --all-targets`) a small run checks that the bench still works. `KEY_SHARE_WORKER_LOG=<file>`
//! keeps the worker's log.
//!
//! Output, one line per run:
//! `key_share utilisation=<f> throttled=<n> max_in_1s=<n> jobs=<n> fair_min=<f> fair_max=<f> elapsed_s=<f>`
//! - the window: from the first instant every job had made a request to the first instant some
//!   job had made its last one (all jobs are running and asking throughout); `elapsed_s` is its
//!   length, read from 20 ms samples of the simulator's counters;
//! - `utilisation` = requests that reached the simulator in the window / (`elapsed_s` × limit);
//! - `fair_min`/`fair_max`: the least and most requests one job got in the window, each divided
//!   by the equal share (the window's accepted requests / jobs);
//! - `throttled` (429s) and `max_in_1s` (most requests in any sliding second) over the whole run.

#[path = "../tests/common/amqp.rs"]
mod amqp;
#[path = "../tests/common/db.rs"]
mod db;
#[path = "../tests/common/s3.rs"]
mod s3_common;
#[path = "../tests/common/stack.rs"]
mod stack;

use std::time::{Duration, Instant};

use stack::{Stack, USER};

const RPS: u32 = 10;
const SAMPLE_EVERY: Duration = Duration::from_millis(20);

struct Size {
    jobs: usize,
    contacts: u64,
    batch: u32,
}

/// 100 jobs × (custom fields + 10 pages of 100) = 1,100 requests: ~110 s at 10 rps. Each job
/// then asks ten times or more inside the window, so one request more or less at its edges moves
/// a job's share by at most ~10 %, and the window (~100 s) dwarfs the 20 ms sampling.
const FULL: Size = Size {
    jobs: 100,
    contacts: 1_000,
    batch: 100,
};

/// What `cargo test --all-targets` runs: the same code on 10 jobs of 3 pages (~4 s).
const SMOKE: Size = Size {
    jobs: 10,
    contacts: 300,
    batch: 100,
};

fn main() {
    let size = if std::env::args().any(|a| a == "--bench") {
        FULL
    } else {
        SMOKE
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(run(size));
}

/// The simulator's counters at one instant: all requests, and accepted ones per job's account.
struct Sample {
    at: Instant,
    requests: u64,
    per_job: Vec<u64>,
}

async fn run(size: Size) {
    let mut st = Stack::start(size.contacts, RPS).await;
    for (k, v) in [
        ("WORKER_CONCURRENCY", size.jobs.to_string()),
        // Heartbeats at the production pace (the stack's 4 s lease means 100 updates a second).
        ("WORKER_LEASE_SECS", "60".into()),
        // One line per block of the key's slots the worker reserves.
        ("RUST_LOG", "info,cc_export::store::rate_gate=debug".into()),
    ] {
        st.env.push((k.into(), v));
    }
    let accounts: Vec<String> = (0..size.jobs)
        .map(|i| format!("acct-share-{i:03}"))
        .collect();
    for a in &accounts {
        st.put_tokens(a, USER).await;
    }
    st.spawn_worker("w1");
    let started = Instant::now();
    let mut jobs = Vec::new();
    for a in &accounts {
        jobs.push(st.publish_job(a, size.batch).await);
    }

    let per_job = 1 + size.contacts.div_ceil(u64::from(size.batch));
    let mut samples = Vec::new();
    loop {
        let stats = st.sim.stats();
        let sample = Sample {
            at: Instant::now(),
            requests: stats.requests,
            per_job: accounts
                .iter()
                .map(|a| stats.requests_by_account.get(a).copied().unwrap_or(0))
                .collect(),
        };
        let done = sample.per_job.iter().all(|&n| n >= per_job);
        samples.push(sample);
        if done {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "the jobs made no progress for 15 minutes:\n{}",
            stack::tail(&st.all_logs(), 4000)
        );
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    for id in &jobs {
        let row = st.wait_succeeded(*id, Duration::from_secs(120)).await;
        assert_eq!(row.attempts, 1, "job {id} ran once: {:?}", row.error);
    }
    let total = started.elapsed();
    if let Ok(path) = std::env::var("KEY_SHARE_WORKER_LOG") {
        std::fs::copy(st.log_path("w1"), &path).expect("copy the worker's log");
    }
    let stats = st.sim.stats();
    assert_eq!(stats.requests_by_account.len(), size.jobs, "{stats:?}");
    for a in &accounts {
        assert_eq!(stats.requests_by_account[a], per_job, "{a}: {stats:?}");
    }

    let last = samples
        .iter()
        .position(|s| s.per_job.iter().any(|&n| n >= per_job))
        .expect("some job finished");
    let first = match samples
        .iter()
        .position(|s| s.per_job.iter().all(|&n| n > 0))
    {
        Some(i) if i < last => i,
        // A job finished before every job had asked once: no common window. Measure from the
        // first request instead; the jobs that had not started count 0 (fair_min = 0).
        _ => {
            eprintln!("key_share: a job finished before every job had made a request");
            samples
                .iter()
                .position(|s| s.requests > 0)
                .expect("a request")
        }
    };
    let (a, b) = (&samples[first], &samples[last]);
    let window = b.at.duration_since(a.at).as_secs_f64();
    let utilisation = (b.requests - a.requests) as f64 / (window * f64::from(RPS));
    let got: Vec<u64> = a
        .per_job
        .iter()
        .zip(&b.per_job)
        .map(|(x, y)| y - x)
        .collect();
    let equal = got.iter().sum::<u64>() as f64 / size.jobs as f64;
    let fair_min = *got.iter().min().unwrap() as f64 / equal;
    let fair_max = *got.iter().max().unwrap() as f64 / equal;
    eprintln!(
        "key_share: {} jobs, {} requests, run {:.1} s; window {window:.1} s from {:.1} s to {:.1} s \
         ({} requests, equal share {equal:.1} per job, min {} max {})",
        size.jobs,
        stats.requests,
        total.as_secs_f64(),
        a.at.duration_since(started).as_secs_f64(),
        b.at.duration_since(started).as_secs_f64(),
        b.requests - a.requests,
        got.iter().min().unwrap(),
        got.iter().max().unwrap(),
    );
    println!(
        "key_share utilisation={utilisation:.4} throttled={} max_in_1s={} jobs={} \
         fair_min={fair_min:.3} fair_max={fair_max:.3} elapsed_s={window:.2}",
        stats.throttled, stats.max_requests_in_any_1s, size.jobs
    );
}
