//! The embedded store's group commit (ADR 0001), on paths the shared conformance suite cannot
//! force: here SQLite's write lock is held from outside so that appends pile up into known
//! groups.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Waker};

use projector_core::{
    AppendOutcome, CausationId, CorrelationId, EventAppender, EventFeed, EventMetadata,
    ExpectedVersion, GlobalPosition, StoreError, StreamId, StreamReader, StreamVersion, UserId,
};
use projector_sqlite::{SqliteEventStore, SqliteEventStoreOptions};
use projector_testkit::events::numbered;

type Pending = Pin<Box<dyn Future<Output = Result<AppendOutcome, StoreError>> + Send>>;

/// Starts an append and polls it once: that puts it on the writer's queue (which has room),
/// and the append is then pending until the writer answers.
///
/// It pauses first: an append that follows the last lone answer back to back is taken for
/// part of a caller's loop and commits on the caller's thread, which would wait here for the
/// write lock this thread holds.
fn enqueue(
    store: &Arc<SqliteEventStore>,
    i: usize,
    events: Vec<projector_core::NewEvent>,
) -> Pending {
    std::thread::sleep(std::time::Duration::from_millis(1));
    let store = Arc::clone(store);
    let mut append: Pending = Box::pin(async move {
        let s = StreamId::parse(format!("held-{i}")).expect("valid");
        store.append(&s, ExpectedVersion::NoStream, events).await
    });
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        append.as_mut().poll(&mut cx).is_pending(),
        "append {i} was answered while SQLite's write lock is held"
    );
    append
}

/// Appends queued behind a held write lock commit in at most two groups (the one the writer
/// was blocked on, then everything queued meanwhile), so the duplicate in the middle shares a
/// group with others whichever way they split: it alone is refused, the group is committed
/// again without it, and the feed has no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_in_a_group_is_taken_out_and_the_rest_commit_together() {
    const APPENDS: usize = 12;
    const CULPRIT: usize = 6;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("events.db");
    let store =
        Arc::new(SqliteEventStore::open(&path, SqliteEventStoreOptions::default()).expect("open"));
    let stored = numbered(1);
    let stored_id = stored[0].event_id;
    store
        .append(
            &StreamId::from_static("stored"),
            ExpectedVersion::NoStream,
            stored,
        )
        .await
        .expect("the stored event");

    let holder = rusqlite::Connection::open(&path).expect("a second connection");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("hold SQLite's write lock");
    let mut pending = Vec::new();
    let mut sent = Vec::new();
    for i in 0..APPENDS {
        let mut events = numbered(2);
        if i == CULPRIT {
            events[1] = events[1].clone().with_event_id(stored_id);
        }
        sent.push(events.iter().map(|e| e.event_id).collect::<Vec<_>>());
        pending.push(enqueue(&store, i, events));
    }
    holder.execute_batch("ROLLBACK").expect("release the lock");

    let mut landed = Vec::new();
    for (i, append) in pending.into_iter().enumerate() {
        match append.await {
            Err(StoreError::DuplicateEvent { event_id }) if i == CULPRIT => {
                assert_eq!(event_id, stored_id)
            }
            Ok(outcome) if i != CULPRIT => landed.push((i, outcome)),
            other => panic!("append {i}: {other:?}"),
        }
    }
    assert_eq!(landed.len(), APPENDS - 1);
    let feed = store
        .read_all(GlobalPosition::ZERO, 1_000)
        .await
        .expect("feed");
    let head = 1 + 2 * (APPENDS as u64 - 1);
    assert_eq!(
        feed.iter().map(|e| e.position.get()).collect::<Vec<_>>(),
        (1..=head).collect::<Vec<_>>(),
        "no gap where the culprit was taken out"
    );
    assert_eq!(store.head().await.expect("head").get(), head);
    for (i, outcome) in &landed {
        let ids: Vec<_> = (outcome.first_position.get()..=outcome.last_position.get())
            .map(|p| feed[(p - 1) as usize].event_id)
            .collect();
        assert_eq!(ids, sent[*i], "append {i} is stored as acknowledged");
    }
    // A group is one transaction and stamps one time on all it commits.
    let mut commits: Vec<_> = feed[1..].iter().map(|e| e.recorded_at).collect();
    commits.dedup();
    assert!(
        commits.len() <= 2,
        "the queued appends committed in {} transactions, not in groups",
        commits.len()
    );
    let culprit = StreamId::parse(format!("held-{CULPRIT}")).expect("valid");
    assert_eq!(
        store.stream_version(&culprit).await.expect("version").get(),
        0
    );
}

