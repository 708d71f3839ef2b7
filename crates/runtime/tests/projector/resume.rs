//! A rebuild survives its process: stopped before the swap, it is carried on from the building
//! generation's own checkpoint by the next projector on the same stores (a restart, or a
//! standby taking over the lease), the same generation is swapped in, and the read model equals
//! a fresh build. On SQLite and on PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use projector_core::{Generation, GlobalPosition, LeaseProvider, PoisonPolicy};
use projector_postgres::PgLeases;
use projector_runtime::{ProjectorHandle, RebuildStatus, WorkerState};
use projector_sql::SqlReadStore;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Counting, Stall, patience};
use crate::setup::{NAME, PER_STREAM, Setup, append, dump, postgres_stores, start};

/// Where the first projector's rebuild gets stuck.
const STALL_AT: u64 = 450;

/// A projector whose rebuild is stuck at [`STALL_AT`].
struct Stalled {
    handle: ProjectorHandle,
    shutdown: CancellationToken,
    serving: Generation,
    rebuilding: Generation,
}

impl Stalled {
    /// Writes the history, lets a projector catch up, and starts a rebuild that sticks at
    /// [`STALL_AT`] until the projector is shut down.
    async fn start(setup: &Setup, leases: Option<Arc<dyn LeaseProvider>>) -> Self {
        for stream in ["a", "b", "c"] {
            append(setup.events.as_ref(), stream, PER_STREAM).await;
        }
        let shutdown = CancellationToken::new();
        let projection = Arc::new(Counting {
            stall: Some(Stall::new(shutdown.clone())),
            ..Counting::new("resumed", PoisonPolicy::Stop)
        });
        let (handle, stop) = start(
            setup.events.clone(),
            setup.reads.clone(),
            projection.clone(),
            leases,
        );
        // One token stops the projector and releases the stall.
        let linked = stop.clone();
        let watched = shutdown.clone();
        tokio::spawn(async move {
            watched.cancelled().await;
            linked.cancel();
        });
        handle.wait_caught_up(patience()).await.expect("caught up");
        let serving = handle
            .status(&NAME)
            .and_then(|s| s.generation)
            .expect("a serving generation");
        if let Some(stall) = &projection.stall {
            stall.arm(STALL_AT);
        }
        let rebuilding = handle.rebuild(&NAME).await.expect("the rebuild starts");
        let mut status = handle.watch(&NAME).expect("watch");
        tokio::time::timeout(
            projector_testkit::wait::deadline(),
            status.wait_for(|s| {
                s.rebuild
                    .as_ref()
                    .is_some_and(|r| r.checkpoint == GlobalPosition::new(STALL_AT))
            }),
        )
        .await
        .expect("the rebuild reaches the stall")
        .expect("the worker is alive");
        Self {
            handle,
            shutdown,
            serving,
            rebuilding,
        }
    }

    /// Shuts the projector down before the swap, and checks that the rebuild is left
    /// half-built in the store.
    async fn stop(self, reads: &dyn SqlReadStore) -> (Generation, Generation) {
        self.shutdown.cancel();
        self.handle.join().await;
        let serving = reads.serving(&NAME).await.expect("serving").expect("one");
        assert_eq!(serving.generation, self.serving, "no swap happened");
        let building = reads.building(&NAME).await.expect("building");
        assert_eq!(building.len(), 1, "{building:?}");
        assert_eq!(building[0].generation, self.rebuilding);
        assert_eq!(
            reads
                .checkpoint(&NAME, self.rebuilding)
                .await
                .expect("checkpoint")
                .position,
            GlobalPosition::new(STALL_AT),
            "the batch in hand was rolled back"
        );
        (self.serving, self.rebuilding)
    }
}

