//! The projector against real SQLite stores: catch-up and live, restarts, poison events under
//! both policies, acting on dead letters, transient failures, rebuilds without downtime
//! (carried on across restarts and failovers, also on PostgreSQL), version changes, lag, and a
//! failover over a hung lease connection.

mod dead_letters;
mod failover;
mod faults;
mod helpers;
mod pacing;
mod pause;
mod resume;
mod setup;
mod versions;

use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use helpers::{Counting, Stores, patience};
use projector_core::{EventFeed, GlobalPosition, PoisonPolicy};
use projector_runtime::{RuntimeError, WaitError, WorkerState};
use projector_sql::SqlReadStore;
use projector_testkit::wait::{eventually, eventually_every, eventually_sync};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_up_then_follows_live_commits() {
    let stores = Stores::new();
    for s in 0..5 {
        stores.append(&format!("s-{s}"), 500, None).await;
    }
    let projection = Arc::new(Counting::new("counting", PoisonPolicy::Stop));
    let name = projection.name.clone();
    let (handle, shutdown) = stores.start(projection, 100);
    assert_eq!(
        handle
            .wait_caught_up(patience())
            .await
            .expect("caught up")
            .get(),
        2500
    );
    assert_eq!(stores.counted(&name).await, (2500, 2500));

    stores.append("s-live", 10, None).await;
    let head = stores.events.head().await.expect("head");
    handle
        .wait_for(&name, head, patience())
        .await
        .expect("live events applied");
    assert_eq!(stores.counted(&name).await, (2510, 2510));

    let (status, lag) = handle.lags().await.expect("lags").remove(0);
    assert_eq!(lag.events, 0);
    assert_eq!(lag.seconds, 0.0);
    assert_eq!(status.checkpoint, head);
    eventually_sync("the worker to settle into live", || {
        let state = handle.status(&name).expect("status").state;
        if state == WorkerState::Live {
            Ok(())
        } else {
            Err(state)
        }
    })
    .await;

    shutdown.cancel();
    handle.join().await;
    assert_eq!(
        handle.status(&name).expect("status").state,
        WorkerState::ShutDown
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_a_projection_ignores_still_move_its_checkpoint() {
    let stores = Stores::new();
    let events = (0..30)
        .map(|i| projector_testkit::events::event("Ignored", serde_json::json!({ "i": i })))
        .collect();
    projector_core::EventAppender::append(
        stores.events.as_ref(),
        &projector_core::StreamId::from_static("other"),
        projector_core::ExpectedVersion::Any,
        events,
    )
    .await
    .expect("append");
    let projection = Arc::new(Counting::new("counting", PoisonPolicy::Stop));
    let name = projection.name.clone();
    let (handle, _shutdown) = stores.start(projection, 7);
    handle.wait_caught_up(patience()).await.expect("caught up");
    assert_eq!(
        handle.status(&name).expect("status").checkpoint,
        GlobalPosition::new(30)
    );
    assert_eq!(stores.counted(&name).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_checkpoint() {
    let stores = Stores::new();
    stores.append("a", 300, None).await;
    let name;
    {
        let projection = Arc::new(Counting::new("counting", PoisonPolicy::Stop));
        name = projection.name.clone();
        let (handle, shutdown) = stores.start(projection, 64);
        handle.wait_caught_up(patience()).await.expect("caught up");
        shutdown.cancel();
        handle.join().await;
    }
    stores.append("a", 200, None).await;
    let (handle, _shutdown) =
        stores.start(Arc::new(Counting::new("counting", PoisonPolicy::Stop)), 64);
    handle
        .wait_caught_up(patience())
        .await
        .expect("caught up again");
    // Re-applying any event would break the primary key of `seen`; none was lost either.
    assert_eq!(stores.counted(&name).await, (500, 500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_stops_the_projection_under_the_stop_policy() {
    let stores = Stores::new();
    stores.append("p", 50, Some(20)).await;
    let projection = Arc::new(Counting::new("stopper", PoisonPolicy::Stop));
    let name = projection.name.clone();
    let (handle, _shutdown) = stores.start(projection, 16);
    match handle
        .wait_for(&name, GlobalPosition::new(50), patience())
        .await
    {
        Err(WaitError::Stopped {
            reached,
            stopped_at,
            error,
            ..
        }) => {
            assert_eq!(stopped_at, GlobalPosition::new(21));
            assert_eq!(reached, GlobalPosition::new(20));
            assert!(error.contains("poison"), "{error}");
        }
        other => panic!("expected the projection to stop, got {other:?}"),
    }
    assert_eq!(
        stores.counted(&name).await,
        (20, 20),
        "the events before the poison are kept"
    );
    let letters = stores
        .reads
        .dead_letters(&name)
        .await
        .expect("dead letters");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].position, GlobalPosition::new(21));
    assert_eq!(letters[0].attempts, 3);
    assert!(!letters[0].skipped);
    assert!(letters[0].error.contains("poison"));
    let status = handle.status(&name).expect("status");
    assert!(
        matches!(status.state, WorkerState::Stopped { position, .. } if position == GlobalPosition::new(21))
    );
    assert_eq!(status.dead_letters, 1);

    // Resuming retries the event; it fails again and its attempts add up.
    assert!(handle.resume(&name).await.expect("resume"));
    eventually("the resumed projection to fail the event again", || async {
        let letters = stores
            .reads
            .dead_letters(&name)
            .await
            .expect("dead letters");
        if letters[0].attempts == 6 {
            Ok(())
        } else {
            Err(letters)
        }
    })
    .await;
    assert_eq!(stores.counted(&name).await, (20, 20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_skipped_under_the_skip_policy() {
    let stores = Stores::new();
    stores.append("p", 50, Some(20)).await;
    stores.append("q", 10, Some(3)).await;
    let projection = Arc::new(Counting::new("skipper", PoisonPolicy::Skip));
    let name = projection.name.clone();
    let (handle, _shutdown) = stores.start(projection, 16);
    handle
        .wait_for(&name, GlobalPosition::new(60), patience())
        .await
        .expect("reaches the head");
    assert_eq!(stores.counted(&name).await, (58, 58));
    let letters = stores
        .reads
        .dead_letters(&name)
        .await
        .expect("dead letters");
    let positions: Vec<u64> = letters.iter().map(|l| l.position.get()).collect();
    assert_eq!(positions, [21, 54]);
    assert!(letters.iter().all(|l| l.skipped && l.attempts == 3));
    assert_eq!(letters[0].stream_id.as_str(), "p");
    assert_eq!(letters[0].event_type.as_str(), "Counted");
    assert_eq!(handle.status(&name).expect("status").dead_letters, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_without_dead_letters() {
    let stores = Stores::new();
    stores.append("t", 40, None).await;
    let projection = Arc::new(Counting {
        flaky: AtomicU32::new(7),
        ..Counting::new("flaky", PoisonPolicy::Stop)
    });
    let name = projection.name.clone();
    let (handle, _shutdown) = stores.start(projection, 10);
    handle
        .wait_for(&name, GlobalPosition::new(40), patience())
        .await
        .expect("reaches the head");
    assert_eq!(stores.counted(&name).await, (40, 40));
    assert!(
        stores
            .reads
            .dead_letters(&name)
            .await
            .expect("dead letters")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_swaps_in_a_new_generation_while_reads_go_on() {
    let stores = Stores::new();
    for s in 0..3 {
        stores.append(&format!("r-{s}"), 1000, None).await;
    }
    let projection = Arc::new(Counting::new("rebuilt", PoisonPolicy::Stop));
    let name = projection.name.clone();
    let (handle, _shutdown) = stores.start(projection, 50);
    handle.wait_caught_up(patience()).await.expect("caught up");
    let before = stores.reads.serving_file(&name).expect("serving file");

    let generation = handle.rebuild(&name).await.expect("rebuild starts");
    assert!(
        handle.rebuild(&name).await.is_err(),
        "one rebuild at a time"
    );
    // Until the swap the old generation serves everything; after it, the new one does. A
    // reader never sees a half-built read model.
    eventually_every(
        "the rebuild to complete",
        Duration::from_millis(1),
        || async {
            assert_eq!(stores.counted(&name).await, (3000, 3000));
            let status = handle.status(&name).expect("status");
            if status.generation == Some(generation) && status.rebuild.is_none() {
                Ok(())
            } else {
                Err(status)
            }
        },
    )
    .await;
    let after = stores.reads.serving_file(&name).expect("serving file");
    assert_ne!(before, after);
    assert!(
        !before.exists(),
        "the replaced generation's file is deleted"
    );
    assert_eq!(stores.counted(&name).await, (3000, 3000));

    stores.append("r-after", 5, None).await;
    handle
        .wait_for(&name, GlobalPosition::new(3005), patience())
        .await
        .expect("live after the swap");
    assert_eq!(stores.counted(&name).await, (3005, 3005));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_can_be_awaited_until_its_swap_and_one_that_cannot_swap_says_so() {
    let stores = Stores::new();
    stores.append("w-1", 500, None).await;
    let projection = Arc::new(Counting::new("awaited", PoisonPolicy::Stop));
    let name = projection.name.clone();
    let (handle, _shutdown) = stores.start(projection, 50);
    handle.wait_caught_up(patience()).await.expect("caught up");

    let generation = handle
        .rebuild_and_swap(&name, patience())
        .await
        .expect("rebuilt and swapped");
    let status = handle.status(&name).expect("status");
    assert_eq!(
        status.generation,
        Some(generation),
        "serving the new one on return"
    );
    assert_eq!(stores.counted(&name).await, (500, 500));

    // A poison event: the serving generation stops at it, and so does any rebuild.
    stores.append("w-2", 10, Some(4)).await;
    let mut watch = handle.watch(&name).expect("watch");
    tokio::time::timeout(
        projector_testkit::wait::deadline(),
        watch.wait_for(|s| matches!(s.state, WorkerState::Stopped { .. })),
    )
    .await
    .expect("stops in time")
    .expect("worker alive");
    let abandoned = handle.rebuild_and_swap(&name, patience()).await;
    assert!(
        matches!(
            abandoned,
            Err(RuntimeError::Wait(WaitError::RebuildAbandoned { .. }))
        ),
        "{abandoned:?}"
    );

    handle.stop().await;
    assert_eq!(
        handle.status(&name).expect("status").state,
        WorkerState::ShutDown
    );
}
