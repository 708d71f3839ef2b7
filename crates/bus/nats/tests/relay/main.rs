//! The relay and the feed against the real NATS server on loopback, each test on a stream of
//! its own: every event published once and in order, as CloudEvents; a restarted relay and two
//! relays at once never duplicate or interleave; a resend is dropped by the stream; the feed
//! reads from any position, follows new events, and says when the stream has lost its start.

mod partitions;
mod support;

use std::time::Duration;

use projector_core::{EventFeed, GlobalPosition, RecordedEvent};
use projector_nats::{NatsFeed, Relay, RelayOptions};
use tokio_util::sync::CancellationToken;

use support::{Source, TestStream};

/// Every event `feed` holds after `after`, read in batches of `batch`.
pub(crate) async fn read_everything(feed: &dyn EventFeed, batch: usize) -> Vec<RecordedEvent> {
    let mut all = Vec::new();
    let mut after = GlobalPosition::ZERO;
    loop {
        let events = feed.read_all(after, batch).await.expect("read");
        let Some(last) = events.last() else {
            return all;
        };
        after = last.position;
        all.extend(events);
    }
}

/// Runs `relay` until the stream's tail reaches `head`.
pub(crate) async fn relay_until(relay: &Relay, stream: &TestStream, head: GlobalPosition) {
    let stop = CancellationToken::new();
    let waiting = async {
        stream.wait_for_tail(head).await;
        stop.cancel();
    };
    tokio::join!(relay.run(stop.clone()), waiting);
}

#[tokio::test]
async fn every_event_is_published_once_in_order_as_a_cloudevent() {
    let Some(stream) = TestStream::create().await else {
        return;
    };
    let source = Source::new().await;
    let head = source.append_orders(0..25).await;
    let relay = Relay::new(
        source.feed(),
        stream.open().await,
        RelayOptions {
            batch_size: 7,
            ..RelayOptions::default()
        },
    );
    relay_until(&relay, &stream, head).await;

    let published = stream.messages().await;
    let expected = source.everything().await;
    assert_eq!(published.len(), expected.len());
    for (message, event) in published.iter().zip(&expected) {
        assert!(
            message.event == *event,
            "in feed order, as recorded: {}",
            event.position
        );
        let hash = projector_core::partition::fnv1a_64(event.stream_id.as_str().as_bytes());
        let bits: String = (0..6).map(|bit| format!(".{}", hash >> bit & 1)).collect();
        assert_eq!(
            message.subject,
            format!(
                "{}.order.{}{bits}",
                stream.prefix(),
                event.event_type.as_str()
            )
        );
        assert_eq!(
            message.msg_id.as_deref(),
            Some(event.event_id.to_string().as_str())
        );
    }
    let json: serde_json::Value = serde_json::from_slice(&published[0].payload).expect("json");
    assert_eq!(json["specversion"], "1.0");
    assert_eq!(json["id"], expected[0].event_id.to_string());
    assert_eq!(json["subject"], expected[0].stream_id.as_str());
    assert_eq!(json["position"], expected[0].position.get());
    let status = relay.status().borrow().clone();
    assert_eq!(status.published, head);
    assert_eq!(status.lag_events(), 0);
    stream.remove().await;
}

