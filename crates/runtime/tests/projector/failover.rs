//! Failover over a hung network, on PostgreSQL: the lease holder's lease connection hangs (no
//! FIN, no RST) while its stores still work. The holder must stop projecting before the other
//! process starts, and the other must take over and finish the read model, with every event
//! applied exactly once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use projector_core::{
    EventFilter, GlobalPosition, LeaseProvider, PoisonPolicy, Projection, ProjectionError,
    ProjectionName, RecordedEvent,
};
use projector_postgres::PgLeases;
use projector_runtime::{Projector, ProjectorHandle, ProjectorOptions, RetryPolicy, WorkerState};
use projector_sql::{SqlProjection, SqlTarget, SqlTransaction};
use projector_testkit::postgres::TestDatabase;
use projector_testkit::proxy::Proxy;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::helpers::patience;
use crate::setup::{append, postgres_stores};

const NAME: ProjectionName = ProjectionName::from_static("handed_over");
/// The lease timeout `T` of both processes.
const LEASE_TIMEOUT: Duration = Duration::from_millis(1_000);

/// Records which process applied each event, under the event's position as primary key: an
/// event applied twice fails its batch (and ends as a dead letter).
struct Recording {
    by: &'static str,
}

impl Projection for Recording {
    fn name(&self) -> ProjectionName {
        NAME
    }

    fn handles(&self) -> EventFilter {
        EventFilter::types(&["Counted"])
    }

    fn poison_policy(&self) -> PoisonPolicy {
        PoisonPolicy::Stop
    }
}

#[async_trait]
impl SqlProjection for Recording {
    fn schema(&self) -> &[&str] {
        &["CREATE TABLE applied (position BIGINT PRIMARY KEY, by_process TEXT NOT NULL)"]
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            let position = i64::try_from(event.position.get()).expect("small");
            tx.execute(
                "INSERT INTO applied (position, by_process) VALUES ($1, $2)",
                &[position.into(), self.by.into()],
            )
            .await
            .map_err(|e| e.at(event.position))?;
        }
        Ok(())
    }
}

/// Starts a process's projector, taking leases through `lease_url`.
async fn start(
    url: &str,
    lease_url: &str,
    by: &'static str,
) -> (ProjectorHandle, CancellationToken) {
    let (events, reads) = postgres_stores(url).await;
    let leases: Arc<dyn LeaseProvider> = Arc::new(
        PgLeases::new(lease_url)
            .expect("leases")
            .with_timeout(LEASE_TIMEOUT)
            .with_heartbeat(Duration::from_millis(100)),
    );
    let options = ProjectorOptions {
        batch_size: 10,
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
        lease_retry: Duration::from_millis(50),
        ..ProjectorOptions::default()
    };
    let shutdown = CancellationToken::new();
    let handle = Projector::new(events, options)
        .with_target(SqlTarget::new(reads, Arc::new(Recording { by })))
        .with_leases(leases)
        .start(shutdown.clone())
        .expect("start");
    (handle, shutdown)
}

