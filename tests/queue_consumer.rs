//! The consumer against the real broker: dead-lettering with a reason while the next message is
//! still handled, requeue, panics, the concurrency bound, shutdown, and a topology conflict.

#[path = "common/amqp.rs"]
mod amqp;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use amqp::{Scripted, TestQueue, wait_until, within};
use cc_export::queue::{self, ConsumerOptions, Decision, HEADER_ERROR, HEADER_JOB_ID, QueueError};
use lapin::BasicProperties;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const SECS_10: Duration = Duration::from_secs(10);

fn options(concurrency: u16) -> ConsumerOptions {
    ConsumerOptions {
        requeue_delay: Duration::from_millis(50),
        reconnect_min_delay: Duration::from_millis(100),
        reconnect_max_delay: Duration::from_secs(1),
        ..ConsumerOptions::new(concurrency)
    }
}

fn start(
    q: &TestQueue,
    opts: ConsumerOptions,
    handler: Arc<Scripted>,
) -> (CancellationToken, JoinHandle<Result<(), QueueError>>) {
    let shutdown = CancellationToken::new();
    let settings = q.settings();
    let token = shutdown.clone();
    let task = tokio::spawn(async move { queue::run_with(&settings, &opts, handler, token).await });
    (shutdown, task)
}

async fn stop(shutdown: CancellationToken, task: JoinHandle<Result<(), QueueError>>) {
    shutdown.cancel();
    within("shutdown", SECS_10, task).await.unwrap().unwrap();
}

/// The worker's contract in small: parse, ack good jobs, dead-letter bad ones with the reason.
fn parse_or_dead_letter(body: &[u8], props: &BasicProperties, _: usize) -> Decision {
    match queue::parse_delivery(body, props, "exports/") {
        Ok(_) => Decision::Ack,
        Err(rejection) => rejection.into(),
    }
}

