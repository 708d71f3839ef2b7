//! The change feed under concurrency: gap-free, ordered, woken on commit, each caller answered
//! for its own append.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use projector_core::{
    EventStore, ExpectedVersion, GlobalPosition, StoreError, StreamId, Subscription,
};

use tokio::sync::watch;

use crate::events::numbered;

const PATIENCE: Duration = Duration::from_secs(10);

/// A commit moves the head watch without anyone polling.
pub async fn head_watch_wakes_on_commit(store: Arc<dyn EventStore>) {
    let mut watch = store.watch_head();
    assert_eq!(*watch.borrow_and_update(), GlobalPosition::ZERO);
    let writer = Arc::clone(&store);
    let append = tokio::spawn(async move {
        // This sleep stays: the append must come after the watch is awaited, to show a commit
        // wakes a waiting watcher; an earlier append would pass by the value already there.
        tokio::time::sleep(Duration::from_millis(50)).await;
        writer
            .append(
                &StreamId::from_static("watch-1"),
                ExpectedVersion::Any,
                numbered(2),
            )
            .await
    });
    tokio::time::timeout(PATIENCE, watch.wait_for(|head| head.get() >= 2))
        .await
        .expect("the watch woke within the time limit")
        .expect("the store is open");
    append.await.expect("task").expect("append");
}

/// A subscription delivers history, then live events, each once and in order.
pub async fn subscription_catches_up_then_follows(store: Arc<dyn EventStore>) {
    let s = StreamId::from_static("sub-1");
    store
        .append(&s, ExpectedVersion::Any, numbered(5))
        .await
        .expect("history");
    let mut subscription = Subscription::new(Arc::clone(&store) as _, GlobalPosition::new(1), 3);
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

    let live = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < 4 {
            let batch = subscription.next_batch().await.expect("live batch");
            got.extend(batch.into_iter().map(|e| e.position.get()));
        }
        got
    });
    // This sleep stays: it lets the subscriber park before the live appends, so they reach it
    // by waking it; nothing outside the subscription shows it parked.
    tokio::time::sleep(Duration::from_millis(50)).await;
    store
        .append(&s, ExpectedVersion::Any, numbered(1))
        .await
        .expect("live 1");
    store
        .append(&s, ExpectedVersion::Any, numbered(3))
        .await
        .expect("live 2");
    let got = tokio::time::timeout(PATIENCE, live)
        .await
        .expect("live events arrive")
        .expect("task");
    assert_eq!(got, [6, 7, 8, 9]);
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
    let seen = tokio::time::timeout(PATIENCE, subscriber)
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

    let by_position: BTreeMap<u64, &projector_core::RecordedEvent> =
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
) -> Vec<projector_core::RecordedEvent> {
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
