//! Topology and publisher against the real broker: idempotent declares, a clear error for a
//! queue declared with other arguments, rejects landing in the DLQ, confirmed persistent
//! publishes, unroutable publishes refused.

#[path = "common/amqp.rs"]
mod amqp;

use std::time::Duration;

use amqp::TestQueue;
use cc_export::queue::{self, Publisher, QueueError};
use lapin::options::{BasicGetOptions, BasicRejectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};

#[tokio::test]
async fn declaring_twice_is_idempotent_and_a_reject_lands_in_the_dlq() {
    let q = TestQueue::new().await;
    queue::declare(&q.conn, &q.name).await.unwrap();
    queue::declare(&q.conn, &q.name).await.unwrap();

    q.publish(b"{}", Default::default()).await;
    let ch = q.conn.create_channel().await.unwrap();
    let msg = ch
        .basic_get(q.name.as_str().into(), BasicGetOptions::default())
        .await
        .unwrap()
        .expect("the message is in the work queue");
    msg.delivery
        .acker
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    let dead = q.get(&q.dlq(), Duration::from_secs(5)).await;
    assert_eq!(dead.expect("the reject dead-lettered").delivery.data, b"{}");
    assert_eq!(q.count(&q.name).await, 0);
}

#[tokio::test]
async fn a_queue_with_other_arguments_is_a_clear_permanent_error() {
    let q = TestQueue::new().await;
    let ch = q.conn.create_channel().await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let mut args = FieldTable::default();
    args.insert("x-max-length".into(), AMQPValue::LongLongInt(10));
    ch.queue_declare(q.name.as_str().into(), durable, args)
        .await
        .unwrap();

    let err = queue::declare(&q.conn, &q.name).await.unwrap_err();
    assert!(
        matches!(&err, QueueError::TopologyConflict { queue, .. } if *queue == q.name),
        "{err:?}"
    );
    assert!(err.is_permanent());
    let text = err.to_string();
    for part in [
        "PRECONDITION_FAILED",
        "x-dead-letter-routing-key",
        "already exists",
        &q.name,
    ] {
        assert!(text.contains(part), "{text:?} lacks {part:?}");
    }
    // The connection survives a refused declare (it only closed the declaring channel).
    queue::declare(&q.conn, &format!("{}-other", q.name))
        .await
        .unwrap();
    let other = TestQueue {
        name: format!("{}-other", q.name),
        conn: amqp::connect().await,
    };
    drop(other);
}

#[tokio::test]
async fn publishes_are_confirmed_persistent_json_and_unroutable_ones_refused() {
    let q = TestQueue::new().await;
    queue::declare(&q.conn, &q.name).await.unwrap();
    let publisher = Publisher::new(&q.conn).await.unwrap();
    let mut headers = FieldTable::default();
    headers.insert("x-source".into(), AMQPValue::LongString("test".into()));
    publisher
        .publish(&q.name, br#"{"a":1}"#, Some("m-1"), headers)
        .await
        .unwrap();
    let got = q
        .get(&q.name, Duration::from_secs(5))
        .await
        .unwrap()
        .delivery;
    assert_eq!(got.data, br#"{"a":1}"#);
    let p = &got.properties;
    assert_eq!(*p.delivery_mode(), Some(2));
    assert_eq!(
        p.content_type().as_ref().map(|s| s.as_str()),
        Some("application/json")
    );
    assert_eq!(p.message_id().as_ref().map(|s| s.as_str()), Some("m-1"));
    let h = p.headers().clone().unwrap();
    assert_eq!(queue::header_str(&h, "x-source"), Some(&b"test"[..]));

    let missing = format!("{}-missing", q.name);
    let err = publisher
        .publish(&missing, b"{}", None, FieldTable::default())
        .await
        .unwrap_err();
    assert!(matches!(err, QueueError::Unroutable { .. }), "{err:?}");
    // The channel is still usable after a returned message.
    publisher
        .publish(&q.name, b"{}", None, FieldTable::default())
        .await
        .unwrap();
    assert_eq!(q.count(&q.name).await, 1);
}
