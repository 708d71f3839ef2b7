//! A partition's share of the feed, read from the broker's subjects for it: its own streams'
//! events and the spanning ones, in feed order, every read ending where it looked so the
//! partition's checkpoint passes the other partitions' events.

use std::sync::Arc;

use projector_core::{EventFeed, EventFilter, GlobalPosition, Partition, RecordedEvent};
use projector_nats::{NatsFeed, Relay, RelayOptions};
use projector_testkit::wait::eventually;

use crate::support::{Source, TestStream};
use crate::{read_everything, relay_until};

fn spanning() -> EventFilter {
    EventFilter::category("customer", &["CustomerRegistered"])
}

/// Orders and customers, interleaved so spanning events fall among every partition's own.
async fn interleaved(source: &Source, count: usize) -> GlobalPosition {
    let mut head = GlobalPosition::ZERO;
    for n in 0..count {
        source.append_orders(n..n + 1).await;
        head = source.register_customers(n..n + 1).await;
    }
    head
}

/// The feed of the stream once it has followed it to `head`.
async fn feed_at(stream: &TestStream, head: GlobalPosition) -> NatsFeed {
    let feed = NatsFeed::open(stream.open().await).await.expect("the feed");
    eventually("the feed at the head", || async {
        let at = feed.head().await.expect("head");
        if at >= head { Ok(()) } else { Err(at) }
    })
    .await;
    feed
}

/// Reads `feed` to `head` in batches of `batch`, checking each: positions rising from where
/// it was asked, every event but the last of a batch the partition's own; the events the
/// partition applies.
async fn read_share(
    feed: &dyn EventFeed,
    partition: Partition,
    head: GlobalPosition,
    batch: usize,
) -> Vec<RecordedEvent> {
    let takes = |e: &RecordedEvent| partition.takes(e, spanning().accepts(e));
    let mut kept = Vec::new();
    let mut after = GlobalPosition::ZERO;
    while after < head {
        let events = feed.read_all(after, batch).await.expect("a read");
        assert!(
            !events.is_empty(),
            "an empty read at {after} below the head {head}"
        );
        assert!(
            events.len() <= batch,
            "{} events asked for {batch}",
            events.len()
        );
        let mut previous = after;
        for (i, event) in events.iter().enumerate() {
            assert!(
                event.position > previous,
                "{} after {previous}",
                event.position
            );
            previous = event.position;
            let last = i + 1 == events.len();
            assert!(
                takes(event) || last,
                "partition {partition} was handed {} of {} mid-batch",
                event.position,
                event.stream_id
            );
        }
        after = previous;
        kept.extend(events.into_iter().filter(|e| takes(e)));
    }
    assert_eq!(after, head, "partition {partition} read past the head");
    kept
}

#[tokio::test]
async fn each_partition_reads_its_own_streams_and_the_spanning_events_from_its_subjects() {
    let Some(stream) = TestStream::create().await else {
        return;
    };
    let source = Source::new().await;
    let head = interleaved(&source, 40).await;
    let relay = Relay::new(source.feed(), stream.open().await, RelayOptions::default());
    relay_until(&relay, &stream, head).await;
    let feed = feed_at(&stream, head).await;
    let everything = source.everything().await;

    let mut own = 0;
    for partition in Partition::all(4).expect("four partitions") {
        let share = feed
            .partition_feed(partition, &spanning())
            .expect("a broker partition for a power-of-two count");
        let kept = read_share(share.as_ref(), partition, head, 5).await;
        let expected: Vec<_> = everything
            .iter()
            .filter(|e| partition.takes(e, spanning().accepts(e)))
            .cloned()
            .collect();
        assert!(
            kept == expected,
            "partition {partition}: its events, in feed order"
        );
        own += kept
            .iter()
            .filter(|e| e.stream_id.category() == "order")
            .count();

        // Read again from the start, as a rebuild would: the same first batch.
        let again = share
            .read_all(GlobalPosition::ZERO, 5)
            .await
            .expect("again");
        let first = share
            .read_all(GlobalPosition::ZERO, 5)
            .await
            .expect("first");
        assert!(
            again == first,
            "partition {partition}: a read from the start repeats"
        );
    }
    assert_eq!(own, 120, "every order event in exactly one partition");
}

#[tokio::test]
async fn a_partition_follows_new_events_and_reads_messages_published_without_partition_bits() {
    let Some(stream) = TestStream::create().await else {
        return;
    };
    let source = Source::new().await;
    let before = interleaved(&source, 10).await;
    let relay = Relay::new(source.feed(), stream.open().await, RelayOptions::default());
    // The first ten orders and customers as an earlier relay published them.
    stream.publish_unsplit(&source.everything().await).await;
    let feed = feed_at(&stream, before).await;
    let partition = Partition::new(1, 2).expect("a partition");
    let share: Arc<dyn EventFeed> = feed
        .partition_feed(partition, &spanning())
        .expect("a broker partition");
    let early = read_share(share.as_ref(), partition, before, 4).await;

    for n in 10..30 {
        source.append_orders(n..n + 1).await;
        source.register_customers(n..n + 1).await;
    }
    let head = source.everything().await.last().expect("events").position;
    relay_until(&relay, &stream, head).await;
    eventually("the partition's head", || async {
        let at = share.head().await.expect("head");
        if at >= head { Ok(()) } else { Err(at) }
    })
    .await;
    let all = read_share(share.as_ref(), partition, head, 4).await;
    let expected: Vec<_> = source
        .everything()
        .await
        .into_iter()
        .filter(|e| partition.takes(e, spanning().accepts(e)))
        .collect();
    assert!(all == expected, "old and new messages, in feed order");
    assert!(all.starts_with(&early));
    assert!(read_everything(share.as_ref(), 4).await.len() >= expected.len());
}

#[tokio::test]
async fn a_partition_the_subjects_cannot_hold_reads_the_whole_feed() {
    let Some(stream) = TestStream::create().await else {
        return;
    };
    let feed = NatsFeed::open(stream.open().await).await.expect("the feed");
    let three = Partition::new(0, 3).expect("a partition of three");
    assert!(feed.partition_feed(three, &spanning()).is_none());
    let four = Partition::new(0, 4).expect("a partition of four");
    assert!(feed.partition_feed(four, &EventFilter::All).is_none());
    assert!(feed.partition_feed(four, &EventFilter::none()).is_some());
}
