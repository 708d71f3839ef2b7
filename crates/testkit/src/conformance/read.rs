//! Reads: streams in both directions, the global feed in pages.

use std::sync::Arc;

use projector_core::{
    EventFilter, EventStore, ExpectedVersion, GlobalPosition, ReadDirection, StreamId,
    StreamVersion,
};

use crate::events::{event, numbered};

fn versions(events: &[projector_core::RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.stream_version.get()).collect()
}

/// Forwards from a version, backwards from a version or the end, with limits.
pub async fn read_stream_directions_and_limits(store: Arc<dyn EventStore>) {
    let a = StreamId::from_static("read-a");
    let b = StreamId::from_static("read-b");
    store
        .append(&a, ExpectedVersion::NoStream, numbered(3))
        .await
        .expect("append a");
    store
        .append(&b, ExpectedVersion::NoStream, numbered(2))
        .await
        .expect("append b");
    store
        .append(&a, ExpectedVersion::StreamExists, numbered(2))
        .await
        .expect("append a");

    let read = |from: u64, direction, limit| {
        let store = Arc::clone(&store);
        let a = a.clone();
        async move {
            store
                .read_stream(&a, StreamVersion::new(from), direction, limit)
                .await
                .expect("read stream")
        }
    };
    assert_eq!(
        versions(&read(1, ReadDirection::Forwards, 100).await),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        versions(&read(0, ReadDirection::Forwards, 100).await),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(versions(&read(3, ReadDirection::Forwards, 2).await), [3, 4]);
    assert_eq!(
        versions(&read(6, ReadDirection::Forwards, 10).await),
        Vec::<u64>::new()
    );
    assert_eq!(
        versions(&read(StreamVersion::LATEST.get(), ReadDirection::Backwards, 2).await),
        [5, 4]
    );
    assert_eq!(
        versions(&read(3, ReadDirection::Backwards, 10).await),
        [3, 2, 1]
    );

    // Positions interleave across streams in commit order.
    let positions: Vec<u64> = read(1, ReadDirection::Forwards, 100)
        .await
        .iter()
        .map(|e| e.position.get())
        .collect();
    assert_eq!(positions, [1, 2, 3, 6, 7]);

    let missing = StreamId::from_static("read-missing");
    let none = store
        .read_stream(&missing, StreamVersion::new(1), ReadDirection::Forwards, 10)
        .await
        .expect("read missing");
    assert!(none.is_empty());
    assert_eq!(
        store.stream_version(&missing).await.expect("version"),
        StreamVersion::NONE
    );
    assert_eq!(
        store.stream_version(&b).await.expect("version"),
        StreamVersion::new(2)
    );
}

/// Paging through the feed returns every event once, in position order.
pub async fn read_all_pages_through_the_feed(store: Arc<dyn EventStore>) {
    assert!(
        store
            .read_all(GlobalPosition::ZERO, 10)
            .await
            .expect("empty feed")
            .is_empty()
    );
    for i in 0..7 {
        let s = StreamId::parse(format!("feed-{}", i % 3)).expect("valid");
        store
            .append(&s, ExpectedVersion::Any, numbered(3))
            .await
            .expect("append");
    }
    let mut after = GlobalPosition::ZERO;
    let mut seen = Vec::new();
    loop {
        let page = store.read_all(after, 4).await.expect("page");
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = last.position;
        seen.extend(page.iter().map(|e| e.position.get()));
    }
    assert_eq!(seen, (1..=21).collect::<Vec<_>>());
    assert_eq!(store.head().await.expect("head"), GlobalPosition::new(21));
    let tail = store
        .read_all(GlobalPosition::new(19), 100)
        .await
        .expect("tail");
    assert_eq!(
        tail.iter().map(|e| e.position.get()).collect::<Vec<_>>(),
        [20, 21]
    );
    assert!(
        store
            .read_all(GlobalPosition::new(21), 100)
            .await
            .expect("past head")
            .is_empty()
    );
}

/// A kept read gives what a read of the same page gives, less the events its filter refuses,
/// and says how far the page went.
pub async fn a_kept_read_is_the_page_less_what_its_filter_refuses(store: Arc<dyn EventStore>) {
    for i in 0..12 {
        let kind = if i % 3 == 0 { "Kept" } else { "Passed" };
        let s = StreamId::parse(format!("kept-{}", i % 2)).expect("valid");
        store
            .append(
                &s,
                ExpectedVersion::Any,
                vec![event(kind, serde_json::json!({ "i": i }))],
            )
            .await
            .expect("append");
    }
    let filter = EventFilter::types(&["Kept"]);
    for (after, limit) in [(0, 12), (0, 5), (3, 4), (10, 10), (12, 3)] {
        let after = GlobalPosition::new(after);
        let page = store.read_all(after, limit).await.expect("a page");
        let kept = store
            .read_kept(after, limit, &filter)
            .await
            .expect("a kept page");
        let ids = |events: &[projector_core::RecordedEvent]| -> Vec<uuid::Uuid> {
            events.iter().map(|e| e.event_id).collect()
        };
        let taken: Vec<_> = page.iter().filter(|e| filter.accepts(e)).cloned().collect();
        assert_eq!(ids(&kept.events), ids(&taken), "after {after}, {limit}");
        assert_eq!(kept.read, page.len());
        assert_eq!(
            kept.through.map(|c| c.position),
            page.last().map(|e| e.position)
        );
        assert_eq!(kept.first_recorded_at, page.first().map(|e| e.recorded_at));
    }
}
