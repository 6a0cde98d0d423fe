//! Hostile input through a real worker: a corpus of bad messages interleaved with good jobs and a
//! duplicate of a running job. Every bad one is dead-lettered with its reason, every good one
//! completes exactly once, no object lands outside the prefix, and the worker never restarts.

#[path = "common/amqp.rs"]
mod amqp;
#[path = "common/corpus.rs"]
mod corpus;
#[path = "common/db.rs"]
mod db;
#[path = "common/report.rs"]
mod report;
#[path = "common/s3.rs"]
mod s3_common;
#[path = "common/stack.rs"]
mod stack;

use std::collections::HashMap;
use std::time::Duration;

use cc_export::queue::{HEADER_ERROR, header_str};
use cc_export::store::jobs::JobStatus;
use report::{Audit, Row};
use stack::{Stack, USER};

const MINUTE: Duration = Duration::from_secs(60);
const CONTACTS: u64 = 2_000;

#[tokio::test(flavor = "multi_thread")]
async fn a_corpus_of_bad_messages_is_dead_lettered_and_good_jobs_complete_once() {
    let mut st = Stack::start(CONTACTS, 20).await;
    let accounts: Vec<String> = (0..6).map(|i| format!("acct-good-{i}")).collect();
    for a in &accounts {
        st.put_tokens(a, USER).await;
    }
    st.put_tokens("acct-hostile", USER).await;
    st.spawn_worker("w1");
    let pid_alive_at_start = st.worker_alive("w1");

    // A slow job first (40 pages at 20 rps), so its duplicate arrives while it runs.
    let running = st.publish_job(&accounts[0], 50).await;
    st.wait_job(running, MINUTE, "running", |r| {
        r.status == JobStatus::Running
    })
    .await;
    st.publish_job_with_id(running, &accounts[0], 50).await;

    let corpus = corpus::bad_messages();
    let mut good = vec![(running, accounts[0].clone())];
    for (i, bad) in corpus.iter().enumerate() {
        st.publish(&bad.body).await;
        // A good job after every seventh bad message.
        if i % 7 == 6 {
            let a = &accounts[good.len() % accounts.len()];
            good.push((st.publish_job(a, 500).await, a.clone()));
        }
    }
    let a = &accounts[5];
    good.push((st.publish_job(a, 500).await, a.clone()));

    let mut audit = Audit::default();
    for (id, account) in &good {
        let row = st.wait_succeeded(*id, 2 * MINUTE).await;
        assert_eq!(row.attempts, 1, "job {id} ran once");
        assert!(row.output_key.starts_with("exports/"), "{}", row.output_key);
        let a = Audit::of(
            &st.object_ids(&row.output_key).await,
            &st.expected_ids(account),
        );
        a.assert_exact(&format!("good job {id}"));
        audit = audit.merge(a);
    }
    // The duplicate of the running job was acknowledged, not dead-lettered, and not run again.
    assert_eq!(
        st.sim.stats().contacts_served,
        CONTACTS * good.len() as u64,
        "each good job's contacts fetched once"
    );

    // Every bad message is in the dead-letter queue, each with the reason it deserves.
    let expected: HashMap<&[u8], &corpus::Bad> =
        corpus.iter().map(|b| (b.body.as_slice(), b)).collect();
    assert_eq!(expected.len(), corpus.len(), "corpus bodies are distinct");
    let mut seen = HashMap::new();
    for _ in 0..corpus.len() {
        let m = st
            .queue
            .get(&st.queue.dlq(), Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("only {} of {} dead-lettered", seen.len(), corpus.len()));
        let headers = m.delivery.properties.headers().clone().unwrap_or_default();
        let reason =
            String::from_utf8_lossy(header_str(&headers, HEADER_ERROR).unwrap_or_default())
                .into_owned();
        let bad = expected
            .get(m.delivery.data.as_slice())
            .unwrap_or_else(|| panic!("unexpected dead letter, reason {reason:?}"));
        assert!(
            reason.contains(bad.reason),
            "{}: reason {reason:?} lacks {:?}",
            bad.name,
            bad.reason
        );
        assert!(!reason.contains('\n'), "{}: one-line reason", bad.name);
        assert!(
            seen.insert(bad.name, reason).is_none(),
            "{} twice",
            bad.name
        );
    }
    assert!(
        st.queue
            .get(&st.queue.dlq(), Duration::from_millis(500))
            .await
            .is_none(),
        "nothing else dead-lettered (not the duplicate of the running job)"
    );

    // Rejections that name a job are recorded on its row.
    let mut rows = 0;
    for bad in corpus.iter().filter(|b| b.job_id.is_some()) {
        let id = bad.job_id.unwrap();
        let row = st
            .job(id)
            .await
            .unwrap_or_else(|| panic!("{}: no row", bad.name));
        assert_eq!(row.status, JobStatus::Failed, "{}", bad.name);
        assert!(
            row.error.unwrap_or_default().contains(bad.reason),
            "{}",
            bad.name
        );
        rows += 1;
    }

    // Nothing outside the prefix; exactly the good jobs' objects.
    let keys = st.all_keys().await;
    assert!(keys.iter().all(|k| k.starts_with("exports/")), "{keys:?}");
    assert_eq!(keys.len(), good.len(), "{keys:?}");
    assert!(s3_common::uploads(&st.s3, &st.bucket).await.is_empty());
    assert!(
        pid_alive_at_start && st.worker_alive("w1"),
        "the worker never restarted"
    );
    assert_eq!(
        st.queue.count(&st.queue.name).await,
        0,
        "every delivery settled"
    );

    let logs = st.all_logs();
    let tokens = st.sim.issued_tokens();
    assert!(
        tokens.iter().all(|t| !logs.contains(t.as_str())),
        "a token reached the logs"
    );

    report::record(&Row {
        fault: "Hostile messages (corpus + duplicate of a running job)".into(),
        injected: corpus.len() as u64 + 1,
        jobs: good.len() as u64,
        bad_inputs: corpus.len() as u64,
        audit,
        note: format!(
            "{} dead-lettered with the right reason, {rows} recorded on a job row; duplicate acked, run once; one worker pid throughout; {} keys, all under exports/",
            seen.len(),
            keys.len()
        ),
    });
}