/// Two appends queued behind a held write lock carry the same new event id: whichever way the
/// queue splits into groups, the first queued commits with it and the second alone is
/// refused, naming it; the rest commit, and the feed has no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_queued_appends_sharing_a_new_id_the_second_alone_is_refused() {
    const APPENDS: usize = 12;
    const FIRST: usize = 3;
    const SECOND: usize = 8;
    let dir = projector_testkit::temp_dir();
    let path = dir.path().join("events.db");
    let store =
        Arc::new(SqliteEventStore::open(&path, SqliteEventStoreOptions::default()).expect("open"));
    let shared = numbered(1)[0].event_id;

    let holder = rusqlite::Connection::open(&path).expect("a second connection");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("hold SQLite's write lock");
    let pending: Vec<Pending> = (0..APPENDS)
        .map(|i| {
            let mut events = numbered(2);
            if i == FIRST || i == SECOND {
                events[0] = events[0].clone().with_event_id(shared);
            }
            enqueue(&store, i, events)
        })
        .collect();
    holder.execute_batch("ROLLBACK").expect("release the lock");

    for (i, append) in pending.into_iter().enumerate() {
        match append.await {
            Err(StoreError::DuplicateEvent { event_id }) if i == SECOND => {
                assert_eq!(event_id, shared)
            }
            Ok(_) if i != SECOND => {}
            other => panic!("append {i}: {other:?}"),
        }
    }
    let feed = store
        .read_all(GlobalPosition::ZERO, 1_000)
        .await
        .expect("feed");
    let head = 2 * (APPENDS as u64 - 1);
    assert_eq!(
        feed.iter().map(|e| e.position.get()).collect::<Vec<_>>(),
        (1..=head).collect::<Vec<_>>(),
        "no gap where the second was taken out"
    );
    let carrying: Vec<_> = feed.iter().filter(|e| e.event_id == shared).collect();
    assert_eq!(carrying.len(), 1, "the id is stored once");
    assert_eq!(carrying[0].stream_id.as_str(), format!("held-{FIRST}"));
}

/// Projections following the head are answered from the events the writer kept as it
/// committed them, not from the file: that copy must be the file's, event for event. Appends
/// of every shape (metadata, a newer schema, a stream's later versions, a group committed again
/// without a refused append) read the same at the head and from the file after a reopen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_read_at_the_head_is_the_one_the_file_holds() {
    let dir = projector_testkit::temp_dir();
    let path = dir.path().join("events.db");
    let store =
        Arc::new(SqliteEventStore::open(&path, SqliteEventStoreOptions::default()).expect("open"));
    let metadata = EventMetadata {
        correlation_id: Some(CorrelationId::parse("corr-1").expect("an id")),
        causation_id: Some(CausationId::parse("cause-1").expect("an id")),
        user_id: Some(UserId::parse("ada").expect("an id")),
    };
    let stream = StreamId::from_static("shaped");
    for version in 0..3 {
        let events = numbered(2)
            .into_iter()
            .map(|e| e.with_metadata(metadata.clone()).with_schema_version(3))
            .collect();
        store
            .append(
                &stream,
                ExpectedVersion::Exact(StreamVersion::new(version * 2)),
                events,
            )
            .await
            .expect("append");
    }
    let duplicate = numbered(1)[0].event_id;
    let holder = rusqlite::Connection::open(&path).expect("a second connection");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("hold SQLite's write lock");
    let pending: Vec<Pending> = (0..6)
        .map(|i| {
            let mut events = numbered(2);
            if i == 1 || i == 4 {
                events[1] = events[1].clone().with_event_id(duplicate);
            }
            enqueue(&store, i, events)
        })
        .collect();
    holder.execute_batch("ROLLBACK").expect("release the lock");
    for append in pending {
        let _ = append.await;
    }

    let at_head = store
        .read_all(GlobalPosition::ZERO, 1_000)
        .await
        .expect("feed");
    assert_eq!(at_head.len(), 6 + 5 * 2, "one append refused");
    let middle = store
        .read_all(GlobalPosition::new(5), 4)
        .await
        .expect("a page");
    store.close().await;
    drop(store);

    let reopened = SqliteEventStore::open(&path, SqliteEventStoreOptions::default()).expect("open");
    let from_file = reopened
        .read_all(GlobalPosition::ZERO, 1_000)
        .await
        .expect("feed");
    assert_eq!(at_head, from_file);
    assert_eq!(middle, from_file[5..9]);
}
