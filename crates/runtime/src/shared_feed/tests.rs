//! The shared feed over a real SQLite event store: each partition gets each of its events
//! once and in order, reaches the head even with nothing of its own, and the store is read
//! about once for all of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use projector_core::{
    EventAppender, EventFeed, ExpectedVersion, GlobalPosition, HeadWatch, Partition, RecordedEvent,
    StoreError, StreamId,
};
use projector_sqlite::SqliteEventStore;

use super::{SharedFeed, SharedTakes};

/// The event store, counting the events read from it.
struct Counting {
    store: Arc<SqliteEventStore>,
    read: AtomicUsize,
}

#[async_trait]
impl EventFeed for Counting {
    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.store.read_all(after, limit).await?;
        self.read.fetch_add(events.len(), Ordering::SeqCst);
        Ok(events)
    }

    async fn head(&self) -> Result<GlobalPosition, StoreError> {
        self.store.head().await
    }

    fn watch_head(&self) -> HeadWatch {
        self.store.watch_head()
    }
}

/// An event store holding `rounds` events of each stream, rounds interleaved.
async fn store(
    dir: &tempfile::TempDir,
    streams: &[&str],
    rounds: usize,
) -> (Arc<Counting>, GlobalPosition) {
    let store = Arc::new(projector_testkit::sqlite::event_store(dir.path()));
    for round in 0..rounds {
        for stream in streams {
            let stream = StreamId::parse(*stream).expect("a stream id");
            store
                .append(
                    &stream,
                    ExpectedVersion::Any,
                    vec![projector_testkit::events::event(
                        "Tested",
                        serde_json::json!({ "round": round }),
                    )],
                )
                .await
                .expect("append");
        }
    }
    let head = store.head().await.expect("head");
    let counting = Arc::new(Counting {
        store,
        read: AtomicUsize::new(0),
    });
    (counting, head)
}

/// How long each batch takes to apply, as the readers here pretend.
const APPLY: std::time::Duration = std::time::Duration::from_millis(2);

fn of_partition(index: u16, count: u16) -> Arc<SharedTakes> {
    Arc::new(move |e: &RecordedEvent| Partition::of_stream(&e.stream_id, count) == index)
}

/// Reads `feed` as a worker does, from `after` to `head` in batches of `limit`; returns the
/// events `takes` keeps and checks every batch ends past the last.
async fn drain(
    feed: Arc<dyn EventFeed>,
    takes: Arc<SharedTakes>,
    mut after: GlobalPosition,
    head: GlobalPosition,
    limit: usize,
) -> Vec<RecordedEvent> {
    let mut own = Vec::new();
    while after < head {
        let batch = feed.read_all(after, limit).await.expect("a batch");
        assert!(!batch.is_empty(), "nothing after {after} below {head}");
        assert!(batch.len() <= limit, "a batch over its limit");
        assert!(
            batch.windows(2).all(|w| w[0].position < w[1].position),
            "a batch out of order"
        );
        // Only the last may be another partition's: it carries the checkpoint forward.
        let (last, rest) = batch.split_last().expect("not empty");
        assert!(rest.iter().all(|e| takes(e)), "another partition's event");
        after = last.position;
        own.extend(batch.into_iter().filter(|e| takes(e)));
        // A worker applies its batch before reading on: the others read meanwhile.
        tokio::time::sleep(APPLY).await;
    }
    own
}

fn streams(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("order-{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_get_their_own_events_once_in_order_from_one_read() {
    let dir = projector_testkit::temp_dir();
    let names = streams(40);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (store, head) = store(&dir, &names, 15).await;
    let shared = Arc::new(SharedFeed::new(store.clone(), 4, 25));
    let readers: Vec<_> = (0..4u16)
        .map(|p| {
            let takes = of_partition(p, 4);
            let feed: Arc<dyn EventFeed> = Arc::new(shared.reader(usize::from(p), takes.clone()));
            tokio::spawn(drain(feed, takes, GlobalPosition::new(0), head, 25))
        })
        .collect();
    let mut all = Vec::new();
    for (p, reader) in readers.into_iter().enumerate() {
        let own = reader.await.expect("a reader");
        let expected: Vec<u64> = store
            .store
            .read_all(GlobalPosition::new(0), 10_000)
            .await
            .expect("the feed")
            .into_iter()
            .filter(|e| Partition::of_stream(&e.stream_id, 4) == p as u16)
            .map(|e| e.position.get())
            .collect();
        let got: Vec<u64> = own.iter().map(|e| e.position.get()).collect();
        assert_eq!(got, expected, "partition {p}");
        all.extend(got);
    }
    all.sort_unstable();
    assert_eq!(all.len(), 600);
    all.dedup();
    assert_eq!(all.len(), 600, "an event went to two partitions");
    // Four partitions alone would read 2400 events; shared, about one read of each.
    let read = store.read.load(Ordering::SeqCst);
    assert!(read < 900, "the store was read {read} events for 600");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_with_nothing_of_its_own_still_reaches_the_head() {
    let dir = projector_testkit::temp_dir();
    let (store, head) = store(&dir, &["order-1"], 50).await;
    let busy = Partition::of_stream(&StreamId::from_static("order-1"), 4);
    let shared = Arc::new(SharedFeed::new(store.clone(), 4, 10));
    for p in 0..4u16 {
        let takes = of_partition(p, 4);
        let feed: Arc<dyn EventFeed> = Arc::new(shared.reader(usize::from(p), takes.clone()));
        let own = drain(feed, takes, GlobalPosition::new(0), head, 10).await;
        assert_eq!(own.len(), if p == busy { 50 } else { 0 }, "partition {p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_far_behind_the_others_reads_the_store_itself() {
    let dir = projector_testkit::temp_dir();
    let names = streams(20);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (store, head) = store(&dir, &names, 20).await;
    // Batches of 5 for 2 partitions: a window of 40 events, far shorter than the feed.
    let shared = Arc::new(SharedFeed::new(store.clone(), 2, 5));
    let first = of_partition(0, 2);
    let feed: Arc<dyn EventFeed> = Arc::new(shared.reader(0, first.clone()));
    drain(feed, first, GlobalPosition::new(0), head, 5).await;
    // The second starts from the beginning, long evicted, and from the middle, as after a
    // failed batch.
    let second = of_partition(1, 2);
    let feed: Arc<dyn EventFeed> = Arc::new(shared.reader(1, second.clone()));
    let own = drain(
        feed.clone(),
        second.clone(),
        GlobalPosition::new(0),
        head,
        5,
    )
    .await;
    let expected: Vec<u64> = store
        .store
        .read_all(GlobalPosition::new(0), 10_000)
        .await
        .expect("the feed")
        .into_iter()
        .filter(|e| Partition::of_stream(&e.stream_id, 2) == 1)
        .map(|e| e.position.get())
        .collect();
    let got: Vec<u64> = own.iter().map(|e| e.position.get()).collect();
    assert_eq!(got, expected);
    let middle = GlobalPosition::new(head.get() / 2);
    let again = drain(feed, second, middle, head, 5).await;
    let tail: Vec<u64> = expected.into_iter().filter(|p| *p > middle.get()).collect();
    assert_eq!(
        again.iter().map(|e| e.position.get()).collect::<Vec<_>>(),
        tail
    );
}
