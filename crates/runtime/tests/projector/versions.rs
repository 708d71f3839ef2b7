//! A new projection version during a rolling deploy: the old version's read model keeps serving
//! reads, complete, until the new version's has caught up and is swapped in, as in a rebuild;
//! and processes of different versions taking the lease in turns never undo each other's work
//! (the newer version builds; the older keeps serving its own and leaves that build be).

use std::sync::Arc;
use std::time::Duration;

use projector_core::{EventFeed, Generation, GlobalPosition, PoisonPolicy};
use projector_runtime::{ProjectionStatus, ProjectorHandle, WaitError, WorkerState};
use projector_sql::SqlReadStore;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Counting, Stall, patience};
use crate::setup::{NAME, PER_STREAM, Setup, append, dump, leases, postgres_stores, start};

/// Where the new version's build is held back.
const STALL_AT: u64 = 450;

/// Version `version` of the counting projection, its batches past `stall_at` held back until
/// the returned token is cancelled.
fn stalled(version: u32, stall_at: u64) -> (Arc<Counting>, CancellationToken) {
    let release = CancellationToken::new();
    let stall = Stall::new(release.clone());
    stall.arm(stall_at);
    let projection = Arc::new(Counting {
        version,
        stall: Some(stall),
        ..Counting::new("resumed", PoisonPolicy::Stop)
    });
    (projection, release)
}

fn version(version: u32) -> Arc<Counting> {
    Arc::new(Counting {
        version,
        ..Counting::new("resumed", PoisonPolicy::Stop)
    })
}

pub async fn until(
    handle: &ProjectorHandle,
    what: &str,
    done: impl FnMut(&ProjectionStatus) -> bool,
) -> ProjectionStatus {
    let mut status = handle.watch(&NAME).expect("watch");
    tokio::time::timeout(projector_testkit::wait::deadline(), status.wait_for(done))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting until {what}: {:?}", handle.status(&NAME)))
        .expect("the worker is alive")
        .clone()
}

