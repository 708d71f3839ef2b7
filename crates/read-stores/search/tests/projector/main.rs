//! The search store driven by the projector: catch-up, live events and a rebuild on SQLite,
//! and on one PostgreSQL database two processes that each keep their own index.

#[allow(dead_code)]
#[path = "../common/notes.rs"]
mod notes;

use std::sync::Arc;
use std::time::Duration;

use notes::{NOTES, Note, Notes, search};
use projector_core::{EventStore, ExpectedVersion, LeaseProvider, StreamId};
use projector_postgres::{PgEventStore, PgEventStoreOptions, PgLeases};
use projector_runtime::{Projector, ProjectorHandle, ProjectorOptions, WorkerState};
use projector_search::{SearchStore, SearchTarget};
use projector_testkit::events::event;
use projector_testkit::postgres::TestDatabase;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// The suites' one deadline for waiting on something that should happen.
fn patience() -> Duration {
    projector_testkit::wait::deadline()
}

/// Appends `Noted` events for notes `from..to`, then tags every third of them.
async fn note(events: &dyn EventStore, from: usize, to: usize) -> u64 {
    let mut batch: Vec<_> = (from..to)
        .map(|i| {
            event(
                "Noted",
                json!({"id": format!("n{i}"), "text": format!("note number{i}")}),
            )
        })
        .collect();
    batch.extend(
        (from..to)
            .filter(|i| i % 3 == 0)
            .map(|i| event("Tagged", json!({"id": format!("n{i}"), "tag": "third"}))),
    );
    events
        .append(
            &StreamId::from_static("notes-1"),
            ExpectedVersion::Any,
            batch,
        )
        .await
        .expect("append")
        .last_position
        .get()
}

/// A projector of the notes into `store`, with `leases` if given.
fn start(
    events: Arc<dyn EventStore>,
    store: &SearchStore,
    leases: Option<Arc<dyn LeaseProvider>>,
) -> ProjectorHandle {
    let options = ProjectorOptions {
        batch_size: 50,
        ..ProjectorOptions::default()
    };
    let mut projector =
        Projector::new(events, options).with_target(SearchTarget::new(store.clone(), Notes));
    if let Some(leases) = leases {
        projector = projector.with_leases(leases);
    }
    projector.start(CancellationToken::new()).expect("start")
}

fn notes_in(store: &SearchStore) -> (usize, Vec<String>) {
    let read = store.read(&NOTES).expect("read");
    (
        read.searcher().num_docs() as usize,
        search(&read, "tags:third"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_up_follows_live_events_and_rebuilds() {
    let dir = projector_testkit::temp_dir();
    let events: Arc<dyn EventStore> = Arc::new(projector_testkit::sqlite::event_store(dir.path()));
    note(events.as_ref(), 0, 120).await;
    let store = SearchStore::open(dir.path().join("search")).expect("store");
    let projector = start(Arc::clone(&events), &store, None);
    let head = projector
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    let (count, thirds) = notes_in(&store);
    assert_eq!(count, 120);
    assert_eq!(thirds.len(), 40);
    assert_eq!(
        store.read(&NOTES).expect("read").checkpoint().position,
        head
    );

    let live = note(events.as_ref(), 120, 123).await;
    projector
        .wait_for(
            &NOTES,
            projector_core::GlobalPosition::new(live),
            patience(),
        )
        .await
        .expect("live events applied");
    let read = store.read(&NOTES).expect("read");
    assert!(read.checkpoint().position.get() >= live);
    assert_eq!(
        read.get::<Note>("n120").expect("note").map(|n| n.tags),
        Some(vec!["third".to_owned()])
    );

    let first = read.generation();
    let rebuilt = projector
        .rebuild_and_swap(&NOTES, patience())
        .await
        .expect("rebuild");
    assert!(rebuilt > first);
    let after = store.read(&NOTES).expect("read");
    assert_eq!(after.generation(), rebuilt);
    assert_eq!(notes_in(&store).0, 123);
    assert_eq!(search(&after, "number7"), ["n7"]);
    assert!(!store.generation_dir(&NOTES, first).exists());
    projector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_database_each_keep_their_own_index() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let process = || async {
        let events: Arc<dyn EventStore> = Arc::new(
            PgEventStore::connect(database.url(), PgEventStoreOptions::default())
                .await
                .expect("event store"),
        );
        let leases: Arc<dyn LeaseProvider> =
            Arc::new(PgLeases::new(database.url()).expect("leases"));
        (events, leases)
    };
    let (events_a, leases_a) = process().await;
    let (events_b, leases_b) = process().await;
    note(events_a.as_ref(), 0, 30).await;
    let dir = projector_testkit::temp_dir();
    let store_a = SearchStore::open(dir.path().join("a")).expect("store a");
    let store_b = SearchStore::open(dir.path().join("b")).expect("store b");
    let a = start(events_a.clone(), &store_a, Some(leases_a));
    let b = start(events_b.clone(), &store_b, Some(leases_b));

    // Each process projects its own index (neither stands by for the other), up to the head,
    // and goes on with the events either of them appends.
    for (handle, store) in [(&a, &store_a), (&b, &store_b)] {
        handle.wait_caught_up(patience()).await.expect("caught up");
        assert_eq!(notes_in(store).0, 30);
    }
    let last = note(events_b.as_ref(), 30, 36).await;
    for (handle, store) in [(&a, &store_a), (&b, &store_b)] {
        let reached = handle
            .wait_for(
                &NOTES,
                projector_core::GlobalPosition::new(last),
                patience(),
            )
            .await
            .expect("the other process's events applied");
        assert!(reached.get() >= last);
        let mut status = handle.watch(&NOTES).expect("status");
        let live = tokio::time::timeout(
            projector_testkit::wait::deadline(),
            status.wait_for(|s| s.state == WorkerState::Live),
        )
        .await
        .expect("live in time")
        .expect("the worker runs")
        .clone();
        assert!(live.checkpoint >= reached, "{live:?}");
        let (count, thirds) = notes_in(store);
        assert_eq!(count, 36);
        assert_eq!(thirds.len(), 12);
    }
    a.stop().await;
    b.stop().await;
}