fn header(m: &lapin::message::BasicGetMessage, name: &str) -> Option<String> {
    let headers = m.delivery.properties.headers().clone()?;
    queue::header_str(&headers, name).map(|b| String::from_utf8(b.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_go_to_the_dlq_with_a_reason_and_the_next_good_one_is_handled() {
    let q = TestQueue::new().await;
    queue::declare(&q.conn, &q.name).await.unwrap();
    let handler = Scripted::new(Duration::ZERO, parse_or_dead_letter);
    let (shutdown, task) = start(&q, options(2), handler.clone());

    let job = "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f";
    let out_of_range = format!(
        r#"{{"type":"constantcontact-export","job_id":"{job}","account_id":"1","user_id":"u","batch_size":501}}"#
    );
    let good = br#"{"type":"constantcontact-export","account_id":"12345","user_id":"user_abc","batch_size":250,"last_cursor":null,"total_processed":0}"#;
    let with_id = BasicProperties::default().with_message_id("producer-msg-7".into());
    q.publish(b"not json at all", with_id).await;
    q.publish(out_of_range.as_bytes(), Default::default()).await;
    q.publish(good, Default::default()).await;

    wait_until("the good message", SECS_10, || {
        handler.times_seen(good) == 1
    })
    .await;
    let first = q.get(&q.dlq(), SECS_10).await.expect("first dead letter");
    let second = q.get(&q.dlq(), SECS_10).await.expect("second dead letter");
    let (mut a, mut b) = (first, second);
    if a.delivery.data != b"not json at all" {
        std::mem::swap(&mut a, &mut b);
    }
    assert_eq!(a.delivery.data, b"not json at all");
    let reason = header(&a, HEADER_ERROR).unwrap();
    assert!(
        reason.starts_with("message body is not valid JSON"),
        "{reason}"
    );
    // Its job id is the v5 of the producer's message id, the same on every redelivery.
    let derived = header(&a, HEADER_JOB_ID).unwrap();
    assert_eq!(
        derived,
        queue::parse(b"x", Some("producer-msg-7"), "")
            .unwrap_err()
            .job_id
            .unwrap()
            .to_string()
    );
    assert_eq!(
        a.delivery
            .properties
            .message_id()
            .as_ref()
            .unwrap()
            .as_str(),
        "producer-msg-7",
        "the original properties travel along"
    );
    assert_eq!(b.delivery.data, out_of_range.as_bytes());
    assert_eq!(
        header(&b, HEADER_ERROR).unwrap(),
        "batch_size must be an integer in 1..=500, got 501"
    );
    assert_eq!(header(&b, HEADER_JOB_ID).unwrap(), job);
    stop(shutdown, task).await;
    assert_eq!(q.count(&q.name).await, 0, "every delivery was settled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requeue_hands_the_message_back_and_it_comes_again() {
    let q = TestQueue::new().await;
    queue::declare(&q.conn, &q.name).await.unwrap();
    let handler = Scripted::new(Duration::ZERO, |_, _, before| {
        if before < 2 {
            Decision::Requeue
        } else {
            Decision::Ack
        }
    });
    let (shutdown, task) = start(&q, options(1), handler.clone());
    q.publish(b"again", Default::default()).await;
    wait_until("three deliveries", SECS_10, || {
        handler.times_seen(b"again") == 3
    })
    .await;
    stop(shutdown, task).await;
    assert_eq!(handler.times_seen(b"again"), 3);
    assert_eq!(q.count(&q.name).await, 0);
    assert_eq!(q.count(&q.dlq()).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_dead_letters_its_message_and_the_consumer_goes_on() {
    let q = TestQueue::new().await;
    queue::declare(&q.conn, &q.name).await.unwrap();
    let handler = Scripted::new(Duration::ZERO, |body, _, _| {
        if body == b"boom" {
            panic!("handler bug on purpose");
        }
        Decision::Ack
    });
    let (shutdown, task) = start(&q, options(1), handler.clone());
    q.publish(b"boom", Default::default()).await;
    q.publish(b"fine", Default::default()).await;
    wait_until("the next message", SECS_10, || {
        handler.times_seen(b"fine") == 1
    })
    .await;
    let dead = q.get(&q.dlq(), SECS_10).await.expect("dead letter");
    assert_eq!(dead.delivery.data, b"boom");
    assert_eq!(
        header(&dead, HEADER_ERROR).unwrap(),
        "handler panicked: handler bug on purpose"
    );
    stop(shutdown, task).await;
    assert_eq!(handler.times_seen(b"boom"), 1, "not looped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_than_concurrency_handlers_at_once() {
    let q = TestQueue::new().await;
    queue::declare(&q.conn, &q.name).await.unwrap();
    for i in 0..8 {
        q.publish(format!("m{i}").as_bytes(), Default::default())
            .await;
    }
    let handler = Scripted::acking(Duration::from_millis(250));
    let (shutdown, task) = start(&q, options(2), handler.clone());
    wait_until("all 8", SECS_10, || handler.seen().len() == 8).await;
    wait_until("idle", SECS_10, || {
        handler.in_flight.load(Ordering::SeqCst) == 0
    })
    .await;
    assert_eq!(handler.max_in_flight.load(Ordering::SeqCst), 2);
    stop(shutdown, task).await;
    assert_eq!(q.count(&q.name).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_prompt_and_waits_for_the_handler_in_flight() {
    let q = TestQueue::new().await;
    queue::declare(&q.conn, &q.name).await.unwrap();
    // Idle consumer: returns at once.
    let (shutdown, task) = start(&q, options(2), Scripted::acking(Duration::ZERO));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    stop(shutdown, task).await;
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());

    // Busy consumer: the handler in flight finishes and its message is acked before return.
    let handler = Scripted::acking(Duration::from_millis(700));
    let (shutdown, task) = start(&q, options(1), handler.clone());
    q.publish(b"slow", Default::default()).await;
    q.publish(b"waiting", Default::default()).await;
    wait_until("the slow handler", SECS_10, || {
        handler.times_seen(b"slow") == 1
    })
    .await;
    let t0 = Instant::now();
    stop(shutdown, task).await;
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert_eq!(handler.in_flight.load(Ordering::SeqCst), 0);
    assert_eq!(
        handler.times_seen(b"waiting"),
        0,
        "no new handler after shutdown"
    );
    assert_eq!(
        q.count(&q.name).await,
        1,
        "'slow' acked, 'waiting' back in the queue"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_with_other_arguments_stops_the_consumer_with_an_error() {
    let q = TestQueue::new().await;
    let ch = q.conn.create_channel().await.unwrap();
    let opts = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(q.name.as_str().into(), opts, FieldTable::default())
        .await
        .unwrap();
    let (_shutdown, task) = start(&q, options(1), Scripted::acking(Duration::ZERO));
    let err = within("the consumer gives up", SECS_10, task)
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, QueueError::TopologyConflict { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_retried_until_shutdown() {
    let q = TestQueue::new().await;
    let mut settings = q.settings();
    settings.amqp_url = "amqp://guest:guest@127.0.0.1:1/%2f".into();
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let opts = options(1);
    let handler = Scripted::acking(Duration::ZERO);
    let task = tokio::spawn(async move { queue::run_with(&settings, &opts, handler, token).await });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!task.is_finished(), "still retrying");
    stop(shutdown, task).await;
}
