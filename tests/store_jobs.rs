//! The job table against a real Postgres: recording, leases, lifecycle, operators' controls.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use cc_export::encode::Format;
use cc_export::job::JobSpec;
use cc_export::sink::{PartLedger, PartRecord, Position};
use cc_export::store::{
    self, JobStatus, LeaseState, PgPartLedger, RecordOutcome, StoreError, jobs,
};
use common::db::fresh_pool;
use sqlx::PgPool;
use uuid::Uuid;

const LEASE: Duration = Duration::from_secs(60);

fn spec(account: &str) -> JobSpec {
    let job_id = Uuid::new_v4();
    JobSpec {
        job_id,
        account_id: account.into(),
        user_id: "u1".into(),
        batch_size: 500,
        last_cursor: None,
        total_processed: 0,
        format: Format::Csv,
        gzip: false,
        columns: None,
        lists: vec![],
        updated_after: None,
        output_key: format!("exports/{account}/{job_id}.csv"),
    }
}

async fn queued(pool: &PgPool, account: &str) -> Uuid {
    let s = spec(account);
    jobs::record(pool, &s, 3).await.unwrap();
    s.job_id
}

/// Makes the job's lease look expired, as if its worker died.
async fn expire_lease(pool: &PgPool, id: Uuid) {
    sqlx::query(
        "UPDATE export_jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
}

fn part(n: i32) -> PartRecord {
    PartRecord {
        part_number: n,
        etag: format!("\"etag-{n}\""),
        rows: 100,
        bytes: 5_000,
    }
}

fn pos(cursor: Option<&str>, rows: u64, pages: u64) -> Position {
    Position {
        next_cursor: cursor.map(str::to_owned),
        rows,
        pages,
        ..Position::default()
    }
}

#[tokio::test]
async fn record_is_idempotent_and_seeds_only_a_new_row() {
    let pool = fresh_pool().await;
    let mut s = spec("acct-1");
    s.last_cursor = Some("producer-cursor".into());
    s.total_processed = 1500;
    let RecordOutcome::Created(row) = jobs::record(&pool, &s, 5).await.unwrap() else {
        panic!("first record creates");
    };
    assert_eq!(row.status, JobStatus::Queued);
    assert_eq!(row.last_cursor.as_deref(), Some("producer-cursor"));
    assert_eq!(row.total_processed, 1500);
    assert_eq!(row.output_key, s.output_key);
    assert_eq!(row.spec.as_ref(), Some(&s));
    assert_eq!(row.max_attempts, 5);

    // The worker checkpoints further; a redelivery with the producer's older point changes nothing.
    let claimed = jobs::claim(&pool, s.job_id, "w1", LEASE)
        .await
        .unwrap()
        .unwrap();
    let ledger = PgPartLedger::new(pool.clone(), s.job_id, "w1", LEASE);
    ledger.begin_upload("up-1").await.unwrap();
    ledger
        .record_part(&part(1), &pos(Some("c-2000"), 2000, 4), 5000)
        .await
        .unwrap();
    assert_eq!(claimed.attempts, 1);
    let RecordOutcome::Existing(row) = jobs::record(&pool, &s, 5).await.unwrap() else {
        panic!("duplicate is Existing");
    };
    assert_eq!(row.last_cursor.as_deref(), Some("c-2000"));
    assert_eq!(row.total_processed, 2000);
    assert_eq!(row.status, JobStatus::Running);
}

#[tokio::test]
async fn concurrent_claimers_take_each_job_once() {
    let pool = fresh_pool().await;
    let mut ids = HashSet::new();
    for _ in 0..20 {
        ids.insert(queued(&pool, "acct").await);
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(row) = jobs::claim_next(&pool, &format!("w{w}"), LEASE)
                .await
                .unwrap()
            {
                got.push(row.id);
            }
            got
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    assert_eq!(claimed.len(), 20, "each job claimed exactly once");
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), ids);
    assert!(
        jobs::claim_next(&pool, "late", LEASE)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn claim_next_takes_oldest_and_respects_run_after() {
    let pool = fresh_pool().await;
    let first = queued(&pool, "a").await;
    let second = queued(&pool, "a").await;
    let got = jobs::claim_next(&pool, "w", LEASE).await.unwrap().unwrap();
    assert_eq!(got.id, first);
    assert_eq!(got.lease_owner.as_deref(), Some("w"));
    assert!(got.started_at.is_some() && got.heartbeat_at.is_some());
    // A transient failure puts it back, but not before its delay.
    let st = jobs::retry_later(&pool, first, "w", "503 from API", Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(st, JobStatus::Queued);
    let got = jobs::claim_next(&pool, "w", LEASE).await.unwrap().unwrap();
    assert_eq!(got.id, second);
    assert!(jobs::claim_next(&pool, "w", LEASE).await.unwrap().is_none());
    assert!(
        jobs::claim(&pool, first, "w", LEASE)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn expired_lease_is_taken_over_and_the_old_runner_can_change_nothing() {
    let pool = fresh_pool().await;
    let id = queued(&pool, "acct").await;
    jobs::claim_next(&pool, "old", LEASE)
        .await
        .unwrap()
        .unwrap();
    let old = PgPartLedger::new(pool.clone(), id, "old", LEASE);
    old.begin_upload("up-old").await.unwrap();
    old.record_part(&part(1), &pos(Some("c1"), 100, 1), 5000)
        .await
        .unwrap();
    // A live lease is not taken.
    assert!(
        jobs::claim_next(&pool, "new", LEASE)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        jobs::heartbeat(&pool, id, "old", LEASE).await.unwrap(),
        LeaseState::Held
    );

    expire_lease(&pool, id).await;
    let row = jobs::claim_next(&pool, "new", LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.id, row.attempts), (id, 2));
    assert_eq!(
        row.position(),
        pos(Some("c1"), 100, 1),
        "checkpoint survives takeover"
    );

    // Every write of the old runner is refused with LeaseLost.
    assert_eq!(
        jobs::heartbeat(&pool, id, "old", LEASE).await.unwrap(),
        LeaseState::Lost {
            status: JobStatus::Running
        }
    );
    let err = old
        .record_part(&part(2), &pos(Some("c2"), 200, 2), 10_000)
        .await
        .unwrap_err();
    assert!(StoreError::lease_lost_in(&err), "{err:#}");
    assert!(StoreError::lease_lost_in(
        &old.begin_upload("up-x").await.unwrap_err()
    ));
    assert!(StoreError::lease_lost_in(&old.reset().await.unwrap_err()));
    assert!(
        jobs::fail(&pool, id, "old", "x")
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    assert!(
        jobs::succeed(&pool, id, "old", 1, 1)
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    assert!(
        jobs::release(&pool, id, "old")
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    assert!(
        jobs::retry_later(&pool, id, "old", "x", LEASE)
            .await
            .unwrap_err()
            .is_lease_lost()
    );

    // record_part is atomic: the refused part left neither the part nor the checkpoint.
    let row = jobs::get(&pool, id).await.unwrap().unwrap();
    assert_eq!(row.position(), pos(Some("c1"), 100, 1));
    assert_eq!(row.lease_owner.as_deref(), Some("new"));
    let state = PgPartLedger::new(pool.clone(), id, "new", LEASE)
        .load()
        .await
        .unwrap();
    assert_eq!(state.upload_id.as_deref(), Some("up-old"));
    assert_eq!(state.parts, vec![part(1)]);
}

#[tokio::test]
async fn parts_checkpoint_and_finish() {
    let pool = fresh_pool().await;
    let id = queued(&pool, "acct").await;
    jobs::claim(&pool, id, "w", LEASE).await.unwrap().unwrap();
    let ledger = PgPartLedger::new(pool.clone(), id, "w", LEASE);
    assert_eq!(ledger.load().await.unwrap(), Default::default());
    ledger.begin_upload("up-1").await.unwrap();
    ledger
        .record_part(&part(1), &pos(Some("c1"), 100, 1), 5_000)
        .await
        .unwrap();
    ledger
        .record_part(&part(2), &pos(None, 200, 2), 10_000)
        .await
        .unwrap();
    let row = jobs::get(&pool, id).await.unwrap().unwrap();
    assert!(row.fetch_done && row.last_cursor.is_none());
    assert_eq!(
        (row.total_processed, row.pages, row.output_bytes),
        (200, 2, 10_000)
    );
    let state = ledger.load().await.unwrap();
    assert_eq!(state.parts, vec![part(1), part(2)]);

    // A restart (cursor expired) forgets everything and counts.
    ledger.reset().await.unwrap();
    let row = jobs::get(&pool, id).await.unwrap().unwrap();
    assert_eq!(
        (row.upload_id, row.total_processed, row.restarts),
        (None, 0, 1)
    );
    assert!(ledger.load().await.unwrap().parts.is_empty());
    ledger.begin_upload("up-2").await.unwrap();
    ledger
        .record_part(&part(1), &pos(None, 100, 1), 5_000)
        .await
        .unwrap();
    jobs::succeed(&pool, id, "w", 100, 5_000).await.unwrap();
    let row = jobs::get(&pool, id).await.unwrap().unwrap();
    assert_eq!(row.status, JobStatus::Succeeded);
    assert!(row.upload_id.is_none() && row.finished_at.is_some() && row.lease_owner.is_none());
    assert!(jobs::orphaned_uploads(&pool, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn release_gives_the_attempt_back_and_retry_later_fails_at_max_attempts() {
    let pool = fresh_pool().await;
    let id = queued(&pool, "acct").await; // max_attempts 3
    jobs::claim(&pool, id, "w", LEASE).await.unwrap().unwrap();
    jobs::release(&pool, id, "w").await.unwrap();
    let row = jobs::get(&pool, id).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.attempts, row.lease_owner),
        (JobStatus::Queued, 0, None)
    );
    for attempt in 1..=3 {
        let row = jobs::claim(&pool, id, "w", LEASE).await.unwrap().unwrap();
        assert_eq!(row.attempts, attempt);
        let st = jobs::retry_later(&pool, id, "w", &format!("boom {attempt}"), Duration::ZERO)
            .await
            .unwrap();
        let want = if attempt < 3 {
            JobStatus::Queued
        } else {
            JobStatus::Failed
        };
        assert_eq!(st, want);
    }
    let row = jobs::get(&pool, id).await.unwrap().unwrap();
    assert_eq!(row.error.as_deref(), Some("boom 3"));
    assert!(row.finished_at.is_some());
    assert!(jobs::claim(&pool, id, "w", LEASE).await.unwrap().is_none());
}

#[tokio::test]
async fn a_job_whose_workers_keep_dying_fails_instead_of_looping() {
    let pool = fresh_pool().await;
    let id = queued(&pool, "acct").await; // max_attempts 3
    for _ in 0..3 {
        jobs::claim_next(&pool, "w", LEASE).await.unwrap().unwrap();
        expire_lease(&pool, id).await;
    }
    assert!(jobs::claim_next(&pool, "w", LEASE).await.unwrap().is_none());
    let row = jobs::get(&pool, id).await.unwrap().unwrap();
    assert_eq!(row.status, JobStatus::Failed);
    assert!(row.error.unwrap().contains("lease expired"));
}

#[tokio::test]
async fn cancel_retry_and_orphaned_uploads() {
    let pool = fresh_pool().await;
    let id = queued(&pool, "acct").await;
    jobs::claim(&pool, id, "w", LEASE).await.unwrap().unwrap();
    let ledger = PgPartLedger::new(pool.clone(), id, "w", LEASE);
    ledger.begin_upload("up-1").await.unwrap();
    ledger
        .record_part(&part(1), &pos(Some("c1"), 100, 1), 5_000)
        .await
        .unwrap();

    let row = jobs::cancel(&pool, id).await.unwrap();
    assert_eq!(row.status, JobStatus::Cancelled);
    assert!(row.finished_at.is_some());
    assert_eq!(row.upload_id.as_deref(), Some("up-1"));
    // The runner notices at its next heartbeat or write.
    assert_eq!(
        jobs::heartbeat(&pool, id, "w", LEASE).await.unwrap(),
        LeaseState::Lost {
            status: JobStatus::Cancelled
        }
    );
    assert!(StoreError::lease_lost_in(
        &ledger
            .record_part(&part(2), &pos(None, 200, 2), 9)
            .await
            .unwrap_err()
    ));
    assert!(matches!(
        jobs::cancel(&pool, id).await,
        Err(StoreError::WrongStatus { .. })
    ));
    assert!(matches!(
        jobs::cancel(&pool, Uuid::new_v4()).await,
        Err(StoreError::NotFound { .. })
    ));
    let key = row.output_key.clone();
    assert_eq!(
        jobs::orphaned_uploads(&pool, 10).await.unwrap(),
        vec![(id, key.clone(), "up-1".to_owned())]
    );

    // Retry before the sweeper ran: the job starts over, the old upload stays findable.
    let row = jobs::retry(&pool, id).await.unwrap();
    assert_eq!(
        (row.status, row.attempts, row.error.clone()),
        (JobStatus::Queued, 0, None)
    );
    assert_eq!(row.position(), Position::default());
    assert!(row.upload_id.is_none() && row.started_at.is_none() && row.finished_at.is_none());
    assert_eq!(
        jobs::orphaned_uploads(&pool, 10).await.unwrap(),
        vec![(id, key.clone(), "up-1".to_owned())]
    );
    assert!(matches!(
        jobs::retry(&pool, id).await,
        Err(StoreError::WrongStatus { .. })
    ));

    // The new run's upload is never mistaken for the orphan.
    jobs::claim(&pool, id, "w2", LEASE).await.unwrap().unwrap();
    let ledger = PgPartLedger::new(pool.clone(), id, "w2", LEASE);
    assert!(ledger.load().await.unwrap().parts.is_empty());
    ledger.begin_upload("up-2").await.unwrap();
    assert!(!jobs::clear_upload(&pool, id, "up-2").await.unwrap());
    assert!(jobs::clear_upload(&pool, id, "up-1").await.unwrap());
    assert!(jobs::orphaned_uploads(&pool, 10).await.unwrap().is_empty());
    assert_eq!(
        jobs::get(&pool, id)
            .await
            .unwrap()
            .unwrap()
            .upload_id
            .as_deref(),
        Some("up-2")
    );

    // A failed job's upload is swept, then cleared.
    jobs::fail(&pool, id, "w2", "permanent: 403").await.unwrap();
    assert_eq!(
        jobs::orphaned_uploads(&pool, 10).await.unwrap(),
        vec![(id, key, "up-2".to_owned())]
    );
    assert!(jobs::clear_upload(&pool, id, "up-2").await.unwrap());
    assert!(jobs::orphaned_uploads(&pool, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn replaced_upload_becomes_an_orphan() {
    let pool = fresh_pool().await;
    let id = queued(&pool, "acct").await;
    jobs::claim(&pool, id, "w", LEASE).await.unwrap().unwrap();
    let ledger = PgPartLedger::new(pool.clone(), id, "w", LEASE);
    ledger.begin_upload("up-a").await.unwrap();
    ledger.begin_upload("up-a").await.unwrap(); // idempotent
    ledger.begin_upload("up-b").await.unwrap();
    let orphans = jobs::orphaned_uploads(&pool, 10).await.unwrap();
    assert_eq!(orphans.len(), 1);
    assert_eq!(orphans[0].2, "up-a");
}

#[tokio::test]
async fn rejected_messages_are_recorded_without_harming_a_job() {
    let pool = fresh_pool().await;
    let raw = serde_json::json!({"type": "constantcontact-export", "batch_size": 9000});
    let unknown = Uuid::new_v4();
    let row = jobs::record_rejected(
        &pool,
        unknown,
        Some("acct"),
        None,
        raw.clone(),
        "batch_size out of range",
    )
    .await
    .unwrap();
    assert_eq!(row.status, JobStatus::Failed);
    assert_eq!(
        (
            row.account_id.as_str(),
            row.user_id.as_str(),
            row.output_key.as_str()
        ),
        ("acct", "", "")
    );
    assert!(row.spec.is_none());
    assert!(row.error.unwrap().contains("batch_size out of range"));
    assert!(matches!(
        jobs::retry(&pool, unknown).await,
        Err(StoreError::WrongStatus { .. })
    ));
    // It lists alongside the valid ones.
    queued(&pool, "acct").await;
    assert_eq!(
        jobs::list(&pool, None, Some("acct"), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        jobs::list(&pool, Some(JobStatus::Failed), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // A running job keeps its status and error; the reason is still kept.
    let id = queued(&pool, "acct").await;
    jobs::claim(&pool, id, "w", LEASE).await.unwrap().unwrap();
    let row = jobs::record_rejected(&pool, id, None, None, raw.clone(), "bad redelivery")
        .await
        .unwrap();
    assert_eq!((row.status, row.error), (JobStatus::Running, None));
    let rej = jobs::rejections(&pool, id).await.unwrap();
    assert_eq!(rej.len(), 1);
    assert_eq!(
        (rej[0].reason.as_str(), &rej[0].raw),
        ("bad redelivery", &raw)
    );
    assert_eq!(
        jobs::heartbeat(&pool, id, "w", LEASE).await.unwrap(),
        LeaseState::Held
    );

    // A queued one keeps its status and gets the reason as its error.
    let id = queued(&pool, "acct").await;
    let row = jobs::record_rejected(&pool, id, None, None, raw, "bad redelivery")
        .await
        .unwrap();
    assert_eq!(row.status, JobStatus::Queued);
    assert!(row.error.unwrap().contains("bad redelivery"));
}

#[tokio::test]
async fn migrate_is_idempotent() {
    let pool = fresh_pool().await;
    store::migrate(&pool).await.unwrap();
}

#[tokio::test]
async fn a_spec_that_no_longer_parses_still_lists() {
    let pool = fresh_pool().await;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO export_jobs (id, account_id, user_id, spec, output_key)
         VALUES ($1, 'acct', 'u', '{\"from\": \"an older version\"}', 'k')",
    )
    .bind(id)
    .execute(&pool)
    .await
    .unwrap();
    let rows = jobs::list(&pool, None, None, 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].spec.is_none());
    assert!(
        rows[0]
            .spec_error
            .as_deref()
            .unwrap()
            .contains("does not parse")
    );
    jobs::cancel(&pool, id).await.unwrap();
    assert!(matches!(
        jobs::retry(&pool, id).await,
        Err(StoreError::WrongStatus { .. })
    ));
}

#[tokio::test]
async fn a_worker_does_not_reclaim_its_own_running_job_whose_lease_lapsed() {
    // Postgres away longer than the lease: the run goes on, its heartbeat could not extend it.
    let pool = fresh_pool().await;
    let id = queued(&pool, "acct").await;
    jobs::claim_next(&pool, "w", LEASE).await.unwrap().unwrap();
    expire_lease(&pool, id).await;
    let again = jobs::claim_next_except(&pool, "w", LEASE, &[id])
        .await
        .unwrap();
    assert!(
        again.is_none(),
        "a second run of the job in the same process"
    );
    // The lapsed run still holds the job; another worker may take it over.
    assert_eq!(
        jobs::heartbeat(&pool, id, "w", LEASE).await.unwrap(),
        LeaseState::Held
    );
    expire_lease(&pool, id).await;
    let other = jobs::claim_next_except(&pool, "other", LEASE, &[])
        .await
        .unwrap();
    assert_eq!(other.map(|r| (r.id, r.attempts)), Some((id, 2)));
}
