//! The S3 sink against a real S3 server (moto), page by page: when parts go up and what the
//! ledger records with them, the single-request path, restart, abort, and completion that
//! survives a crash between CompleteMultipartUpload and the ledger.

#[path = "common/s3.rs"]
mod s3_common;

use std::sync::Arc;

use cc_export::sink::s3::{self, S3Location, S3Sink, S3SinkError, S3SinkOptions};
use cc_export::sink::{PageSink, PartLedger, Position};
use s3_common::{Call, MIB, MemoryLedger};

/// moto refuses parts under 5 MiB at CompleteMultipartUpload, as S3 does.
const PART: u64 = 5 * MIB;
const KEY: &str = "exports/acct/job.ndjson";

fn options(job_id: &str) -> S3SinkOptions {
    S3SinkOptions {
        part_size: PART,
        job_id: job_id.into(),
        content_type: Some("application/x-ndjson".into()),
    }
}

/// Page `i`: distinct bytes, 10 rows each, a cursor naming the next page.
fn page(i: u64, len: usize) -> (Vec<u8>, Position) {
    let line = format!("{{\"page\":{i}}}\n");
    let body = line.repeat(len / line.len() + 1).into_bytes()[..len].to_vec();
    let at = Position {
        next_cursor: Some(format!("cursor-{}", i + 1)),
        rows: (i + 1) * 10,
        pages: i + 1,
        ..Position::default()
    };
    (body, at)
}

async fn open(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    job: &str,
    ledger: &Arc<MemoryLedger>,
) -> S3Sink {
    S3Sink::open(
        client.clone(),
        S3Location::new(bucket, KEY),
        options(job),
        ledger.clone() as Arc<dyn PartLedger>,
    )
    .await
    .unwrap()
}

/// Writes pages `from..to` of `len` bytes; returns their bytes and the last position.
async fn write_pages(sink: &mut S3Sink, from: u64, to: u64, len: usize) -> (Vec<u8>, Position) {
    let mut all = Vec::new();
    let mut last = Position::default();
    for i in from..to {
        let (body, at) = page(i, len);
        sink.write_page(&body, &at).await.unwrap();
        all.extend_from_slice(&body);
        last = at;
    }
    (all, last)
}

fn last_page(mut at: Position) -> Position {
    at.next_cursor = None;
    at
}

