//! The change feed under concurrency: gap-free, ordered, woken on commit, each caller answered
//! for its own append.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use async_trait::async_trait;
use projector_core::{
    EventFeed, EventStore, ExpectedVersion, GlobalPosition, HeadWatch, RecordedEvent, StoreError,
    StreamId, Subscription,
};

use tokio::sync::watch;

use crate::events::numbered;
use crate::wait;

/// A commit wakes a watcher already waiting on the head.
///
/// The watcher is polled once before the append, so it is parked on the watch when the commit
/// lands: a store that moved the head without waking its waiters leaves it parked and fails
/// here, however slow the machine (an append made before the wait began would pass by the
/// value already there).
pub async fn head_watch_wakes_on_commit(store: Arc<dyn EventStore>) {
    let mut watch = store.watch_head();
    assert_eq!(*watch.borrow_and_update(), GlobalPosition::ZERO);
    let mut waiting = pin!(watch.wait_for(|head| head.get() >= 2));
    assert!(
        pending_after_one_poll(waiting.as_mut()).await,
        "the head reached 2 with nothing appended"
    );
    store
        .append(
            &StreamId::from_static("watch-1"),
            ExpectedVersion::Any,
            numbered(2),
        )
        .await
        .expect("append");
    tokio::time::timeout(wait::deadline(), waiting)
        .await
        .expect("the commit woke the waiting watcher")
        .expect("the store is open");
}

/// A subscription delivers history, then live events, each once and in order; a live event
/// reaches a subscriber parked at the head by waking it.
pub async fn subscription_catches_up_then_follows(store: Arc<dyn EventStore>) {
    let s = StreamId::from_static("sub-1");
    store
        .append(&s, ExpectedVersion::Any, numbered(5))
        .await
        .expect("history");
    let feed = Arc::new(EmptyReads::new(Arc::clone(&store)));
    let mut subscription = Subscription::new(Arc::clone(&feed) as _, GlobalPosition::new(1), 3);
    let first = subscription.next_batch().await.expect("batch");
    assert_eq!(
        first.iter().map(|e| e.position.get()).collect::<Vec<_>>(),
        [2, 3, 4]
    );
    let second = subscription.next_batch().await.expect("batch");
    assert_eq!(
        second.iter().map(|e| e.position.get()).collect::<Vec<_>>(),
        [5]
    );

    // Each live append is made while the subscriber is parked at the head, so only a wake can
    // bring it the append; a subscriber that had not parked yet would read it instead.
    for (count, expected) in [(1, vec![6]), (3, vec![7, 8, 9])] {
        let at_head = subscription.position();
        let mut next = pin!(subscription.next_batch());
        park(next.as_mut(), &feed, at_head).await;
        store
            .append(&s, ExpectedVersion::Any, numbered(count))
            .await
            .expect("live append");
        let batch = tokio::time::timeout(wait::deadline(), next)
            .await
            .expect("the commit woke the parked subscriber")
            .expect("live batch");
        assert_eq!(
            batch.iter().map(|e| e.position.get()).collect::<Vec<_>>(),
            expected
        );
    }
}

/// Polls `future` once: true if it is pending, and so registered to be woken.
async fn pending_after_one_poll<F: Future>(mut future: Pin<&mut F>) -> bool {
    std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_pending())).await
}

/// Drives `next`, a subscription's next batch from `at_head` (the head), until it has read the
/// feed to its end and parked on the head watch. A subscription that finds nothing to read
/// parks in the same poll, so once a read of `feed` came back empty and `next` is pending, it
/// waits for a wake.
///
/// # Panics
/// If `next` delivers a batch, or the head watch is already past `at_head`.
async fn park<F>(mut next: Pin<&mut F>, feed: &EmptyReads, at_head: GlobalPosition)
where
    F: Future<Output = Result<Vec<RecordedEvent>, StoreError>>,
{
    let before = feed.empty_reads.load(Ordering::SeqCst);
    std::future::poll_fn(|cx| match next.as_mut().poll(cx) {
        Poll::Ready(batch) => panic!("a batch with nothing appended: {batch:?}"),
        Poll::Pending if feed.empty_reads.load(Ordering::SeqCst) > before => Poll::Ready(()),
        Poll::Pending => Poll::Pending,
    })
    .await;
    // At or below the subscriber's position, the head watch sent it to wait, not to read again.
    assert!(
        *feed.watch_head().borrow() <= at_head,
        "the head moved with nothing appended"
    );
}

/// A store's feed that counts the reads that found nothing.
struct EmptyReads {
    store: Arc<dyn EventStore>,
    empty_reads: AtomicUsize,
}