async fn serving(reads: &dyn SqlReadStore) -> (Generation, u32) {
    let serving = reads
        .serving(&NAME)
        .await
        .expect("catalog")
        .expect("a serving generation");
    (serving.generation, serving.version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_builds_beside_the_serving_read_model() {
    let setup = Setup::sqlite();
    for stream in ["a", "b", "c"] {
        append(setup.events.as_ref(), stream, PER_STREAM).await;
    }
    let (v1, stop) = start(setup.events.clone(), setup.reads.clone(), version(1), None);
    v1.wait_caught_up(patience())
        .await
        .expect("version 1 caught up");
    let old = v1
        .status(&NAME)
        .and_then(|s| s.generation)
        .expect("serving");
    stop.cancel();
    v1.join().await;
    drop(v1);
    let setup = setup.reopen_sqlite();
    let served = dump(setup.reads.as_ref()).await;

    let (projection, release) = stalled(2, STALL_AT);
    let (v2, stop) = start(
        setup.events.clone(),
        setup.reads.clone(),
        projection.clone(),
        None,
    );
    let building = until(&v2, "version 2 builds up to the stall", |s| {
        s.rebuild
            .as_ref()
            .is_some_and(|r| r.checkpoint == GlobalPosition::new(STALL_AT))
    })
    .await;
    assert_eq!(building.version, 2);
    assert_eq!(
        building.generation,
        Some(old),
        "the old version's read model still serves"
    );
    assert_eq!(serving(setup.reads.as_ref()).await, (old, 1));
    assert_eq!(
        dump(setup.reads.as_ref()).await,
        served,
        "reads see the whole old read model, not a half-built new one"
    );

    // New events cannot be applied to the old version's tables: a read that waits for them
    // times out naming where the serving read model is, rather than see a half-built one.
    append(setup.events.as_ref(), "after", 5).await;
    let head = setup.events.head().await.expect("head");
    match v2.wait_for(&NAME, head, Duration::from_millis(300)).await {
        Err(WaitError::TimedOut { reached, .. }) => {
            assert_eq!(reached, GlobalPosition::new(3 * PER_STREAM as u64));
        }
        other => panic!("expected the wait to time out at the old checkpoint: {other:?}"),
    }

    if let Some(stall) = &projection.stall {
        stall.arm(u64::MAX);
    }
    release.cancel();
    let swapped = until(&v2, "version 2 is swapped in", |s| {
        s.rebuild.is_none() && s.generation.is_some_and(|g| g != old)
    })
    .await;
    let rebuilt = swapped.generation.expect("serving");
    assert_eq!(
        v2.wait_caught_up(patience()).await.expect("caught up"),
        head
    );
    assert_eq!(serving(setup.reads.as_ref()).await, (rebuilt, 2));
    assert!(
        setup.reads.checkpoint(&NAME, old).await.is_err(),
        "the old version's read model is gone once replaced"
    );
    assert_eq!(dump(setup.reads.as_ref()).await, setup.fresh_build().await);
    stop.cancel();
    v2.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_taking_turns_never_undo_each_others_work_on_postgres() {
    let Some((setup, url)) = Setup::postgres().await else {
        return;
    };
    for stream in ["a", "b", "c"] {
        append(setup.events.as_ref(), stream, PER_STREAM).await;
    }
    // Version 1 runs the projection.
    let (a, stop_a) = start(
        setup.events.clone(),
        setup.reads.clone(),
        version(1),
        Some(leases(&url)),
    );
    a.wait_caught_up(patience())
        .await
        .expect("version 1 caught up");
    let old = a.status(&NAME).and_then(|s| s.generation).expect("serving");

    // Version 2 is deployed beside it and takes over when version 1's process goes; its build
    // is held back before it catches up.
    let (projection, release_b) = stalled(2, STALL_AT);
    let (events, reads) = postgres_stores(&url).await;
    let (b, stop_b) = start(events, reads, projection, Some(leases(&url)));
    until(&b, "version 2 stands by", |s| {
        s.state == WorkerState::Standby
    })
    .await;
    stop_a.cancel();
    a.join().await;
    let building = until(&b, "version 2 builds up to the stall", |s| {
        s.rebuild
            .as_ref()
            .is_some_and(|r| r.checkpoint == GlobalPosition::new(STALL_AT))
    })
    .await;
    let new = building.rebuild.expect("a rebuild").generation;
    assert_eq!(building.generation, Some(old));
    assert_eq!(serving(setup.reads.as_ref()).await, (old, 1));

    // Version 1 comes back (a rollback, or an old process restarted) and takes over when
    // version 2's process goes: it keeps serving and projecting its own read model, and
    // leaves version 2's build as it was.
    let (events, reads) = postgres_stores(&url).await;
    let (c, stop_c) = start(events, reads, version(1), Some(leases(&url)));
    until(&c, "version 1 stands by", |s| {
        s.state == WorkerState::Standby
    })
    .await;
    stop_b.cancel();
    release_b.cancel();
    b.join().await;
    let running = until(&c, "version 1 runs again", |s| {
        s.state == WorkerState::Live && s.newer_version.is_some()
    })
    .await;
    assert_eq!(running.generation, Some(old));
    assert_eq!(running.newer_version, Some(2));
    assert!(
        matches!(
            c.rebuild(&NAME).await,
            Err(projector_runtime::RuntimeError::Outdated {
                version: 1,
                newer_version: 2,
                ..
            })
        ),
        "an older version does not start a build over the newer one's"
    );
    append(setup.events.as_ref(), "more", 10).await;
    c.wait_caught_up(patience())
        .await
        .expect("version 1 follows new events");
    let building = setup.reads.building(&NAME).await.expect("building");
    assert_eq!(
        building
            .iter()
            .map(|b| (b.generation, b.version))
            .collect::<Vec<_>>(),
        [(new, 2)],
        "version 2's build is left be"
    );
    assert_eq!(
        setup
            .reads
            .checkpoint(&NAME, new)
            .await
            .expect("checkpoint")
            .position,
        GlobalPosition::new(STALL_AT),
        "nobody wrote to version 2's build meanwhile"
    );

    // Version 2 again: it carries its build on (the same generation, from its checkpoint:
    // starting over from the first event would be refused by the checkpoint's fence) and
    // swaps it in.
    let (events, reads) = postgres_stores(&url).await;
    let (d, stop_d) = start(events, reads, version(2), Some(leases(&url)));
    until(&d, "version 2 stands by again", |s| {
        s.state == WorkerState::Standby
    })
    .await;
    stop_c.cancel();
    c.join().await;
    until(&d, "version 2's build is swapped in", |s| {
        s.generation == Some(new) && s.rebuild.is_none()
    })
    .await;
    d.wait_caught_up(patience()).await.expect("caught up");
    assert_eq!(serving(setup.reads.as_ref()).await, (new, 2));
    assert!(
        setup
            .reads
            .building(&NAME)
            .await
            .expect("building")
            .is_empty(),
        "no build is left behind"
    );
    assert!(
        setup
            .reads
            .dead_letters(&NAME)
            .await
            .expect("dead letters")
            .is_empty(),
        "nothing was applied twice (it would fail on the primary key of `seen`)"
    );
    assert_eq!(dump(setup.reads.as_ref()).await, setup.fresh_build().await);
    stop_d.cancel();
    d.join().await;
}
