//! `cc-export enqueue` end to end: the binary publishes, a consumer receives exactly the JSON it
//! sent (and it parses to the job asked for); an invalid job is refused before anything is sent.

#[path = "common/amqp.rs"]
mod amqp;

use std::process::{Command, Output};
use std::time::Duration;

use amqp::{Scripted, TestQueue, wait_until, within};
use cc_export::encode::Format;
use cc_export::queue::{self, ConsumerOptions};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn enqueue(q: &TestQueue, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cc-export"))
        .arg("enqueue")
        .args(args)
        .env("AMQP_URL", amqp::amqp_url())
        .env("EXPORT_QUEUE", &q.name)
        .env("EXPORT_PREFIX", "exports/")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_receives_exactly_what_enqueue_sent() {
    let q = TestQueue::new().await;
    let job = Uuid::new_v4().to_string();
    let out = enqueue(
        &q,
        &[
            "--account",
            "12345",
            "--user",
            "user_abc",
            "--job-id",
            &job,
            "--batch-size",
            "250",
            "--format",
            "ndjson",
            "--gzip",
            "--lists",
            "l1,l2",
            "--updated-after",
            "2024-01-31T00:00:00Z",
            "--last-cursor",
            "bGltaXQ9MQ==",
            "--total-processed",
            "500",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{job}\n"));

    let handler = Scripted::acking(Duration::ZERO);
    let shutdown = CancellationToken::new();
    let (settings, h, token) = (q.settings(), handler.clone(), shutdown.clone());
    let task = tokio::spawn(async move {
        queue::run_with(&settings, &ConsumerOptions::new(1), h, token).await
    });
    wait_until("the job", Duration::from_secs(10), || {
        handler.seen().len() == 1
    })
    .await;
    shutdown.cancel();
    within("shutdown", Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();

    let body = handler.seen().remove(0);
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        sent,
        json!({
            "type": "constantcontact-export", "job_id": job, "account_id": "12345",
            "user_id": "user_abc", "batch_size": 250, "last_cursor": "bGltaXQ9MQ==",
            "total_processed": 500, "format": "ndjson", "gzip": true, "columns": null,
            "lists": ["l1", "l2"], "updated_after": "2024-01-31T00:00:00Z", "output_key": null
        })
    );
    let spec = queue::parse(&body, Some(&job), "exports/").unwrap();
    assert_eq!(spec.job_id.to_string(), job);
    assert_eq!(spec.format, Format::Ndjson);
    assert_eq!(spec.output_key, format!("exports/12345/{job}.ndjson.gz"));
}

#[tokio::test]
async fn an_invalid_job_is_refused_before_sending() {
    let q = TestQueue::new().await;
    for (args, reason) in [
        (
            &["--batch-size", "501"][..],
            "batch_size must be an integer in 1..=500, got 501",
        ),
        (
            &["--output-key", "../x.csv"][..],
            "output_key must not contain '.' or '..' segments",
        ),
        (
            &["--updated-after", "yesterday"][..],
            "updated_after must be an RFC 3339 date-time",
        ),
    ] {
        let mut all = vec!["--account", "12345", "--user", "u"];
        all.extend_from_slice(args);
        let out = enqueue(&q, &all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(reason), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    assert_eq!(q.count(&q.name).await, 0, "nothing was sent");
}

#[tokio::test]
async fn an_unreachable_broker_fails_without_showing_the_password() {
    let q = TestQueue::new().await;
    let out = Command::new(env!("CARGO_BIN_EXE_cc-export"))
        .args(["enqueue", "--account", "1", "--user", "u"])
        .env("AMQP_URL", "amqp://guest:hunter2@127.0.0.1:1/%2f")
        .env("EXPORT_QUEUE", &q.name)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot connect to RabbitMQ at amqp://127.0.0.1:1/%2f"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(out.stdout.is_empty());
}
