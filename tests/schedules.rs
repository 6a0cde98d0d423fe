//! Scheduled syncs: `cc-export schedules add|list|remove` as operators run them, a due run
//! enqueued exactly once by racing workers, one catch-up run after an outage, incremental runs,
//! and two real worker processes running a schedule end to end.

#[path = "common/amqp.rs"]
mod amqp;
#[path = "common/db.rs"]
mod db;
#[path = "common/s3.rs"]
mod s3_common;
#[path = "common/stack.rs"]
mod stack;

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use cc_export::job::JobSpec;
use cc_export::schedule::{JobTemplate, run_job_id};
use cc_export::store::schedules::{self, DueRun, NewSchedule, Tick};
use cc_export::store::{JobStatus, jobs};
use db::fresh_db;
use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use tokio::sync::Barrier;
use uuid::Uuid;

const MINUTE: Duration = Duration::from_secs(60);
const LEASE: Duration = Duration::from_secs(60);
/// Fires once a year: a test makes a run due by moving `next_run_at`, never by waiting.
const YEARLY: &str = "0 0 1 1 *";

fn cli(database_url: &str, args: &[&str]) -> Output {
    Command::new(stack::BIN)
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run cc-export")
}

/// `cc-export schedules add --cron CRON` and the other flags (`rest`, split on whitespace).
fn add(database_url: &str, cron: &str, rest: &str) -> Output {
    let mut args = vec!["schedules", "add", "--cron", cron];
    args.extend(rest.split_whitespace());
    cli(database_url, &args)
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn refused(out: &Output, code: i32, says: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        stderr.contains(says),
        "stderr should say {says:?}: {stderr}"
    );
}

fn schedule(cron: &str, incremental: bool, template: JobTemplate) -> NewSchedule {
    NewSchedule {
        name: None,
        cron: cron.into(),
        account_id: "acct-s".into(),
        user_id: "u1".into(),
        template,
        incremental,
    }
}