#[tokio::test]
async fn parts_go_up_at_the_threshold_with_the_position_after_their_last_page() {
    let client = s3_common::client().await;
    let bucket = s3_common::new_bucket(&client, "threshold").await;
    let ledger = Arc::new(MemoryLedger::default());
    let mut sink = open(&client, &bucket, "job-1", &ledger).await;
    let len = 700 * 1024;
    let (expected, last) = write_pages(&mut sink, 0, 20, len).await;

    // Independently: a part closes on the first page that brings the buffer to 5 MiB.
    let mut want = Vec::new();
    let (mut buffered, mut total, mut part) = (0u64, 0u64, 0);
    for i in 0..20u64 {
        buffered += len as u64;
        if buffered >= PART {
            part += 1;
            total += buffered;
            want.push((part, page(i, len).1, buffered, total));
            buffered = 0;
        }
    }
    assert_eq!(want.len(), 2, "20 pages of 700 KiB make two full parts");
    let calls = ledger.calls();
    let Call::Begin(upload_id) = &calls[0] else {
        panic!("first call: {calls:?}")
    };
    let got: Vec<_> = calls[1..]
        .iter()
        .map(|c| match c {
            Call::Part(p, at, total) => (p.part_number, at.clone(), p.bytes, *total),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(got, want);
    let rows: Vec<u64> = ledger.parts().iter().map(|p| p.rows).collect();
    assert_eq!(rows, vec![80, 80], "8 pages of 10 rows per part");
    assert_eq!(
        sink.buffered_bytes() as u64,
        buffered,
        "the rest waits in memory"
    );
    assert_eq!(
        s3_common::uploads(&client, &bucket).await,
        vec![upload_id.clone()]
    );

    let summary = sink.finish(&last_page(last)).await.unwrap();
    assert_eq!(summary.location, format!("s3://{bucket}/{KEY}"));
    assert_eq!(summary.bytes, expected.len() as u64);
    assert_eq!(
        ledger.parts().len(),
        3,
        "the rest went up as a small last part"
    );
    assert_eq!(s3_common::get(&client, &bucket, KEY).await, expected);
    assert!(s3_common::uploads(&client, &bucket).await.is_empty());
    let meta = s3_common::metadata(&client, &bucket, KEY).await;
    assert_eq!(meta.get("job-id").map(String::as_str), Some("job-1"));
    let tags = s3_common::tags(&client, &bucket, KEY).await;
    assert_eq!(tags.get("rows").map(String::as_str), Some("200"));
}

#[tokio::test]
async fn a_small_export_is_one_put_object_with_metadata_and_rows() {
    let client = s3_common::client().await;
    let bucket = s3_common::new_bucket(&client, "small").await;
    let ledger = Arc::new(MemoryLedger::default());
    let mut sink = open(&client, &bucket, "job-small", &ledger).await;
    let (expected, last) = write_pages(&mut sink, 0, 3, 10_000).await;
    let summary = sink.finish(&last_page(last)).await.unwrap();
    assert_eq!(summary.bytes, 30_000);
    assert!(
        ledger.calls().is_empty(),
        "no upload, no parts: {:?}",
        ledger.calls()
    );
    assert_eq!(s3_common::get(&client, &bucket, KEY).await, expected);
    let meta = s3_common::metadata(&client, &bucket, KEY).await;
    assert_eq!(meta.get("job-id").map(String::as_str), Some("job-small"));
    let tags = s3_common::tags(&client, &bucket, KEY).await;
    assert_eq!(tags.get("rows").map(String::as_str), Some("30"));
    // A second finish on the same sink does not write again (the buffer is gone).
    assert_eq!(sink.finish(&Position::default()).await.unwrap(), summary);
    assert_eq!(s3_common::get(&client, &bucket, KEY).await, expected);
}

#[tokio::test]
async fn an_empty_export_is_an_empty_object() {
    let client = s3_common::client().await;
    let bucket = s3_common::new_bucket(&client, "empty").await;
    let ledger = Arc::new(MemoryLedger::default());
    let mut sink = open(&client, &bucket, "job-empty", &ledger).await;
    let summary = sink.finish(&Position::default()).await.unwrap();
    assert_eq!(summary.bytes, 0);
    assert!(s3_common::get(&client, &bucket, KEY).await.is_empty());
    let tags = s3_common::tags(&client, &bucket, KEY).await;
    assert_eq!(tags.get("rows").map(String::as_str), Some("0"));
}

#[tokio::test]
async fn restart_aborts_the_upload_and_the_object_holds_only_what_came_after() {
    let client = s3_common::client().await;
    let bucket = s3_common::new_bucket(&client, "restart").await;
    let ledger = Arc::new(MemoryLedger::default());
    let mut sink = open(&client, &bucket, "job-r", &ledger).await;
    write_pages(&mut sink, 0, 10, 700 * 1024).await;
    assert_eq!(s3_common::uploads(&client, &bucket).await.len(), 1);
    sink.restart().await.unwrap();
    assert!(s3_common::uploads(&client, &bucket).await.is_empty());
    assert_eq!(ledger.calls().last(), Some(&Call::Reset));
    assert_eq!(ledger.state(), Default::default());
    assert_eq!(sink.buffered_bytes(), 0);

    let (expected, last) = write_pages(&mut sink, 100, 110, 700 * 1024).await;
    sink.finish(&last_page(last)).await.unwrap();
    assert_eq!(s3_common::get(&client, &bucket, KEY).await, expected);
}

#[tokio::test]
async fn abort_removes_the_upload_and_is_idempotent() {
    let client = s3_common::client().await;
    let bucket = s3_common::new_bucket(&client, "abort").await;
    let ledger = Arc::new(MemoryLedger::default());
    let mut sink = open(&client, &bucket, "job-a", &ledger).await;
    write_pages(&mut sink, 0, 10, 700 * 1024).await;
    let upload_id = sink.upload_id().unwrap().to_owned();
    sink.abort().await.unwrap();
    sink.abort().await.unwrap();
    assert!(s3_common::uploads(&client, &bucket).await.is_empty());
    assert!(!s3_common::exists(&client, &bucket, KEY).await);
    assert_eq!(ledger.state(), Default::default());
    // The sweeper's function: a gone upload is not an error.
    assert!(
        !s3::abort_upload(&client, &bucket, KEY, &upload_id)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn completion_survives_a_crash_before_the_ledger_knew_and_checks_the_owner() {
    let client = s3_common::client().await;
    let bucket = s3_common::new_bucket(&client, "idem").await;
    let ledger = Arc::new(MemoryLedger::default());
    let mut sink = open(&client, &bucket, "job-i", &ledger).await;
    let (expected, last) = write_pages(&mut sink, 0, 16, 700 * 1024).await;
    let at = last_page(last);
    let first = sink.finish(&at).await.unwrap();
    // The run dies here: the object is complete, the ledger still holds the upload and parts.
    drop(sink);
    assert!(ledger.state().upload_id.is_some());

    let mut again = open(&client, &bucket, "job-i", &ledger).await;
    assert_eq!(again.finish(&at).await.unwrap(), first);
    assert_eq!(s3_common::get(&client, &bucket, KEY).await, expected);
    assert!(s3_common::uploads(&client, &bucket).await.is_empty());

    // Another export's ledger pointing at this key must not claim the object.
    let mut other = open(&client, &bucket, "job-other", &ledger).await;
    let err = other.finish(&at).await.unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<S3SinkError>(),
            Some(S3SinkError::ForeignObject { .. })
        ),
        "{err:#}"
    );
}

#[tokio::test]
async fn an_upload_aborted_behind_the_sinks_back_is_reported_as_gone() {
    let client = s3_common::client().await;
    let bucket = s3_common::new_bucket(&client, "gone").await;
    let ledger = Arc::new(MemoryLedger::default());
    let mut sink = open(&client, &bucket, "job-g", &ledger).await;
    write_pages(&mut sink, 0, 8, 700 * 1024).await;
    let upload_id = sink.upload_id().unwrap().to_owned();
    drop(sink);
    // A lifecycle rule (or an operator) aborts the upload while the job waits.
    assert!(
        s3::abort_upload(&client, &bucket, KEY, &upload_id)
            .await
            .unwrap()
    );

    let mut sink = open(&client, &bucket, "job-g", &ledger).await;
    let err = sink.finish(&Position::default()).await.unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<S3SinkError>(),
            Some(S3SinkError::UploadGone { .. })
        ),
        "{err:#}"
    );
    let mut sink = open(&client, &bucket, "job-g", &ledger).await;
    let (body, at) = page(99, 6 * MIB as usize);
    let err = sink.write_page(&body, &at).await.unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<S3SinkError>(),
            Some(S3SinkError::UploadGone { .. })
        ),
        "{err:#}"
    );
    assert!(
        matches!(
            sink.finish(&at)
                .await
                .unwrap_err()
                .downcast_ref::<S3SinkError>(),
            Some(S3SinkError::Poisoned)
        ),
        "a sink whose part failed refuses to go on"
    );
}
