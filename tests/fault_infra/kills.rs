//! Process faults of the suite: workers SIGKILLed at random instants over several jobs, and a
//! SIGTERM drain of two busy workers.

use std::time::{Duration, Instant};

use cc_export::store::jobs::JobStatus;

use super::report::{self, Row};
use super::stack::{Stack, USER};
use super::{MINUTE, audit_jobs};

pub async fn sigkill_case(long: bool) {
    let (jobs_n, kills_wanted, contacts) = if long {
        (6, 60, 60_000)
    } else {
        (4, 22, 30_000)
    };
    let mut st = Stack::start(contacts, 20).await;
    st.env.push(("WORKER_MAX_ATTEMPTS".into(), "100".into()));
    let mut jobs = Vec::new();
    for i in 1..=jobs_n {
        let account = format!("acct-k{i}");
        st.put_tokens(&account, USER).await;
        jobs.push((st.publish_job(&account, 250).await, account));
    }
    let mut live = vec!["w1".to_owned(), "w2".to_owned()];
    for w in &live {
        st.spawn_worker(w);
    }
    let (mut kills, mut holding, mut next) = (0, 0, 3);
    let started = Instant::now();
    while kills < kills_wanted {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(500..2_500))).await;
        let mut done = true;
        let victim = live.swap_remove(fastrand::usize(..live.len()));
        for (id, _) in &jobs {
            let row = st.job(*id).await.unwrap();
            done &= row.status == JobStatus::Succeeded;
            holding += usize::from(row.lease_owner.as_deref() == Some(victim.as_str()));
        }
        if done {
            live.push(victim);
            break;
        }
        st.kill_worker(&victim);
        kills += 1;
        let name = format!("w{next}");
        next += 1;
        st.spawn_worker(&name);
        live.push(name);
    }
    let killing = started.elapsed();
    assert!(
        kills >= kills_wanted,
        "the exports finished after {kills} kills, before {kills_wanted} landed"
    );
    let audit = audit_jobs(&st, &jobs, 3 * MINUTE).await;
    let attempts: Vec<i32> = {
        let mut v = Vec::new();
        for (id, _) in &jobs {
            v.push(st.job(*id).await.unwrap().attempts);
        }
        v
    };
    report::record(&Row {
        fault: "worker SIGKILL at random points".into(),
        injected: kills as u64,
        jobs: jobs.len() as u64,
        audit,
        note: format!(
            "{kills} kills over {:.0} s ({holding} job leases held by the victims at the \
             kills; lease 4 s), 2 workers at a time, attempts per job {attempts:?}",
            killing.as_secs_f64()
        ),
        ..Row::default()
    });
}

pub async fn sigterm_case() {
    let mut st = Stack::start(40_000, 40).await;
    let mut jobs = Vec::new();
    for i in 1..=4 {
        let account = format!("acct-t{i}");
        st.put_tokens(&account, USER).await;
        jobs.push((st.publish_job(&account, 250).await, account));
    }
    st.spawn_worker("w1");
    st.spawn_worker("w2");
    // All four running (two per worker), at least two with a checkpoint to hand back.
    let deadline = Instant::now() + MINUTE;
    loop {
        let (mut running, mut checkpointed) = (0, 0);
        for (id, _) in &jobs {
            let Some(row) = st.job(*id).await else {
                continue; // not recorded yet
            };
            running += usize::from(row.status == JobStatus::Running);
            checkpointed += usize::from(row.total_processed > 0);
        }
        if running == 4 && checkpointed >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{running} running, {checkpointed} checkpointed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let signalled = Instant::now();
    st.signal_worker("w1", "TERM");
    st.signal_worker("w2", "TERM");
    for w in ["w1", "w2"] {
        let status = st.terminate_worker(w, Duration::from_secs(30));
        assert!(status.success(), "{w} exit status {status:?}");
    }
    let drained_in = signalled.elapsed();
    let mut progress = Vec::new();
    for (id, _) in &jobs {
        let row = st.job(*id).await.unwrap();
        assert_eq!(row.status, JobStatus::Queued, "job {id} handed back");
        assert_eq!(
            (
                row.lease_owner.as_deref(),
                row.lease_expires_at,
                row.attempts
            ),
            (None, None, 0),
            "job {id}: lease released, attempt given back"
        );
        progress.push(row.total_processed);
    }
    st.spawn_worker("w3");
    st.spawn_worker("w4");
    let audit = audit_jobs(&st, &jobs, 3 * MINUTE).await;
    report::record(&Row {
        fault: "SIGTERM drain of two busy workers".into(),
        injected: 2,
        jobs: jobs.len() as u64,
        audit,
        note: format!(
            "both exited 0 within {:.1} s; 4 jobs back to queued (lease released, attempt \
             given back; checkpoints {progress:?}); two new workers finished them",
            drained_in.as_secs_f64()
        ),
        ..Row::default()
    });
}
