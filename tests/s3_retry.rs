//! A failing S3 server: 503s and reset connections are retried a bounded number of times, then
//! reported as the request's failure (not a hang, not endless retries).

#[path = "common/s3.rs"]
mod s3_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use cc_export::sink::s3::{S3Location, S3Sink, S3SinkError, S3SinkOptions};
use cc_export::sink::{PageSink, PartLedger, Position};
use s3_common::MemoryLedger;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Copy)]
enum Misbehaviour {
    Unavailable,
    Reset,
}

/// Serves on loopback, failing every request; counts the requests it saw.
async fn failing_server(how: Misbehaviour) -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicU32::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if conn.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                counter.fetch_add(1, Ordering::SeqCst);
                match how {
                    Misbehaviour::Reset => {
                        let _ = conn.set_zero_linger();
                        drop(conn); // RST
                    }
                    Misbehaviour::Unavailable => {
                        let body = "<Error><Code>ServiceUnavailable</Code><Message>try again</Message></Error>";
                        let reply = format!(
                            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = conn.write_all(reply.as_bytes()).await;
                        let _ = conn.shutdown().await;
                    }
                }
            });
        }
    });
    (url, seen)
}

async fn put_through_sink(how: Misbehaviour) -> (S3SinkError, u32) {
    let (url, seen) = failing_server(how).await;
    let client = s3_common::client_for(&url, 4).await;
    let ledger = Arc::new(MemoryLedger::default());
    let opts = S3SinkOptions {
        part_size: 5 * s3_common::MIB,
        job_id: "job-retry".into(),
        content_type: None,
    };
    let mut sink = S3Sink::open(
        client,
        S3Location::new("bucket", "k.csv"),
        opts,
        ledger as Arc<dyn PartLedger>,
    )
    .await
    .unwrap();
    sink.write_page(b"a,b\n", &Position::default())
        .await
        .unwrap();
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        sink.finish(&Position::default()),
    )
    .await
    .expect("gives up in time")
    .unwrap_err();
    let err = err.downcast::<S3SinkError>().expect("an S3SinkError");
    (err, seen.load(Ordering::SeqCst))
}

#[tokio::test]
async fn service_unavailable_is_retried_then_reported() {
    let (err, seen) = put_through_sink(Misbehaviour::Unavailable).await;
    assert_eq!(seen, 4, "max_attempts requests, no more");
    match &err {
        S3SinkError::Request { op, code, .. } => {
            assert_eq!(*op, "PutObject");
            assert_eq!(code.as_deref(), Some("ServiceUnavailable"));
        }
        other => panic!("{other}"),
    }
    assert!(err.is_transient());
}

#[tokio::test]
async fn reset_connections_are_retried_then_reported() {
    let (err, seen) = put_through_sink(Misbehaviour::Reset).await;
    assert_eq!(seen, 4, "max_attempts requests, no more");
    assert!(
        matches!(
            err,
            S3SinkError::Request {
                op: "PutObject",
                ..
            }
        ),
        "{err}"
    );
}