async fn make_due(pool: &PgPool, id: Uuid, at: OffsetDateTime) {
    sqlx::query("UPDATE export_schedules SET next_run_at = $2 WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(pool)
        .await
        .unwrap();
}

async fn tick(pool: &PgPool) -> Vec<DueRun> {
    match schedules::enqueue_due(pool, "exports/", 5, 100)
        .await
        .unwrap()
    {
        Tick::Enqueued(runs) => runs,
        Tick::Busy => panic!("nobody else holds the schedules lock in this test"),
    }
}

async fn db_now(pool: &PgPool) -> OffsetDateTime {
    sqlx::query_scalar("SELECT now()")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn cli_adds_lists_and_removes_schedules_and_refuses_a_bad_cron() {
    let db = fresh_db().await;
    let url = db.url();
    let rest = "--account acct-9 --user u1 --name nightly --format ndjson --gzip --incremental";
    let out = add(&url, "30 3 * * *", rest);
    let id: Uuid = ok(&out).trim().parse().expect("add prints the schedule id");
    let row = schedules::get(&db.pool, id).await.unwrap().unwrap();
    assert_eq!(row.cron, "30 3 * * *");
    assert_eq!(
        (row.name.as_deref(), row.incremental),
        (Some("nightly"), true)
    );
    assert_eq!(
        (row.spec.format.extension(), row.spec.gzip),
        ("ndjson", true)
    );
    let now = db_now(&db.pool).await;
    assert!(row.next_run_at > now && row.next_run_at <= now + time::Duration::DAY);
    assert_eq!((row.next_run_at.hour(), row.next_run_at.minute()), (3, 30));
    assert_eq!(row.next_run_at.offset(), time::UtcOffset::UTC);

    let table = ok(&cli(&url, &["schedules", "list"]));
    let line = table
        .lines()
        .find(|l| l.contains(&id.to_string()))
        .expect(&table);
    for cell in ["nightly", "30 3 * * *", "acct-9", "incremental"] {
        assert!(line.contains(cell), "{cell:?} missing from {line:?}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&ok(&cli(&url, &["schedules", "list", "--json"]))).unwrap();
    assert_eq!(json[0]["id"], id.to_string());
    assert_eq!(json[0]["spec"]["format"], "ndjson");
    assert_eq!(json[0]["last_job_status"], serde_json::Value::Null);

    let add_cron = |cron: &str| add(&url, cron, "--account a --user u");
    refused(
        &add_cron("61 * * * *"),
        2,
        "invalid cron expression \"61 * * * *\"",
    );
    refused(&add_cron("0 * * * * *"), 2, "five fields");
    refused(&add_cron("every day"), 2, "invalid cron expression");
    refused(&add_cron("0 0 30 2 *"), 2, "never fires");
    let out = add(&url, "@daily", "--account a --user u --batch-size 0");
    refused(&out, 1, "invalid job fields: batch_size");
    assert_eq!(schedules::list(&db.pool, None).await.unwrap().len(), 1);

    let removed = ok(&cli(&url, &["schedules", "remove", &id.to_string()]));
    assert!(
        removed.contains(&format!("removed schedule {id}")),
        "{removed}"
    );
    assert!(schedules::list(&db.pool, None).await.unwrap().is_empty());
    refused(
        &cli(&url, &["schedules", "remove", &id.to_string()]),
        1,
        "not found",
    );
}

/// Four "workers" (pools) tick at the same instant, round after round: every due run becomes
/// exactly one job.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_due_run_is_enqueued_exactly_once_by_racing_workers() {
    let db = fresh_db().await;
    let s = schedules::add(&db.pool, &schedule(YEARLY, false, JobTemplate::default()))
        .await
        .unwrap();
    let mut workers = Vec::new();
    for _ in 0..4 {
        workers.push(db.another_pool(2).await);
    }
    const ROUNDS: usize = 20;
    let (mut busy, mut empty) = (0, 0);
    for round in 0..ROUNDS {
        let due_at = datetime!(2020-01-01 00:00 UTC) + time::Duration::minutes(round as i64);
        make_due(&db.pool, s.id, due_at).await;
        let barrier = Arc::new(Barrier::new(workers.len()));
        let mut tasks = Vec::new();
        for pool in &workers {
            let (pool, barrier) = (pool.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let mut ticks = Vec::new();
                for _ in 0..2 {
                    ticks.push(
                        schedules::enqueue_due(&pool, "exports/", 5, 100)
                            .await
                            .unwrap(),
                    );
                }
                ticks
            }));
        }
        let mut runs = Vec::new();
        for task in tasks {
            for t in task.await.unwrap() {
                match t {
                    Tick::Busy => busy += 1,
                    Tick::Enqueued(r) if r.is_empty() => empty += 1,
                    Tick::Enqueued(r) => runs.extend(r),
                }
            }
        }
        let ids: Vec<Uuid> = runs.iter().map(|r| r.spec.job_id).collect();
        assert_eq!(ids.len(), 1, "round {round}: jobs {ids:?}");
        assert_eq!(runs[0].scheduled_for, due_at);
        assert_eq!(runs[0].spec.job_id, run_job_id(s.id, due_at));
    }
    let stored = schedules::runs(&db.pool, s.id).await.unwrap();
    assert_eq!(stored.len(), ROUNDS, "one job per due run, no more");
    assert_eq!(busy + empty, ROUNDS * 8 - ROUNDS);
    println!("{ROUNDS} rounds: {busy} ticks found the lock taken, {empty} found nothing due");
}

/// Every worker was down for three years: one catch-up run, then the next time after now. The
/// job row is runnable without its message (a crash between commit and publish loses nothing),
/// and a run whose job already exists is not enqueued again.
#[tokio::test]
async fn an_outage_gives_one_catch_up_run_that_runs_without_its_message() {
    let db = fresh_db().await;
    let s = schedules::add(&db.pool, &schedule(YEARLY, false, JobTemplate::default()))
        .await
        .unwrap();
    let now = db_now(&db.pool).await;
    let missed = datetime!(2023-01-01 00:00 UTC);
    make_due(&db.pool, s.id, missed).await;
    let runs = tick(&db.pool).await;
    assert_eq!(runs.len(), 1, "one catch-up run for three missed ones");
    assert_eq!(runs[0].scheduled_for, missed);
    let row = schedules::get(&db.pool, s.id).await.unwrap().unwrap();
    let next_new_year = time::Date::from_calendar_date(now.year() + 1, time::Month::January, 1)
        .unwrap()
        .midnight()
        .assume_utc();
    assert_eq!(row.next_run_at, next_new_year);
    assert_eq!(row.last_job_id, Some(runs[0].spec.job_id));
    assert_eq!(row.last_job_status.0, Some(JobStatus::Queued));
    assert!(tick(&db.pool).await.is_empty(), "nothing more is due");

    // Never published: the claim loop takes it from the table all the same.
    let claimed = jobs::claim_next(&db.pool, "w1", LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, runs[0].spec.job_id);
    assert_eq!(claimed.spec.as_ref(), Some(&runs[0].spec));

    // A run whose job is already there (e.g. recorded from its message) is not added twice.
    let again = datetime!(2024-01-01 00:00 UTC);
    let mut existing: JobSpec = runs[0].spec.clone();
    existing.job_id = run_job_id(s.id, again);
    jobs::record(&db.pool, &existing, 5).await.unwrap();
    make_due(&db.pool, s.id, again).await;
    assert!(tick(&db.pool).await.is_empty());
    let row = schedules::get(&db.pool, s.id).await.unwrap().unwrap();
    assert_eq!(row.next_run_at, next_new_year, "the schedule moved on");
}

#[tokio::test]
async fn incremental_runs_start_where_the_last_succeeded_run_started() {
    let db = fresh_db().await;
    let first_since = "2020-01-01T00:00:00Z";
    let template = JobTemplate {
        updated_after: Some(first_since.into()),
        ..JobTemplate::default()
    };
    let s = schedules::add(&db.pool, &schedule(YEARLY, true, template))
        .await
        .unwrap();
    let full = schedules::add(&db.pool, &schedule(YEARLY, false, JobTemplate::default()))
        .await
        .unwrap();
    let mut due_at = datetime!(2020-01-01 00:00 UTC);
    let mut run = async |pool: &PgPool, id: Uuid| {
        due_at += time::Duration::MINUTE;
        make_due(pool, id, due_at).await;
        let runs = tick(pool).await;
        assert_eq!(runs.len(), 1);
        runs[0].spec.clone()
    };
    let since = |spec: &JobSpec| {
        spec.updated_after
            .as_deref()
            .map(|t| OffsetDateTime::parse(t, &Rfc3339).unwrap())
    };

    // No succeeded run yet: the template's filter.
    let first = run(&db.pool, s.id).await;
    assert_eq!(first.updated_after.as_deref(), Some(first_since));
    // Queued or running runs do not count either.
    let second = run(&db.pool, s.id).await;
    assert_eq!(second.updated_after.as_deref(), Some(first_since));

    jobs::claim(&db.pool, first.job_id, "w1", LEASE)
        .await
        .unwrap()
        .unwrap();
    jobs::succeed(&db.pool, first.job_id, "w1", 10, 100)
        .await
        .unwrap();
    let first_started = jobs::get(&db.pool, first.job_id)
        .await
        .unwrap()
        .unwrap()
        .started_at;
    assert!(first_started.is_some());
    let third = run(&db.pool, s.id).await;
    assert_eq!(
        since(&third),
        first_started,
        "from the start of the last success"
    );

    // A later run that failed does not move the start point; a later success does.
    jobs::claim(&db.pool, second.job_id, "w1", LEASE)
        .await
        .unwrap()
        .unwrap();
    jobs::fail(&db.pool, second.job_id, "w1", "boom")
        .await
        .unwrap();
    assert_eq!(since(&run(&db.pool, s.id).await), first_started);
    jobs::claim(&db.pool, third.job_id, "w1", LEASE)
        .await
        .unwrap()
        .unwrap();
    jobs::succeed(&db.pool, third.job_id, "w1", 1, 10)
        .await
        .unwrap();
    let third_started = jobs::get(&db.pool, third.job_id)
        .await
        .unwrap()
        .unwrap()
        .started_at;
    assert_eq!(since(&run(&db.pool, s.id).await), third_started);

    // A full schedule ignores its successes.
    let f = run(&db.pool, full.id).await;
    jobs::claim(&db.pool, f.job_id, "w1", LEASE)
        .await
        .unwrap()
        .unwrap();
    jobs::succeed(&db.pool, f.job_id, "w1", 1, 10)
        .await
        .unwrap();
    assert_eq!(run(&db.pool, full.id).await.updated_after, None);
}

/// Two real workers, each with its schedules loop, and a schedule due once: one job, run to the
/// end; the next due run is incremental from the first one's start.
#[tokio::test(flavor = "multi_thread")]
async fn two_workers_enqueue_a_due_schedule_once_and_run_it() {
    let mut st = stack::Stack::start(1_000, 50).await;
    st.put_tokens(stack::ACCOUNT, stack::USER).await;
    st.env
        .push(("WORKER_SCHEDULE_POLL_SECS".into(), "1".into()));
    let rest = format!(
        "--account {} --user {} --incremental --batch-size 250",
        stack::ACCOUNT,
        stack::USER
    );
    let out = add(&st.db.url(), YEARLY, &rest);
    let id: Uuid = ok(&out).trim().parse().unwrap();
    let pool = st.db.pool.clone();
    make_due(&pool, id, db_now(&pool).await - time::Duration::MINUTE).await;
    st.spawn_worker("w1");
    st.spawn_worker("w2");

    let first = wait_run(&st, id, 1).await;
    let row = st.wait_succeeded(first, MINUTE).await;
    assert_eq!(row.total_processed, 1_000);
    assert_eq!(
        st.object_ids(&row.output_key).await,
        st.expected_ids(stack::ACCOUNT)
    );
    // Both loops kept checking after the run was due; still one job.
    for w in ["w1", "w2"] {
        amqp::wait_until(
            &format!("{w} to check the schedules 3 times"),
            MINUTE,
            || {
                let log = std::fs::read_to_string(st.log_path(w)).unwrap_or_default();
                log.matches("schedules checked").count() >= 3
            },
        )
        .await;
    }
    assert_eq!(schedules::runs(&pool, id).await.unwrap().len(), 1);
    // Its message was published (confirmed) and recognised as the job already recorded.
    amqp::wait_until("the run's message to be consumed", MINUTE, || {
        st.all_logs().contains("duplicate delivery of a known job")
    })
    .await;

    make_due(&pool, id, db_now(&pool).await - time::Duration::MINUTE).await;
    let second = wait_run(&st, id, 2).await;
    let row2 = st.wait_succeeded(second, MINUTE).await;
    let since = row2
        .spec
        .as_ref()
        .unwrap()
        .updated_after
        .as_deref()
        .unwrap();
    assert_eq!(OffsetDateTime::parse(since, &Rfc3339).ok(), row.started_at);
    // The simulator's contacts were all updated long before the first run started.
    assert_eq!(row2.total_processed, 0);
    assert_eq!(schedules::runs(&pool, id).await.unwrap().len(), 2);
    assert!(st.worker_alive("w1") && st.worker_alive("w2"));
}

/// The job id of the schedule's `n`th run, once it exists.
async fn wait_run(st: &stack::Stack, id: Uuid, n: usize) -> Uuid {
    let deadline = std::time::Instant::now() + MINUTE;
    loop {
        let runs = schedules::runs(&st.db.pool, id).await.unwrap();
        if runs.len() >= n {
            return runs[n - 1].0;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run {n} of schedule {id} not enqueued; logs:\n{}",
            stack::tail(&st.all_logs(), 4000)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
