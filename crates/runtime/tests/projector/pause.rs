//! An operator's pause: the projection applies nothing, keeps serving what it has, stays
//! paused across a restart (SQLite) and a failover (PostgreSQL), and carries on from its
//! checkpoint once resumed; a pause another process writes reaches the running worker. And
//! backfills: a new generation started from a position or a time holds only the events from
//! there.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use projector_core::{
    EventFeed, GlobalPosition, LeaseProvider, Pause, PoisonPolicy, ProjectionControls, StartFrom,
};
use projector_runtime::{
    Projector, ProjectorHandle, ProjectorOptions, RetryPolicy, WaitError, WorkerState,
};
use projector_sql::{SqlReadStore, SqlTarget};
use projector_sqlite::SqliteControls;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Counting, patience};
use crate::setup::{NAME, Setup, append, leases, postgres_stores};

/// How long a paused projection is watched for moving although it must not.
const STILL: Duration = Duration::from_millis(1500);

fn start(
    setup: &Setup,
    controls: Arc<dyn ProjectionControls>,
    projection: Counting,
    leases: Option<Arc<dyn LeaseProvider>>,
) -> (ProjectorHandle, CancellationToken) {
    let shutdown = CancellationToken::new();
    let options = ProjectorOptions {
        batch_size: 20,
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
        lease_retry: Duration::from_millis(50),
        ..ProjectorOptions::default()
    };
    let mut projector = Projector::new(setup.events.clone(), options)
        .with_target(SqlTarget::new(setup.reads.clone(), Arc::new(projection)))
        .with_controls(controls);
    if let Some(leases) = leases {
        projector = projector.with_leases(leases);
    }
    (projector.start(shutdown.clone()).expect("start"), shutdown)
}

fn counting() -> Counting {
    Counting::new("resumed", PoisonPolicy::Stop)
}

/// The positions the serving read model holds, in order.
async fn positions(reads: &dyn SqlReadStore) -> Vec<i64> {
    reads
        .query(&NAME, "SELECT position FROM seen ORDER BY position", &[])
        .await
        .expect("seen")
        .into_iter()
        .map(|row| row.get::<i64>(0).expect("position"))
        .collect()
}

async fn wait_state(handle: &ProjectorHandle, wanted: impl Fn(&WorkerState) -> bool) {
    let mut status = handle.watch(&NAME).expect("watch");
    tokio::time::timeout(
        projector_testkit::wait::deadline(),
        status.wait_for(|s| wanted(&s.state)),
    )
    .await
    .expect("the state in time")
    .expect("the worker is alive");
}

/// Asserts that `handle` does not reach `position` while paused: its wait times out there.
async fn stays_at(handle: &ProjectorHandle, position: u64, target: u64) {
    match handle
        .wait_for(&NAME, GlobalPosition::new(target), STILL)
        .await
    {
        Err(WaitError::TimedOut { reached, .. }) => {
            assert_eq!(reached, GlobalPosition::new(position));
        }
        other => panic!("a paused projection moved: {other:?}"),
    }
    let status = handle.status(&NAME).expect("status");
    assert_eq!(status.state, WorkerState::Paused);
    assert_eq!(status.checkpoint, GlobalPosition::new(position));
}

