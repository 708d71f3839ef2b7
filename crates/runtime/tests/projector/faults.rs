//! The paths between the happy ones: a projection that panics, a worker that panics while it
//! holds a lease, a read model ahead of its event store, and a projector on an event store
//! another process writes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use projector_core::{
    EventAppender, EventFeed, ExpectedVersion, GlobalPosition, PoisonPolicy, StreamId,
};
use projector_runtime::{WaitError, WorkerState};
use projector_sql::SqlReadStore;
use projector_sqlite::SqliteEventStore;
use projector_testkit::sqlite;
use projector_testkit::wait::eventually;

use crate::helpers::{Counting, patience};
use crate::setup::{NAME, Setup, append, append_marked, dump, leases, postgres_stores, start};
use crate::versions::until;

fn counting(policy: PoisonPolicy) -> Arc<Counting> {
    Arc::new(Counting::new("resumed", policy))
}

/// A panic in the projection's code is the event failing: retried, then dead-lettered and
/// skipped under the skip policy, while the worker runs on and keeps its lease.
async fn a_panic_is_a_failing_event(setup: Setup, url: Option<String>) {
    append_marked(setup.events.as_ref(), "p", 20, Some((7, "panic"))).await;
    let leases = url.as_deref().map(leases);
    let (handle, stop) = start(
        setup.events.clone(),
        setup.reads.clone(),
        counting(PoisonPolicy::Skip),
        leases,
    );
    handle
        .wait_caught_up(patience())
        .await
        .expect("the projection goes past the panic");
    let letters = setup.reads.dead_letters(&NAME).await.expect("dead letters");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].position, GlobalPosition::new(8));
    assert!(
        letters[0].error.contains("panicked") && letters[0].attempts == 3,
        "{:?}",
        letters[0]
    );
    assert_eq!(dump(setup.reads.as_ref()).await.len(), 19 + 1);

    // The worker is alive and still runs the projection here (with leases: still holds it).
    append(setup.events.as_ref(), "later", 3).await;
    handle.wait_caught_up(patience()).await.expect("live again");
    until(&handle, "it is live", |s| s.state == WorkerState::Live).await;
    assert_eq!(dump(setup.reads.as_ref()).await.len(), 22 + 1);
    stop.cancel();
    handle.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_projection_is_dead_lettered_on_sqlite() {
    a_panic_is_a_failing_event(Setup::sqlite(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_projection_is_dead_lettered_on_postgres() {
    let Some((setup, url)) = Setup::postgres().await else {
        return;
    };
    a_panic_is_a_failing_event(setup, Some(url)).await;
}

/// Under the stop policy the projection stops at the panicking event with its message, and
/// stays resumable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_projection_stops_under_the_stop_policy() {
    let setup = Setup::sqlite();
    append_marked(setup.events.as_ref(), "p", 10, Some((4, "panic"))).await;
    let (handle, stop) = start(
        setup.events.clone(),
        setup.reads.clone(),
        counting(PoisonPolicy::Stop),
        None,
    );
    let stopped = until(&handle, "it stops at the panic", |s| {
        matches!(s.state, WorkerState::Stopped { .. })
    })
    .await;
    match &stopped.state {
        WorkerState::Stopped { position, error } => {
            assert_eq!(*position, GlobalPosition::new(5));
            assert!(
                error.contains("this event makes the projection panic"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(stopped.checkpoint, GlobalPosition::new(4));
    assert!(
        handle.resume(&NAME).await.expect("resume"),
        "it was stopped"
    );
    until(&handle, "it stops there again", |s| {
        matches!(s.state, WorkerState::Stopped { .. })
    })
    .await;
    stop.cancel();
    handle.join().await;
}

/// A panic elsewhere in a worker (here, in the projection's schema while a rebuild starts)
/// gives the lease up at once: the standby takes over, and the worker that panicked stands by.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_panics_gives_its_lease_up_on_postgres() {
    let Some((setup, url)) = Setup::postgres().await else {
        return;
    };
    append(setup.events.as_ref(), "p", 30).await;
    let panicky = counting(PoisonPolicy::Stop);
    let (holder, stop_holder) = start(
        setup.events.clone(),
        setup.reads.clone(),
        panicky.clone(),
        Some(leases(&url)),
    );
    holder.wait_caught_up(patience()).await.expect("caught up");
    until(&holder, "it runs the projection", |s| {
        s.state == WorkerState::Live
    })
    .await;
    let (events, reads) = postgres_stores(&url).await;
    let (standby, stop_standby) = start(
        events,
        reads,
        counting(PoisonPolicy::Stop),
        Some(leases(&url)),
    );
    until(&standby, "the other stands by", |s| {
        s.state == WorkerState::Standby
    })
    .await;

    panicky.schema_panics.store(true, Ordering::SeqCst);
    assert!(
        holder.rebuild(&NAME).await.is_err(),
        "the rebuild's worker panicked before answering"
    );
    until(&standby, "the standby takes over", |s| {
        s.state == WorkerState::Live
    })
    .await;
    until(&holder, "the worker that panicked stands by", |s| {
        s.state == WorkerState::Standby
    })
    .await;
    assert!(
        setup
            .reads
            .building(&NAME)
            .await
            .expect("building")
            .is_empty(),
        "the rebuild that panicked left nothing behind"
    );
    append(setup.events.as_ref(), "q", 5).await;
    standby.wait_caught_up(patience()).await.expect("caught up");
    assert_eq!(dump(setup.reads.as_ref()).await.len(), 35 + 1);
    stop_holder.cancel();
    stop_standby.cancel();
    holder.join().await;
    standby.join().await;
}

/// An event store restored from an older copy (or one that lost its last commits) ends below
/// the read model's checkpoint. The projector refuses to project onto it, naming the fix, and
/// reads that wait for a position are refused rather than answered from it; a rebuild mends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_model_ahead_of_the_event_store_is_refused_until_rebuilt() {
    let dir = projector_testkit::temp_dir();
    let backup = projector_testkit::temp_dir();
    let events_path = dir.path().join("events.db");
    {
        let events = sqlite::event_store(dir.path());
        append(&events, "a", 10).await;
        events.close().await;
    }
    copy_store(&events_path, &backup.path().join("events.db"));
    {
        let events = Arc::new(sqlite::event_store(dir.path()));
        append(events.as_ref(), "a", 10).await;
        let reads = Arc::new(sqlite::read_store(dir.path()));
        let (handle, stop) = start(events.clone(), reads, counting(PoisonPolicy::Stop), None);
        handle.wait_caught_up(patience()).await.expect("caught up");
        stop.cancel();
        handle.join().await;
        drop(handle);
        events.close().await;
    }
    // The event store comes back from the backup, ten events short of the read model.
    copy_store(&backup.path().join("events.db"), &events_path);
    let events = Arc::new(sqlite::event_store(dir.path()));
    let reads = Arc::new(sqlite::read_store(dir.path()));
    let (handle, stop) = start(
        events.clone(),
        reads.clone(),
        counting(PoisonPolicy::Stop),
        None,
    );
    let refused = until(&handle, "it refuses to project", |s| {
        matches!(s.state, WorkerState::Diverged { .. })
    })
    .await;
    match &refused.state {
        WorkerState::Diverged {
            checkpoint,
            head,
            error,
        } => {
            assert_eq!((checkpoint.get(), head.get()), (20, 10));
            assert!(error.contains("projector rebuild resumed"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    // New events reuse positions 11 and up; none is applied onto the diverged read model.
    append(events.as_ref(), "b", 5).await;
    match handle
        .wait_for(&NAME, GlobalPosition::new(15), Duration::from_millis(300))
        .await
    {
        Err(WaitError::Diverged { reached, head, .. }) => {
            assert_eq!((reached.get(), head.get()), (20, 10));
        }
        other => panic!("a read must not be answered from a diverged read model: {other:?}"),
    }
    assert_eq!(dump(reads.as_ref()).await.len(), 20 + 1, "nothing applied");

    let rebuilt = handle.rebuild(&NAME).await.expect("rebuild");
    until(&handle, "the rebuild replaces it", |s| {
        s.generation == Some(rebuilt) && s.state == WorkerState::Live
    })
    .await;
    assert_eq!(
        handle.wait_caught_up(patience()).await.expect("caught up"),
        GlobalPosition::new(15)
    );
    let rows = dump(reads.as_ref()).await;
    assert_eq!(
        rows.len(),
        15 + 1,
        "the read model is the event store's again"
    );
    stop.cancel();
    handle.join().await;
}

/// Copies a closed SQLite store's file over `to`, dropping `to`'s WAL companions.
fn copy_store(from: &std::path::Path, to: &std::path::Path) {
    for suffix in ["-wal", "-shm"] {
        let mut companion = to.as_os_str().to_owned();
        companion.push(suffix);
        let _ = std::fs::remove_file(companion);
    }
    std::fs::copy(from, to).expect("copy the event store");
}

/// A projector on an event store opened read-only (beside the process that writes it) follows
/// that process's appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_on_a_read_only_store_follows_the_writer() {
    let dir = projector_testkit::temp_dir();
    let path = dir.path().join("events.db");
    let writer = sqlite::event_store(dir.path());
    append(&writer, "a", 5).await;
    let reader = Arc::new(SqliteEventStore::open_read_only(&path).expect("read-only store"));
    let reads = Arc::new(sqlite::read_store(dir.path()));
    let (handle, stop) = start(reader, reads.clone(), counting(PoisonPolicy::Stop), None);
    handle.wait_caught_up(patience()).await.expect("caught up");

    writer
        .append(
            &StreamId::from_static("b"),
            ExpectedVersion::Any,
            vec![projector_testkit::events::event(
                "Counted",
                serde_json::json!({"n": 0, "poison": false}),
            )],
        )
        .await
        .expect("append");
    let head = writer.head().await.expect("head");
    handle
        .wait_for(&NAME, head, patience())
        .await
        .expect("the projector sees the other process's append");
    assert_eq!(dump(reads.as_ref()).await.len(), 6 + 1);
    stop.cancel();
    handle.join().await;
}

/// Two projectors run the same generation at once, with no lease between them, while writers
/// append: each batch is applied by one of them and refused to the other by the checkpoint's
/// fence, so every event is applied exactly once and the read model equals a fresh build.
/// Each fails now and then (transiently), so the lead passes back and forth between them.
async fn two_workers_on_one_generation(setup: Setup, second: Setup2) {
    const WRITERS: usize = 4;
    const EVENTS: usize = 1_000;
    let hiccupping = || {
        Arc::new(Counting {
            hiccup_every: 4,
            ..Counting::new("resumed", PoisonPolicy::Stop)
        })
    };
    let first_projection = hiccupping();
    let second_projection = hiccupping();
    let (first, stop_first) = start(
        setup.events.clone(),
        setup.reads.clone(),
        first_projection.clone(),
        None,
    );
    // One generation for both (racing first starts are another test's).
    assert!(
        first.wait_started(patience()).await,
        "the first opens its read model"
    );
    let (second, stop_second) = start(second.events, second.reads, second_projection.clone(), None);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let events = setup.events.clone();
            tokio::spawn(async move {
                for chunk in 0..EVENTS / 20 {
                    append(events.as_ref(), &format!("w{w}-{}", chunk % 7), 20).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let head = first
        .wait_caught_up(patience())
        .await
        .expect("first caught up");
    second
        .wait_for(&NAME, head, patience())
        .await
        .expect("second caught up");
    let total = (WRITERS * EVENTS) as u64;
    assert_eq!(head.get(), total);
    let by_first = first_projection.applied.load(Ordering::SeqCst);
    let by_second = second_projection.applied.load(Ordering::SeqCst);
    assert!(
        by_first > 0 && by_second > 0,
        "both applied batches: {by_first} and {by_second}"
    );
    assert_eq!(
        by_first + by_second,
        total,
        "every event applied exactly once between them"
    );
    assert!(
        setup
            .reads
            .dead_letters(&NAME)
            .await
            .expect("dead letters")
            .is_empty()
    );
    let rows = dump(setup.reads.as_ref()).await;
    assert_eq!(rows.len() as u64, total + 1);
    assert_eq!(rows, setup.fresh_build().await);
    stop_first.cancel();
    stop_second.cancel();
    first.join().await;
    second.join().await;
}

/// The second projector's view of the same storage.
struct Setup2 {
    events: Arc<dyn projector_core::EventStore>,
    reads: Arc<dyn SqlReadStore>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_generation_apply_each_event_once_on_sqlite() {
    let setup = Setup::sqlite();
    let second = Setup2 {
        events: setup.events.clone(),
        reads: setup.reads.clone(),
    };
    two_workers_on_one_generation(setup, second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_generation_apply_each_event_once_on_postgres() {
    let Some((setup, url)) = Setup::postgres().await else {
        return;
    };
    let (events, reads) = postgres_stores(&url).await;
    two_workers_on_one_generation(setup, Setup2 { events, reads }).await;
}

/// A swap commits but its answer is lost (the connection dies after the server has carried
/// the COMMIT out): the retry is refused, the worker reads the catalog again, finds the new
/// generation serving and carries on from it, and reads that wait for a position are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_whose_answer_is_lost_is_found_done_on_postgres() {
    let Some((setup, url)) = Setup::postgres().await else {
        return;
    };
    let proxy = projector_testkit::proxy::Proxy::start(&url).await;
    let reads: Arc<dyn SqlReadStore> = Arc::new(
        projector_postgres::PgReadStore::connect(
            proxy.url(),
            projector_postgres::PgReadStoreOptions::default(),
        )
        .await
        .expect("read store through the proxy"),
    );
    append(setup.events.as_ref(), "a", 200).await;
    let (handle, stop) = start(
        setup.events.clone(),
        reads.clone(),
        counting(PoisonPolicy::Stop),
        None,
    );
    handle.wait_caught_up(patience()).await.expect("caught up");
    let old = handle
        .status(&NAME)
        .and_then(|s| s.generation)
        .expect("serving");

    // The COMMIT of the transaction that makes the new generation serve.
    proxy.lose_reply_after(b"SET state = 'serving'", b"COMMIT");
    let rebuilt = handle.rebuild(&NAME).await.expect("rebuild");
    until(&handle, "the worker serves the new generation", |s| {
        s.generation == Some(rebuilt) && s.rebuild.is_none() && s.state == WorkerState::Live
    })
    .await;
    assert_eq!(proxy.lost_replies(), 1, "the swap's answer was lost");
    let serving = setup.reads.serving(&NAME).await.expect("catalog");
    assert_eq!(serving.map(|s| s.generation), Some(rebuilt));
    assert!(setup.reads.checkpoint(&NAME, old).await.is_err());

    append(setup.events.as_ref(), "b", 5).await;
    let head = setup.events.head().await.expect("head");
    handle
        .wait_for(&NAME, head, patience())
        .await
        .expect("reads that wait for a new position are answered");
    assert_eq!(dump(setup.reads.as_ref()).await, setup.fresh_build().await);
    stop.cancel();
    handle.join().await;
}

/// Processes that start a new projection at the same moment race to create its first
/// generation: one serves, a generation made for the race is dropped by its maker (or, if
/// another process took it up as an unfinished rebuild first, finished and swapped in), and
/// the read model ends complete with no generation left behind.
async fn racing_first_starts(setup: Setup, others: Vec<Setup2>) {
    append(setup.events.as_ref(), "r", 30).await;
    let mut handles = vec![start(
        setup.events.clone(),
        setup.reads.clone(),
        counting(PoisonPolicy::Stop),
        None,
    )];
    for other in others {
        handles.push(start(
            other.events,
            other.reads,
            counting(PoisonPolicy::Stop),
            None,
        ));
    }
    for (handle, _) in &handles {
        handle.wait_caught_up(patience()).await.expect("caught up");
    }
    eventually("no generation made for the race left behind", || async {
        let building = setup.reads.building(&NAME).await.expect("building");
        if building.is_empty() {
            Ok(())
        } else {
            Err(building)
        }
    })
    .await;
    assert!(setup.reads.serving(&NAME).await.expect("catalog").is_some());
    assert_eq!(dump(setup.reads.as_ref()).await, setup.fresh_build().await);
    for (handle, stop) in handles {
        stop.cancel();
        handle.join().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_first_starts_leave_one_generation_on_postgres() {
    let Some((setup, url)) = Setup::postgres().await else {
        return;
    };
    let mut others = Vec::new();
    for _ in 0..3 {
        let (events, reads) = postgres_stores(&url).await;
        others.push(Setup2 { events, reads });
    }
    racing_first_starts(setup, others).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_first_starts_leave_one_generation_on_sqlite() {
    let setup = Setup::sqlite();
    let others = (0..3)
        .map(|_| Setup2 {
            events: setup.events.clone(),
            reads: setup.reads.clone(),
        })
        .collect();
    racing_first_starts(setup, others).await;
}
