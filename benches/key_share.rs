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
//! `key_share utilisation=<f> throttled=<n> max_in_1s=<n> jobs=<n> fair_min=<f> fair_max=<f> count_min=<f> count_max=<f> elapsed_s=<f>`
//! - the window: from the instant the last job to start made its first request to the instant
//!   the first job to finish made its last one (all jobs are running and asking throughout);
//!   `elapsed_s` is its length. Request instants are read from 20 ms samples of the simulator's
//!   counters of accepted requests per account;
//! - `utilisation` = requests the simulator accepted in the window (429s do not count) /
//!   (`elapsed_s` × limit);
//! - `fair_min`/`fair_max`: each job's request rate over the window, divided by the mean rate of
//!   the jobs. A job's rate is its cumulative count of requests, linear between one request and
//!   its next, taken at the window's two ends (the difference, over the window's length): a job
//!   whose request falls just inside or just outside an end counts a fraction of it instead of
//!   the whole (each job makes ~10 requests in the window, so a whole one is ~10 %). A job kept
//!   waiting shows as a long gap between two requests, so it still shows;
//! - `count_min`/`count_max`: the same with whole requests counted in the window (the figure
//!   before this definition, kept for comparison);
//! - `throttled` (429s) and `max_in_1s` (most requests in any sliding second, by arrival) over
//!   the whole run.

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

/// 100 jobs × (custom fields + 10 pages of 100) = 1,100 requests: ~110 s at 10 rps. The jobs
/// start over the first ~20 s (each first request waits its turn behind the others), and the
/// ones that started first finish first, so the window is about half the run and each job asks
/// ~5 times in it: one whole request is ~20 % of a job's share, which is why fairness is taken
/// as a rate (see above). The window (~50 s) still dwarfs the 20 ms sampling.
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

    let window = Window::of(&samples, per_job);
    let (a, b) = (&samples[window.first], &samples[window.last]);
    let secs = b.at.duration_since(a.at).as_secs_f64();
    let counted: Vec<f64> = (0..size.jobs)
        .map(|j| (b.per_job[j] - a.per_job[j]) as f64)
        .collect();
    let rated: Vec<f64> = (0..size.jobs)
        .map(|j| {
            let times = request_times(&samples, j);
            progress(&times, b.at) - progress(&times, a.at)
        })
        .collect();
    let accepted: f64 = counted.iter().sum();
    let utilisation = accepted / (secs * f64::from(RPS));
    let (fair_min, fair_max) = spread(&rated);
    let (count_min, count_max) = spread(&counted);
    eprintln!(
        "key_share: {} jobs, {} requests, run {:.1} s; window {secs:.1} s from {:.1} s to {:.1} s \
         ({} requests reached the simulator, {accepted} accepted, {:.1} per job)",
        size.jobs,
        stats.requests,
        total.as_secs_f64(),
        a.at.duration_since(started).as_secs_f64(),
        b.at.duration_since(started).as_secs_f64(),
        b.requests - a.requests,
        accepted / size.jobs as f64,
    );
    if window.no_common {
        eprintln!("key_share: a job finished before every job had made a request");
    }
    println!(
        "key_share utilisation={utilisation:.4} throttled={} max_in_1s={} jobs={} \
         fair_min={fair_min:.3} fair_max={fair_max:.3} count_min={count_min:.3} \
         count_max={count_max:.3} elapsed_s={secs:.2}",
        stats.throttled, stats.max_requests_in_any_1s, size.jobs
    );
}

/// The samples that bound the measured window.
struct Window {
    first: usize,
    last: usize,
    /// A job finished before every job had asked once: measured from the first request instead
    /// (the jobs that had not started count 0, so `fair_min` = 0).
    no_common: bool,
}

impl Window {
    fn of(samples: &[Sample], per_job: u64) -> Self {
        let last = samples
            .iter()
            .position(|s| s.per_job.iter().any(|&n| n >= per_job))
            .expect("some job finished");
        match samples
            .iter()
            .position(|s| s.per_job.iter().all(|&n| n > 0))
        {
            Some(first) if first < last => Self {
                first,
                last,
                no_common: false,
            },
            _ => Self {
                first: samples
                    .iter()
                    .position(|s| s.requests > 0)
                    .expect("a request"),
                last,
                no_common: true,
            },
        }
    }
}

/// When job `j`'s 1st, 2nd, … accepted request was first seen.
fn request_times(samples: &[Sample], j: usize) -> Vec<Instant> {
    let mut times = Vec::new();
    for s in samples {
        while (times.len() as u64) < s.per_job[j] {
            times.push(s.at);
        }
    }
    times
}

/// A job's count of requests at `t`, linear between one request and the next (whole after its
/// last one, 0 before its first).
fn progress(times: &[Instant], t: Instant) -> f64 {
    let done = times.partition_point(|&r| r <= t);
    match (done.checked_sub(1).map(|i| times[i]), times.get(done)) {
        (Some(prev), Some(&next)) if next > prev => {
            (done - 1) as f64 + t.duration_since(prev).as_secs_f64() / (next - prev).as_secs_f64()
        }
        _ => done as f64,
    }
}

/// The least and the most of `shares`, each divided by their mean.
fn spread(shares: &[f64]) -> (f64, f64) {
    let mean = shares.iter().sum::<f64>() / shares.len() as f64;
    let min = shares.iter().copied().fold(f64::INFINITY, f64::min);
    let max = shares.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min / mean, max / mean)
}