impl EmptyReads {
    fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            empty_reads: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl EventFeed for EmptyReads {
    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let batch = self.store.read_all(after, limit).await?;
        if batch.is_empty() {
            self.empty_reads.fetch_add(1, Ordering::SeqCst);
        }
        Ok(batch)
    }

    async fn head(&self) -> Result<GlobalPosition, StoreError> {
        self.store.head().await
    }

    fn watch_head(&self) -> HeadWatch {
        self.store.watch_head()
    }
}

/// Sixteen tasks append to random streams at full speed while a subscriber follows, reading
/// as they commit: the feed has no gaps, every stream's versions are in order, every
/// acknowledged append is there, and the subscriber sees every event exactly once, in order
/// (a reader that skipped a late commit would miss it for good).
pub async fn concurrent_appenders_make_a_gapless_feed(store: Arc<dyn EventStore>) {
    const TASKS: usize = 16;
    const APPENDS: usize = 40;
    let read_so_far = Arc::new(AtomicUsize::new(0));
    let (total_tx, total_rx) = watch::channel(None::<usize>);
    let subscriber = {
        let subscription = Subscription::new(Arc::clone(&store) as _, GlobalPosition::ZERO, 50);
        tokio::spawn(follow(subscription, Arc::clone(&read_so_far), total_rx))
    };
    let mut writers = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..APPENDS {
                let s =
                    StreamId::parse(format!("conc-{}", (task * 7 + i * 13) % 23)).expect("valid");
                let events = numbered(1 + (task + i) % 3);
                let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
                let outcome = store
                    .append(&s, ExpectedVersion::Any, events)
                    .await
                    .expect("append");
                acknowledged.push((outcome, ids));
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("writer task"));
    }
    let read_while_writing = read_so_far.load(Ordering::SeqCst);
    let total: usize = acknowledged.iter().map(|(_, ids)| ids.len()).sum();
    assert!(
        read_while_writing > 0,
        "the subscriber read nothing while the writers appended, so it proves nothing about late commits"
    );
    total_tx.send_replace(Some(total));
    let seen = tokio::time::timeout(wait::deadline(), subscriber)
        .await
        .expect("the subscriber keeps up")
        .expect("subscriber task");
    let positions: Vec<u64> = seen.iter().map(|e| e.position.get()).collect();
    assert_eq!(
        positions,
        (1..=total as u64).collect::<Vec<_>>(),
        "gap, repeat or reorder in the feed"
    );
    assert_eq!(store.head().await.expect("head").get(), total as u64);

    let by_position: BTreeMap<u64, &RecordedEvent> =
        seen.iter().map(|e| (e.position.get(), e)).collect();
    for (outcome, ids) in &acknowledged {
        let landed: Vec<_> = (outcome.first_position.get()..=outcome.last_position.get())
            .map(|p| by_position[&p].event_id)
            .collect();
        assert_eq!(&landed, ids, "an acknowledged append is missing or split");
    }
    let mut versions: BTreeMap<&str, u64> = BTreeMap::new();
    for event in &seen {
        let last = versions.entry(event.stream_id.as_str()).or_insert(0);
        assert_eq!(
            event.stream_version.get(),
            *last + 1,
            "stream versions out of order"
        );
        *last += 1;
    }
}

/// Many callers race to create one stream: exactly one wins, each loser gets its own conflict,
/// and appends to other streams in the same moment are untouched.
pub async fn a_conflict_reaches_only_its_caller(store: Arc<dyn EventStore>) {
    const RACERS: usize = 24;
    let contested = StreamId::from_static("contested");
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let store = Arc::clone(&store);
        let contested = contested.clone();
        tasks.push(tokio::spawn(async move {
            let own = StreamId::parse(format!("own-{i}")).expect("valid");
            let (race, own) = tokio::join!(
                store.append(&contested, ExpectedVersion::NoStream, numbered(2)),
                store.append(&own, ExpectedVersion::NoStream, numbered(1)),
            );
            (race, own)
        }));
    }
    let mut winners = 0;
    let mut ids = HashSet::new();
    for task in tasks {
        let (race, own) = task.await.expect("task");
        match race {
            Ok(outcome) => {
                winners += 1;
                assert_eq!(outcome.stream_version.get(), 2);
            }
            Err(StoreError::Conflict(conflict)) => assert_eq!(conflict.actual.get(), 2),
            Err(other) => panic!("unexpected error {other:?}"),
        }
        let own = own.expect("an uncontested append succeeds");
        assert!(
            ids.insert(own.first_position),
            "two appends share a position"
        );
    }
    assert_eq!(winners, 1);
    assert_eq!(store.head().await.expect("head").get(), RACERS as u64 + 2);
}

