//! The consumer survives the broker closing its connection mid-stream: it reconnects (with
//! backoff), declares again, and every message is handled at least once; none is lost.

#[path = "common/amqp.rs"]
mod amqp;

use std::collections::HashSet;
use std::time::Duration;

use std::sync::atomic::Ordering;

use amqp::{Scripted, TestQueue, close_connection, connection_pids, wait_until, within};
use cc_export::queue::{self, ConsumerOptions};
use tokio_util::sync::CancellationToken;

const MESSAGES: usize = 200;
const SECS_20: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_by_the_broker_is_reopened_and_nothing_is_lost() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("cc_export=info,lapin=warn")
        .try_init();
    let q = TestQueue::new().await;
    queue::declare(&q.conn, &q.name).await.unwrap();
    let name = format!("reconnect-test {}", q.name);
    let opts = ConsumerOptions {
        connection_name: Some(name.clone()),
        reconnect_min_delay: Duration::from_millis(100),
        reconnect_max_delay: Duration::from_secs(1),
        ..ConsumerOptions::new(2)
    };
    // 200 messages × 250 ms / 2 at once: 25 s of work, far longer than two rounds of
    // rabbitmqctl (each call takes a second or more on a loaded machine).
    let handler = Scripted::acking(Duration::from_millis(250));
    for i in 0..MESSAGES {
        q.publish(format!("m{i:03}").as_bytes(), Default::default())
            .await;
    }
    let shutdown = CancellationToken::new();
    let (settings, h, token) = (q.settings(), handler.clone(), shutdown.clone());
    let task = tokio::spawn(async move { queue::run_with(&settings, &opts, h, token).await });
    let distinct = || handler.seen().into_iter().collect::<HashSet<_>>().len();

    for round in 1..=2 {
        wait_until("the consumer's connection", SECS_20, || {
            connection_pids(&name).len() == 1
        })
        .await;
        let pids = connection_pids(&name);
        assert_eq!(
            pids.len(),
            1,
            "round {round}: one consumer connection: {pids:?}"
        );
        let before = handler.seen().len();
        eprintln!("round {round}: {before} seen");
        wait_until("progress", SECS_20, || handler.seen().len() >= before + 3).await;
        close_connection(&pids[0]);
        let left = MESSAGES - distinct();
        assert!(
            left > 10,
            "round {round}: the close must land mid-stream ({left} left)"
        );
    }
    wait_until("every message", Duration::from_secs(60), || {
        distinct() == MESSAGES
    })
    .await;
    wait_until("idle", SECS_20, || {
        handler.in_flight.load(Ordering::SeqCst) == 0
    })
    .await;
    shutdown.cancel();
    within("shutdown", SECS_20, task).await.unwrap().unwrap();

    let seen = handler.seen();
    let expected: HashSet<Vec<u8>> = (0..MESSAGES)
        .map(|i| format!("m{i:03}").into_bytes())
        .collect();
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), expected);
    // Deliveries in flight at a close were redelivered: at least once, here more than once.
    assert!(seen.len() > MESSAGES, "{} deliveries", seen.len());
    assert_eq!(q.count(&q.name).await, 0, "all acked in the end");
    assert_eq!(q.count(&q.dlq()).await, 0);
}