#[tokio::test]
async fn a_relay_started_again_goes_on_from_the_stream_without_duplicates() {
    let Some(stream) = TestStream::create().await else {
        return;
    };
    let source = Source::new().await;
    let first = source.append_orders(0..10).await;
    relay_until(
        &Relay::new(source.feed(), stream.open().await, RelayOptions::default()),
        &stream,
        first,
    )
    .await;
    let second = source.append_orders(10..20).await;
    relay_until(
        &Relay::new(source.feed(), stream.open().await, RelayOptions::default()),
        &stream,
        second,
    )
    .await;
    let positions: Vec<u64> = stream
        .messages()
        .await
        .iter()
        .map(|m| m.event.position.get())
        .collect();
    let expected: Vec<u64> = source
        .everything()
        .await
        .iter()
        .map(|e| e.position.get())
        .collect();
    assert_eq!(positions, expected);
    stream.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_at_once_never_duplicate_or_interleave() {
    let Some(stream) = TestStream::create().await else {
        return;
    };
    let source = Source::new().await;
    let stop = CancellationToken::new();
    let options = RelayOptions {
        batch_size: 3,
        ..RelayOptions::default()
    };
    let one = Relay::new(source.feed(), stream.open().await, options);
    let two = Relay::new(source.feed(), stream.open().await, options);
    let writing = async {
        let mut head = GlobalPosition::ZERO;
        for chunk in 0..20 {
            head = source.append_orders(chunk * 3..chunk * 3 + 3).await;
        }
        stream.wait_for_tail(head).await;
        stop.cancel();
    };
    tokio::join!(one.run(stop.clone()), two.run(stop.clone()), writing);
    let positions: Vec<u64> = stream
        .messages()
        .await
        .iter()
        .map(|m| m.event.position.get())
        .collect();
    let expected: Vec<u64> = source
        .everything()
        .await
        .iter()
        .map(|e| e.position.get())
        .collect();
    assert_eq!(positions, expected, "each event once, in feed order");
    stream.remove().await;
}

#[tokio::test]
async fn a_resent_event_is_dropped_by_the_stream() {
    let Some(stream) = TestStream::create().await else {
        return;
    };
    let source = Source::new().await;
    let head = source.append_orders(0..2).await;
    relay_until(
        &Relay::new(source.feed(), stream.open().await, RelayOptions::default()),
        &stream,
        head,
    )
    .await;
    let first = source.everything().await.remove(0);
    let ack = stream.publish_again(&first).await;
    assert!(ack.duplicate, "{ack:?}");
    assert_eq!(
        stream.messages().await.len(),
        source.everything().await.len()
    );
    stream.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_reads_from_any_position_and_follows_new_events() {
    let Some(stream) = TestStream::create().await else {
        return;
    };
    let source = Source::new().await;
    let head = source.append_orders(0..30).await;
    relay_until(
        &Relay::new(source.feed(), stream.open().await, RelayOptions::default()),
        &stream,
        head,
    )
    .await;

    let feed = NatsFeed::open(stream.open().await).await.expect("feed");
    assert_eq!(feed.head().await.expect("head"), head);
    let everything = source.everything().await;
    assert!(
        read_everything(&feed, 13).await == everything,
        "every event, as recorded"
    );
    let middle = everything[40].position;
    let rest = feed.read_all(middle, 1000).await.expect("read");
    assert!(rest == everything[41..], "from the middle");

    // New events arrive through the watch.
    let mut watch = feed.watch_head();
    let relay = Relay::new(source.feed(), stream.open().await, RelayOptions::default());
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { relay.run(stop).await }
    });
    let newer = source.append_orders(30..32).await;
    tokio::time::timeout(Duration::from_secs(20), watch.wait_for(|h| *h >= newer))
        .await
        .expect("the head moved in time")
        .expect("watch");
    let fresh = feed.read_all(head, 100).await.expect("read");
    assert_eq!(
        fresh,
        source.everything().await[everything.len()..].to_vec()
    );
    stop.cancel();
    running.await.expect("relay");
    stream.remove().await;
}

#[tokio::test]
async fn a_stream_that_lost_its_start_says_so() {
    let Some(stream) = TestStream::create().await else {
        return;
    };
    let source = Source::new().await;
    let head = source.append_orders(0..5).await;
    relay_until(
        &Relay::new(source.feed(), stream.open().await, RelayOptions::default()),
        &stream,
        head,
    )
    .await;
    stream.purge_before(6).await;
    let feed = NatsFeed::open(stream.open().await).await.expect("feed");
    // The window holds the rest; a reader from the start goes past it.
    let error = read_from_zero(&feed).await;
    let message = error.to_string();
    assert!(message.contains("no longer holds"), "{message}");
    assert!(message.contains(stream.name()), "{message}");
    stream.remove().await;
}

async fn read_from_zero(feed: &NatsFeed) -> projector_core::StoreError {
    feed.read_all(GlobalPosition::ZERO, 10)
        .await
        .expect_err("the stream lost its start")
}