/// Reads the feed as it grows until `total` events (once known) have been read.
async fn follow(
    mut subscription: Subscription,
    read_so_far: Arc<AtomicUsize>,
    mut total: watch::Receiver<Option<usize>>,
) -> Vec<RecordedEvent> {
    let mut seen = Vec::new();
    loop {
        if total.borrow().is_some_and(|total| seen.len() >= total) {
            return seen;
        }
        tokio::select! {
            batch = subscription.next_batch() => {
                seen.extend(batch.expect("batch"));
                read_so_far.store(seen.len(), Ordering::SeqCst);
            }
            changed = total.changed() => changed.expect("the test is waiting"),
        }
    }
}

/// Thirty-two appends started together, so a group-committing store gathers them into shared
/// groups: one reuses a stored event id and two share a fresh one. Only the culprits are
/// refused (as duplicates); every other append lands, with no gap where a culprit was taken
/// out. The ADR's "recommit without it" path, on every backend.
pub async fn a_duplicate_id_among_concurrent_appends_refuses_only_its_append(
    store: Arc<dyn EventStore>,
) {
    const APPENDS: usize = 32;
    const REUSES_STORED: usize = 13;
    const SHARE_FRESH: [usize; 2] = [7, 21];
    let stored = numbered(1);
    let stored_id = stored[0].event_id;
    store
        .append(
            &StreamId::from_static("dup-stored"),
            ExpectedVersion::NoStream,
            stored,
        )
        .await
        .expect("the stored event");
    let shared_id = uuid::Uuid::now_v7();
    let start = Arc::new(tokio::sync::Barrier::new(APPENDS));
    let mut tasks = Vec::new();
    for i in 0..APPENDS {
        let store = Arc::clone(&store);
        let start = Arc::clone(&start);
        let mut events = numbered(2);
        if i == REUSES_STORED {
            events[1] = events[1].clone().with_event_id(stored_id);
        }
        if SHARE_FRESH.contains(&i) {
            events[0] = events[0].clone().with_event_id(shared_id);
        }
        tasks.push(tokio::spawn(async move {
            let s = StreamId::parse(format!("dup-{i}")).expect("valid");
            let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
            start.wait().await;
            (
                i,
                ids,
                store.append(&s, ExpectedVersion::NoStream, events).await,
            )
        }));
    }
    let mut landed = Vec::new();
    let mut refused = Vec::new();
    for task in tasks {
        let (i, ids, result) = task.await.expect("append task");
        match result {
            Ok(outcome) => landed.push((i, ids, outcome)),
            Err(StoreError::DuplicateEvent { event_id }) => refused.push((i, event_id)),
            Err(other) => panic!("append {i} failed with {other:?}, not as a duplicate"),
        }
    }
    refused.sort();
    assert_eq!(
        refused.len(),
        2,
        "exactly the two culprits are refused: {refused:?}"
    );
    assert!(
        refused.contains(&(REUSES_STORED, stored_id)),
        "the append reusing a stored id is refused naming it: {refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|(i, id)| SHARE_FRESH.contains(i) && *id == shared_id),
        "one of the two appends sharing an id is refused naming it: {refused:?}"
    );

    let head = 1 + 2 * (APPENDS as u64 - 2);
    let mut positions: Vec<u64> = landed
        .iter()
        .flat_map(|(_, _, o)| o.first_position.get()..=o.last_position.get())
        .collect();
    positions.sort_unstable();
    assert_eq!(
        positions,
        (2..=head).collect::<Vec<_>>(),
        "the landed appends fill the feed after the stored event without gap or overlap"
    );
    assert_eq!(store.head().await.expect("head").get(), head);
    let feed = store
        .read_all(GlobalPosition::ZERO, 1_000)
        .await
        .expect("feed");
    assert_eq!(
        feed.iter().map(|e| e.position.get()).collect::<Vec<_>>(),
        (1..=head).collect::<Vec<_>>()
    );
    for (i, ids, outcome) in &landed {
        let stored: Vec<_> = (outcome.first_position.get()..=outcome.last_position.get())
            .map(|p| feed[(p - 1) as usize].event_id)
            .collect();
        assert_eq!(&stored, ids, "append {i} is stored as acknowledged");
    }
    for (i, _) in &refused {
        let s = StreamId::parse(format!("dup-{i}")).expect("valid");
        assert_eq!(
            store.stream_version(&s).await.expect("version").get(),
            0,
            "refused append {i} left events behind"
        );
    }
    let next = store
        .append(
            &StreamId::from_static("dup-after"),
            ExpectedVersion::NoStream,
            numbered(1),
        )
        .await
        .expect("the store takes appends after the refusals");
    assert_eq!(next.first_position.get(), head + 1);
}