/// When `handle`'s worker is first seen in a state `until` accepts.
fn first_seen(
    handle: &ProjectorHandle,
    until: impl Fn(&WorkerState) -> bool + Send + Sync + 'static,
) -> tokio::task::JoinHandle<Instant> {
    let mut status = handle.watch(&NAME).expect("watch");
    tokio::spawn(async move {
        status
            .wait_for(|s| until(&s.state))
            .await
            .expect("the worker is alive");
        Instant::now()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_whose_lease_connection_hangs_stands_by_before_the_other_process_takes_over() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let url = database.url();
    let proxy = Proxy::start(url).await;
    let (events, reads) = postgres_stores(url).await;
    append(events.as_ref(), "before", 100).await;

    // The holder's lease goes through the proxy; its stores, and all of the other process's
    // connections, go straight to the database.
    let (holder, stop_holder) = start(url, proxy.url(), "holder").await;
    let mut status = holder.watch(&NAME).expect("watch");
    tokio::time::timeout(
        projector_testkit::wait::deadline(),
        status
            .wait_for(|s| s.state == WorkerState::Live && s.checkpoint == GlobalPosition::new(100)),
    )
    .await
    .expect("the holder catches up")
    .expect("the worker is alive");
    let (other, stop_other) = start(url, url, "other").await;
    let mut status = other.watch(&NAME).expect("watch");
    tokio::time::timeout(
        projector_testkit::wait::deadline(),
        status.wait_for(|s| {
            s.state == WorkerState::Standby && s.checkpoint == GlobalPosition::new(100)
        }),
    )
    .await
    .expect("the other process stands by, following the holder")
    .expect("the worker is alive");

    let holder_stood_by = first_seen(&holder, |s| *s == WorkerState::Standby);
    let other_took_over = first_seen(&other, |s| *s != WorkerState::Standby);
    // Events keep coming throughout the failover.
    let writer = {
        let events = Arc::clone(&events);
        tokio::spawn(async move {
            for round in 0..40 {
                append(events.as_ref(), &format!("during-{round}"), 5).await;
                // Pacing a load generator: the writes must span the failover.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    proxy.pause();
    let paused = Instant::now();

    let stood_by = tokio::time::timeout(projector_testkit::wait::deadline(), holder_stood_by)
        .await
        .expect("the holder notices its hung lease and stands by")
        .expect("task");
    let took_over = tokio::time::timeout(projector_testkit::wait::deadline(), other_took_over)
        .await
        .expect("the other process takes over")
        .expect("task");
    assert!(
        stood_by < took_over,
        "two processes were active at once: the other took over {:?} after the pause, the \
         holder stood by only {:?} after it",
        took_over - paused,
        stood_by - paused
    );
    assert!(
        took_over - paused < LEASE_TIMEOUT * 2 + Duration::from_secs(3),
        "the takeover took {:?}",
        took_over - paused
    );

    writer.await.expect("writer");
    let head = events.head().await.expect("head");
    assert_eq!(head, GlobalPosition::new(300));
    other
        .wait_for(&NAME, head, patience())
        .await
        .expect("the other process catches up");
    // Live once its lanes have nothing left to do: a moment after its checkpoint reaches the
    // head, which is all `wait_for` waits for.
    let mut status = other.watch(&NAME).expect("watch");
    tokio::time::timeout(
        projector_testkit::wait::deadline(),
        status.wait_for(|s| s.state == WorkerState::Live && s.checkpoint == head),
    )
    .await
    .expect("the other process is live at the head")
    .expect("the worker is alive");
    assert_eq!(
        holder.status(&NAME).expect("status").state,
        WorkerState::Standby,
        "the holder stays on standby"
    );

    let rows = reads
        .query(
            &NAME,
            "SELECT position, by_process FROM applied ORDER BY position",
            &[],
        )
        .await
        .expect("applied");
    let applied: Vec<(i64, String)> = rows
        .iter()
        .map(|row| (row.get(0).expect("position"), row.get(1).expect("by")))
        .collect();
    let positions: Vec<i64> = applied.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        positions,
        (1..=300).collect::<Vec<i64>>(),
        "every event, once"
    );
    // One clean hand-over: the holder applied a prefix of the feed, the other the rest.
    let handed_over_at = applied
        .iter()
        .position(|(_, by)| by == "other")
        .expect("the other process applied events");
    assert!(
        applied[..handed_over_at]
            .iter()
            .all(|(_, by)| by == "holder")
            && applied[handed_over_at..]
                .iter()
                .all(|(_, by)| by == "other"),
        "the processes took turns: {applied:?}"
    );
    assert!(
        reads
            .dead_letters(&NAME)
            .await
            .expect("dead letters")
            .is_empty(),
        "no batch failed (an event applied twice would, on the primary key)"
    );

    stop_holder.cancel();
    stop_other.cancel();
    holder.join().await;
    other.join().await;
}
