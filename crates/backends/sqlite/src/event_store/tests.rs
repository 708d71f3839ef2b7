//! The embedded event store's own tests: what only its internals can show.

use std::sync::atomic::{AtomicBool, Ordering};

use projector_core::{EventType, JsonPayload};

use super::*;

fn events(n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| {
            NewEvent::new(
                EventType::parse("Tested").expect("valid"),
                JsonPayload::encode(&serde_json::json!({ "n": i })).expect("json"),
            )
        })
        .collect()
}

fn rows_on_disk(path: &Path) -> i64 {
    Connection::open(path)
        .expect("a second connection")
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .expect("count")
}

/// ADR 0001: a failed COMMIT leaves the disk state unknown, so the store refuses every
/// later append (even once the disk would take it) until reopened, and nothing of the
/// failed group is visible. A commit hook fails the COMMIT, as a full disk would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_poisons_the_store_until_it_is_reopened() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("events.db");
    let fail = Arc::new(AtomicBool::new(false));
    let hook = Arc::clone(&fail);
    let store =
        SqliteEventStore::open_with(&path, SqliteEventStoreOptions::default(), move |conn| {
            conn.commit_hook(Some(move || hook.load(Ordering::SeqCst)))
        })
        .expect("open");
    let s = StreamId::from_static("poison-1");
    store
        .append(&s, ExpectedVersion::NoStream, events(2))
        .await
        .expect("a healthy commit");

    fail.store(true, Ordering::SeqCst);
    let failed = store.append(&s, ExpectedVersion::Any, events(3)).await;
    let reason = match failed {
        Err(StoreError::Poisoned(reason)) => reason,
        other => panic!("a failed commit answers Poisoned, got {other:?}"),
    };
    assert!(
        reason.contains("commit failed"),
        "the reason says why: {reason}"
    );

    fail.store(false, Ordering::SeqCst);
    for expected in [ExpectedVersion::Any, ExpectedVersion::NoStream] {
        let stream = StreamId::from_static("poison-2");
        match store.append(&stream, expected, events(1)).await {
            Err(error @ StoreError::Poisoned(_)) => assert!(
                error.to_string().contains("poisoned after a failed write"),
                "a clear refusal: {error}"
            ),
            other => panic!("a poisoned store refuses appends, got {other:?}"),
        }
    }
    assert_eq!(store.head().await.expect("head"), GlobalPosition::new(2));
    let feed = store
        .read_all(GlobalPosition::ZERO, 100)
        .await
        .expect("feed");
    assert_eq!(feed.len(), 2, "nothing of the failed group is visible");
    assert_eq!(
        store.stream_version(&s).await.expect("version"),
        StreamVersion::new(2)
    );
    assert_eq!(
        rows_on_disk(&path),
        2,
        "nothing of the failed group is on disk"
    );

    store.close().await;
    drop(store);
    let reopened =
        SqliteEventStore::open(&path, SqliteEventStoreOptions::default()).expect("reopen");
    let next = reopened
        .append(&s, ExpectedVersion::Exact(StreamVersion::new(2)), events(1))
        .await
        .expect("a reopened store appends again");
    assert_eq!(next.first_position, GlobalPosition::new(3));
}

/// A caller appending in a loop on its own commits on its own thread rather than the
/// writer's, which would add a hand-off each way to every append.
#[tokio::test(flavor = "current_thread")]
async fn a_lone_caller_appending_in_a_loop_commits_on_its_own_thread() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let committed_on = Arc::new(Mutex::new(Vec::new()));
    let hook = Arc::clone(&committed_on);
    // Without a sync per commit, each append takes well under the 1 ms that sends the next one
    // to the writer's thread, even on a machine busy with other tests.
    let options = SqliteEventStoreOptions {
        durability: Durability::Normal,
        ..SqliteEventStoreOptions::default()
    };
    let store = SqliteEventStore::open_with(dir.path().join("events.db"), options, move |conn| {
        conn.commit_hook(Some(move || {
            let thread = std::thread::current().name().map(str::to_owned);
            lock(&hook).push(thread);
            false
        }))
    })
    .expect("open");
    let appends = 200;
    for i in 0..appends {
        let stream = StreamId::parse(format!("loop-{i}")).expect("valid");
        store
            .append(&stream, ExpectedVersion::NoStream, events(4))
            .await
            .expect("append");
    }
    let threads = std::mem::take(&mut *lock(&committed_on));
    assert_eq!(threads.len(), appends, "one commit per append");
    let on_writer = threads
        .iter()
        .filter(|name| name.as_deref() == Some("projector-sqlite-writer"))
        .count();
    // The first append, and any after a slow one (a busy machine preempts the loop now and
    // then), go to the writer's thread; one that only ever queued would put all 200 there.
    assert!(
        on_writer <= appends * 3 / 4,
        "{on_writer} of {appends} commits on the writer's thread"
    );
    assert_eq!(
        store.head().await.expect("head"),
        GlobalPosition::new(4 * appends as u64)
    );
}