fn sqlite_controls(setup: &Setup) -> Arc<dyn ProjectionControls> {
    let dir = setup.data_dir().expect("a SQLite setup");
    Arc::new(SqliteControls::open(dir.join("read")).expect("controls"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_projection_applies_nothing_stays_paused_across_a_restart_and_resumes() {
    let setup = Setup::sqlite();
    // Not a whole number of batches: the last is short, and what follows it would wait out
    // the batch interval, which neither the pause nor the stop may cut short by applying it.
    append(setup.events.as_ref(), "a", 90).await;
    let (handle, shutdown) = start(&setup, sqlite_controls(&setup), counting(), None);
    handle.wait_caught_up(patience()).await.expect("caught up");

    assert!(handle.pause(&NAME, "ops").await.expect("pause"));
    assert!(
        !handle.pause(&NAME, "ops").await.expect("pause again"),
        "a paused projection is paused already"
    );
    let status = handle.status(&NAME).expect("status");
    assert_eq!(status.state, WorkerState::Paused);
    assert_eq!(status.paused.as_ref().map(|p| p.by.as_str()), Some("ops"));
    append(setup.events.as_ref(), "b", 50).await;
    stays_at(&handle, 90, 140).await;
    assert_eq!(
        positions(setup.reads.as_ref()).await.len(),
        90,
        "reads go on"
    );

    shutdown.cancel();
    handle.join().await;
    drop(handle);
    let setup = setup.reopen_sqlite();
    let (handle, _shutdown) = start(&setup, sqlite_controls(&setup), counting(), None);
    wait_state(&handle, |s| *s == WorkerState::Paused).await;
    stays_at(&handle, 90, 140).await;

    assert!(handle.resume(&NAME).await.expect("resume"));
    handle
        .wait_for(&NAME, GlobalPosition::new(140), patience())
        .await
        .expect("the resumed projection catches up");
    assert_eq!(
        positions(setup.reads.as_ref()).await,
        (1..=140).collect::<Vec<_>>(),
        "every event once, none twice"
    );
    assert!(handle.status(&NAME).expect("status").paused.is_none());
    assert!(
        !handle.resume(&NAME).await.expect("resume again"),
        "nothing to resume"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_another_process_writes_reaches_the_running_worker() {
    let setup = Setup::sqlite();
    append(setup.events.as_ref(), "a", 40).await;
    let (handle, _shutdown) = start(&setup, sqlite_controls(&setup), counting(), None);
    handle.wait_caught_up(patience()).await.expect("caught up");

    // The CLI's own connection to the same catalog database.
    let cli = sqlite_controls(&setup);
    let pause = Pause {
        since: Utc::now(),
        by: "cli".into(),
    };
    cli.set_paused(&NAME, Some(pause)).await.expect("pause");
    wait_state(&handle, |s| *s == WorkerState::Paused).await;
    append(setup.events.as_ref(), "b", 10).await;
    stays_at(&handle, 40, 50).await;

    cli.set_paused(&NAME, None).await.expect("resume");
    handle
        .wait_for(&NAME, GlobalPosition::new(50), patience())
        .await
        .expect("carries on once the pause is lifted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_on_postgres_holds_in_the_process_that_takes_over() {
    let Some((setup, url)) = Setup::postgres().await else {
        return;
    };
    append(setup.events.as_ref(), "a", 60).await;
    let controls = |reads: projector_postgres::PgReadStore| -> Arc<dyn ProjectionControls> {
        Arc::new(reads.controls())
    };
    let pg_reads = || async {
        projector_postgres::PgReadStore::connect(&url, Default::default())
            .await
            .expect("read store")
    };
    let (holder, stop_holder) = start(
        &setup,
        controls(pg_reads().await),
        counting(),
        Some(leases(&url)),
    );
    holder.wait_caught_up(patience()).await.expect("caught up");
    let (events, reads) = postgres_stores(&url).await;
    let other_setup = Setup::over(events, reads);
    let (other, _stop_other) = start(
        &other_setup,
        controls(pg_reads().await),
        counting(),
        Some(leases(&url)),
    );
    wait_state(&other, |s| *s == WorkerState::Standby).await;

    assert!(holder.pause(&NAME, "ops").await.expect("pause"));
    let mut status = other.watch(&NAME).expect("watch");
    tokio::time::timeout(
        projector_testkit::wait::deadline(),
        status.wait_for(|s| s.paused.is_some()),
    )
    .await
    .expect("the standby shows the holder's pause")
    .expect("alive");

    stop_holder.cancel();
    holder.join().await;
    wait_state(&other, |s| *s == WorkerState::Paused).await;
    append(setup.events.as_ref(), "b", 20).await;
    stays_at(&other, 60, 80).await;

    assert!(other.resume(&NAME).await.expect("resume"));
    other
        .wait_for(&NAME, GlobalPosition::new(80), patience())
        .await
        .expect("the new holder carries on once resumed");
    assert_eq!(
        positions(setup.reads.as_ref()).await,
        (1..=80).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_from_a_position_or_a_time_holds_only_the_events_from_there() {
    let setup = Setup::sqlite();
    append(setup.events.as_ref(), "a", 100).await;
    append(setup.events.as_ref(), "b", 50).await;
    let (handle, _shutdown) = start(&setup, sqlite_controls(&setup), counting(), None);
    handle.wait_caught_up(patience()).await.expect("caught up");

    let generation = handle
        .rebuild_from(&NAME, StartFrom::Position(GlobalPosition::new(121)))
        .await
        .expect("rebuild");
    let started = handle.status(&NAME).expect("status");
    assert!(
        started
            .rebuild
            .as_ref()
            .is_none_or(|r| r.checkpoint >= GlobalPosition::new(120)),
        "the rebuild starts after position 120, not from 0: {started:?}"
    );
    handle
        .wait_swapped(&NAME, generation, patience())
        .await
        .expect("swapped");
    assert_eq!(
        positions(setup.reads.as_ref()).await,
        (121..=150).collect::<Vec<_>>()
    );

    // From a time: the first event of the second append, and everything after it.
    let first_of_b = setup
        .events
        .read_all(GlobalPosition::new(100), 1)
        .await
        .expect("read")
        .remove(0);
    assert_eq!(first_of_b.position, GlobalPosition::new(101));
    let generation = handle
        .rebuild_from(&NAME, StartFrom::Time(first_of_b.recorded_at))
        .await
        .expect("rebuild");
    handle
        .wait_swapped(&NAME, generation, patience())
        .await
        .expect("swapped");
    assert_eq!(
        positions(setup.reads.as_ref()).await,
        (101..=150).collect::<Vec<_>>()
    );
    append(setup.events.as_ref(), "c", 5).await;
    handle
        .wait_for(&NAME, GlobalPosition::new(155), patience())
        .await
        .expect("live after the backfill");
    assert_eq!(positions(setup.reads.as_ref()).await.len(), 55);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_that_starts_from_a_position_skips_the_history_before_it() {
    let setup = Setup::sqlite();
    append(setup.events.as_ref(), "a", 90).await;
    let projection = Counting {
        start: StartFrom::Position(GlobalPosition::new(61)),
        ..counting()
    };
    let (handle, _shutdown) = start(&setup, sqlite_controls(&setup), projection, None);
    handle.wait_caught_up(patience()).await.expect("caught up");
    assert_eq!(
        positions(setup.reads.as_ref()).await,
        (61..=90).collect::<Vec<_>>()
    );
    // The last hour: everything here.
    let generation = handle
        .rebuild_from(&NAME, StartFrom::Since(Duration::from_secs(3600)))
        .await
        .expect("rebuild");
    handle
        .wait_swapped(&NAME, generation, patience())
        .await
        .expect("swapped");
    assert_eq!(positions(setup.reads.as_ref()).await.len(), 90);
}