/// Waits for `handle` to swap `rebuilt` in, then checks it replaced `old` and matches a fresh
/// build of the same events, row for row.
async fn assert_swapped_in(
    setup: &Setup,
    handle: &ProjectorHandle,
    old: Generation,
    rebuilt: Generation,
) {
    let mut status = handle.watch(&NAME).expect("watch");
    let done = tokio::time::timeout(
        projector_testkit::wait::deadline(),
        status.wait_for(|s| {
            (s.generation == Some(rebuilt) && s.rebuild.is_none())
                || matches!(s.state, WorkerState::Stopped { .. })
        }),
    )
    .await
    .expect("the rebuild completes")
    .expect("the worker is alive")
    .clone();
    assert_eq!(
        done.generation,
        Some(rebuilt),
        "the same generation is swapped in: {done:?}"
    );
    // Live events after the swap land in it too.
    append(setup.events.as_ref(), "after", 7).await;
    let head = handle.wait_caught_up(patience()).await.expect("caught up");
    assert_eq!(head, GlobalPosition::new(3 * PER_STREAM as u64 + 7));

    let reads = setup.reads.as_ref();
    assert_eq!(
        reads
            .serving(&NAME)
            .await
            .expect("serving")
            .map(|s| s.generation),
        Some(rebuilt)
    );
    assert!(reads.building(&NAME).await.expect("building").is_empty());
    assert!(
        reads.checkpoint(&NAME, old).await.is_err(),
        "the replaced generation is gone"
    );
    assert!(
        reads
            .dead_letters(&NAME)
            .await
            .expect("dead letters")
            .is_empty(),
        "no event failed (an event applied twice would, on the primary key of `seen`)"
    );

    let got = dump(reads).await;
    assert_eq!(
        got.len(),
        3 * PER_STREAM + 7 + 1,
        "every event, and the totals row"
    );
    assert_eq!(
        got,
        setup.fresh_build().await,
        "the carried-on rebuild equals a fresh build"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_cut_short_is_carried_on_after_a_restart_on_sqlite() {
    let setup = Setup::sqlite();
    let stalled = Stalled::start(&setup, None).await;
    let (old, rebuilding) = stalled.stop(setup.reads.as_ref()).await;

    let setup = setup.reopen_sqlite();
    let projection = Arc::new(Counting::new("resumed", PoisonPolicy::Stop));
    let (handle, shutdown) = start(setup.events.clone(), setup.reads.clone(), projection, None);
    assert_swapped_in(&setup, &handle, old, rebuilding).await;
    shutdown.cancel();
    handle.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_cut_short_is_carried_on_after_a_restart_on_postgres() {
    let Some((setup, url)) = Setup::postgres().await else {
        return;
    };
    let stalled = Stalled::start(&setup, None).await;
    let (old, rebuilding) = stalled.stop(setup.reads.as_ref()).await;

    let (events, reads) = postgres_stores(&url).await;
    let projection = Arc::new(Counting::new("resumed", PoisonPolicy::Stop));
    let (handle, shutdown) = start(events, reads, projection, None);
    assert_swapped_in(&setup, &handle, old, rebuilding).await;
    shutdown.cancel();
    handle.join().await;
}

/// Two processes on one database: the lease holder is rebuilding when it stops; the standby
/// takes the lease over and finishes that rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_that_takes_over_finishes_the_holders_rebuild_on_postgres() {
    let Some((setup, url)) = Setup::postgres().await else {
        return;
    };
    let leases = |url: &str| -> Arc<dyn LeaseProvider> {
        Arc::new(
            PgLeases::new(url)
                .expect("leases")
                .with_heartbeat(Duration::from_millis(100)),
        )
    };
    let holder = Stalled::start(&setup, Some(leases(&url))).await;

    let (events, reads) = postgres_stores(&url).await;
    let projection = Arc::new(Counting::new("resumed", PoisonPolicy::Stop));
    let (standby, shutdown) = start(events, reads, projection, Some(leases(&url)));
    let mut status = standby.watch(&NAME).expect("watch");
    tokio::time::timeout(
        projector_testkit::wait::deadline(),
        status.wait_for(|s| {
            s.state == WorkerState::Standby
                && s.generation == Some(holder.serving)
                && s.rebuild
                    == Some(RebuildStatus {
                        generation: holder.rebuilding,
                        checkpoint: GlobalPosition::new(STALL_AT),
                    })
        }),
    )
    .await
    .expect("the second process stands by, following the holder and its rebuild")
    .expect("the worker is alive");
    assert!(
        matches!(
            standby.rebuild(&NAME).await,
            Err(projector_runtime::RuntimeError::Standby(_))
        ),
        "a standby refuses to rebuild"
    );

    let (old, rebuilding) = holder.stop(setup.reads.as_ref()).await;
    assert_swapped_in(&setup, &standby, old, rebuilding).await;
    shutdown.cancel();
    standby.join().await;
}

/// A building generation of another projection version is not carried on: its tables have
/// another shape. The next worker drops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_rebuild_of_another_version_is_dropped() {
    let setup = Setup::sqlite();
    let stalled = Stalled::start(&setup, None).await;
    let (old, rebuilding) = stalled.stop(setup.reads.as_ref()).await;

    let setup = setup.reopen_sqlite();
    let projection = Arc::new(Counting {
        version: 2,
        ..Counting::new("resumed", PoisonPolicy::Stop)
    });
    let (handle, shutdown) = start(setup.events.clone(), setup.reads.clone(), projection, None);
    let mut status = handle.watch(&NAME).expect("watch");
    let status = tokio::time::timeout(
        projector_testkit::wait::deadline(),
        status.wait_for(|s| s.rebuild.is_none() && s.generation.is_some_and(|g| g != old)),
    )
    .await
    .expect("version 2 is built and swapped in")
    .expect("the worker is alive")
    .clone();
    let serving = status.generation.expect("a serving generation");
    assert!(serving > rebuilding, "a new generation of version 2 serves");
    assert_ne!(serving, old);
    assert!(status.rebuild.is_none());
    assert!(
        setup
            .reads
            .building(&NAME)
            .await
            .expect("building")
            .is_empty()
    );
    assert!(setup.reads.checkpoint(&NAME, rebuilding).await.is_err());
    assert_eq!(
        setup
            .reads
            .serving(&NAME)
            .await
            .expect("serving")
            .map(|s| s.version),
        Some(2)
    );
    shutdown.cancel();
    handle.join().await;
}
