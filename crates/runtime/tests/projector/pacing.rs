//! How batches reach a target. With a batch interval (the target's, or the projector's where
//! that is longer), live events arriving at the head are gathered into one batch per interval,
//! while a backlog is applied in full batches without a pause. Batches of events the
//! projection ignores are passed without a write each, and the position passed is written
//! within a second, or when the projector stops. An inline target's batches, which the
//! appends applied already, cost no read of its checkpoint.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use projector_core::{
    ApplyError, BuildingGeneration, Checkpoint, DeadLetter, EventAppender, EventFilter,
    ExpectedVersion, Generation, GlobalPosition, PoisonPolicy, ProjectionName, ProjectionTarget,
    ReadStoreError, RecordedEvent, ServingAt, StreamId,
};
use projector_runtime::{Projector, ProjectorOptions};
use projector_sql::{SqlReadStore, SqlTarget};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Counting, Stores, patience};
use projector_runtime::ProjectorHandle;

/// A SQL target with a batch interval, recording the size of every batch it applies (every
/// write of its checkpoint). When `inline`, it stands for a target the event store applies
/// with each append: every batch it applies is then answered as the appends having moved the
/// checkpoint there already.
struct Paced {
    inner: SqlTarget,
    interval: Duration,
    batches: Mutex<Vec<usize>>,
    inline: bool,
    /// How often the worker read the checkpoint back.
    checkpoint_reads: AtomicU32,
}

#[async_trait]
impl ProjectionTarget for Paced {
    fn name(&self) -> ProjectionName {
        self.inner.name()
    }
    fn version(&self) -> u32 {
        self.inner.version()
    }
    fn filter(&self) -> EventFilter {
        self.inner.filter()
    }
    fn poison_policy(&self) -> PoisonPolicy {
        self.inner.poison_policy()
    }
    fn batch_interval(&self) -> Duration {
        self.interval
    }
    fn inline(&self) -> bool {
        self.inline
    }
    async fn serving(&self) -> Result<Option<(Generation, u32)>, ReadStoreError> {
        self.inner.serving().await
    }
    async fn building(&self) -> Result<Vec<BuildingGeneration>, ReadStoreError> {
        self.inner.building().await
    }
    async fn create_generation(&self) -> Result<Generation, ReadStoreError> {
        self.inner.create_generation().await
    }
    async fn activate(
        &self,
        generation: Generation,
        replacing: Option<ServingAt>,
    ) -> Result<(), ReadStoreError> {
        self.inner.activate(generation, replacing).await
    }
    async fn drop_generation(
        &self,
        generation: Generation,
        at: GlobalPosition,
    ) -> Result<(), ReadStoreError> {
        self.inner.drop_generation(generation, at).await
    }
    async fn checkpoint(&self, generation: Generation) -> Result<Checkpoint, ReadStoreError> {
        self.checkpoint_reads.fetch_add(1, Ordering::Relaxed);
        self.inner.checkpoint(generation).await
    }
    async fn apply(
        &self,
        generation: Generation,
        events: Arc<[RecordedEvent]>,
        from: GlobalPosition,
        to: Checkpoint,
    ) -> Result<(), ApplyError> {
        let size = events.len();
        self.inner.apply(generation, events, from, to).await?;
        self.batches.lock().expect("batches").push(size);
        if self.inline {
            return Err(ApplyError::Store(ReadStoreError::CheckpointMoved {
                projection: self.name(),
                expected: from,
                found: to.position,
            }));
        }
        Ok(())
    }
    async fn dead_letter(
        &self,
        generation: Generation,
        letter: DeadLetter,
        from: GlobalPosition,
        skip_to: Option<Checkpoint>,
    ) -> Result<(), ReadStoreError> {
        self.inner
            .dead_letter(generation, letter, from, skip_to)
            .await
    }
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, ReadStoreError> {
        self.inner.dead_letters().await
    }
    async fn retry_dead_letter(
        &self,
        generation: Generation,
        event: RecordedEvent,
        from: GlobalPosition,
        to: Option<Checkpoint>,
    ) -> Result<(), ApplyError> {
        self.inner
            .retry_dead_letter(generation, event, from, to)
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_are_gathered_for_the_batch_interval_and_a_backlog_is_not_paced() {
    let stores = Stores::new();
    // A backlog of four full batches, there before the projector starts.
    stores.append("backlog", 40, None).await;
    let options = ProjectorOptions {
        batch_size: 10,
        ..ProjectorOptions::default()
    };
    let (paced, handle, shutdown) = start(&stores, "paced", Duration::from_millis(400), options);
    let name = ProjectionName::from_static("paced");
    handle
        .wait_for(&name, GlobalPosition::new(40), patience())
        .await
        .expect("the backlog is applied");
    let backlog = paced.batches.lock().expect("batches").clone();
    assert_eq!(
        backlog,
        vec![10, 10, 10, 10],
        "full batches, one after another"
    );

    gathered_at_the_head(&stores, &paced, &handle, &name, 40).await;
    assert_eq!(
        stores.counted(&name).await,
        (45, 45),
        "each event applied once"
    );
    shutdown.cancel();
    handle.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projectors_batch_interval_paces_a_target_that_asks_for_none() {
    let stores = Stores::new();
    let options = ProjectorOptions {
        batch_interval: Duration::from_millis(400),
        ..ProjectorOptions::default()
    };
    let (paced, handle, shutdown) = start(&stores, "floored", Duration::ZERO, options);
    let name = ProjectionName::from_static("floored");
    gathered_at_the_head(&stores, &paced, &handle, &name, 0).await;
    assert_eq!(
        stores.counted(&name).await,
        (5, 5),
        "each event applied once"
    );
    shutdown.cancel();
    handle.join().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_a_projection_ignores_are_passed_and_their_position_written_within_a_second() {
    let stores = Stores::new();
    let (paced, handle, shutdown) = start(
        &stores,
        "passing",
        Duration::ZERO,
        ProjectorOptions::default(),
    );
    let name = ProjectionName::from_static("passing");
    // An event the projection takes is written at once.
    stores.append("taken", 1, None).await;
    handle
        .wait_for(&name, GlobalPosition::new(1), patience())
        .await
        .expect("applied");
    // Twenty commits it ignores, each read as a batch of its own once the one before passed.
    for n in 2..=21 {
        ignore(&stores, &handle, &name, n).await;
    }
    let writes = paced.batches.lock().expect("batches").len();
    assert!(
        writes <= 5,
        "twenty ignored batches within moments cost a write or two, not one each: {writes}"
    );
    // Idle, the position passed is written within a second.
    let soon = projector_testkit::wait::scaled(Duration::from_secs(3));
    projector_testkit::wait::eventually_within(
        "the position passed to be written",
        soon,
        || async {
            match stores.stored_checkpoint(&name).await {
                21 => Ok(()),
                other => Err(other),
            }
        },
    )
    .await;

    // Passed again, then stopped: the store is left where reads were answered.
    for n in 22..=24 {
        ignore(&stores, &handle, &name, n).await;
    }
    shutdown.cancel();
    handle.join().await;
    assert_eq!(stores.stored_checkpoint(&name).await, 24);
    assert_eq!(
        stores.counted(&name).await,
        (1, 1),
        "the ignored events changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_the_batch_interval_applies_what_it_gathered() {
    let stores = Stores::new();
    let (_paced, handle, shutdown) = start(
        &stores,
        "gathering",
        Duration::from_secs(30),
        ProjectorOptions::default(),
    );
    let name = ProjectionName::from_static("gathering");
    stores.append("live", 1, None).await;
    handle
        .wait_for(&name, GlobalPosition::new(1), patience())
        .await
        .expect("the first live event is applied");
    // These wait out the interval, which the stop cuts short.
    stores.append("live", 3, None).await;
    shutdown.cancel();
    handle.join().await;
    assert_eq!(
        stores.counted(&name).await,
        (4, 4),
        "nothing gathered is left behind"
    );
    assert_eq!(stores.stored_checkpoint(&name).await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_checkpoint_the_appends_moved_to_the_batch_end_is_not_read_back() {
    let stores = Stores::new();
    let (paced, handle, shutdown) = start_paced(
        &stores,
        "inline",
        Duration::ZERO,
        ProjectorOptions::default(),
        true,
    );
    let name = ProjectionName::from_static("inline");
    stores.append("taken", 1, None).await;
    handle
        .wait_for(&name, GlobalPosition::new(1), patience())
        .await
        .expect("applied");
    let reads_at_start = paced.checkpoint_reads.load(Ordering::Relaxed);
    // Events it takes and events it ignores, each a batch of its own: the appends moved the
    // checkpoint to each batch's end, which is all the worker needs to know.
    for n in 2..=11 {
        if n % 2 == 0 {
            stores.append("taken", 1, None).await;
            handle
                .wait_for(&name, GlobalPosition::new(n), patience())
                .await
                .expect("applied");
        } else {
            ignore(&stores, &handle, &name, n).await;
        }
    }
    assert_eq!(
        paced.checkpoint_reads.load(Ordering::Relaxed),
        reads_at_start,
        "no batch read the checkpoint back"
    );
    assert_eq!(
        paced.batches.lock().expect("batches").len(),
        6,
        "every batch it takes went to the store, which holds the inline checkpoint; \
         those it ignores were passed, as the appends passed them"
    );
    shutdown.cancel();
    handle.join().await;
    assert_eq!(stores.stored_checkpoint(&name).await, 11);
    assert_eq!(
        stores.counted(&name).await,
        (6, 6),
        "each event taken applied once"
    );
}

/// Commits five single events in quick succession after `head`, the head of `name`'s feed,
/// and checks the first is applied at once and the rest wait out the interval and go in
/// together: at most two batches after the first.
async fn gathered_at_the_head(
    stores: &Stores,
    paced: &Paced,
    handle: &ProjectorHandle,
    name: &ProjectionName,
    head: u64,
) {
    let before = paced.batches.lock().expect("batches").len();
    stores.append("live", 1, None).await;
    handle
        .wait_for(name, GlobalPosition::new(head + 1), patience())
        .await
        .expect("the first live event is applied");
    for _ in 0..4 {
        stores.append("live", 1, None).await;
    }
    handle
        .wait_for(name, GlobalPosition::new(head + 5), patience())
        .await
        .expect("the live events are applied");
    let live = paced.batches.lock().expect("batches")[before..].to_vec();
    assert_eq!(live.iter().sum::<usize>(), 5, "{live:?}");
    assert!(
        live.len() <= 3,
        "four events committed within the interval take at most two batches after the first: {live:?}"
    );
}

/// Starts a projector running a [`Paced`] counting projection named `name`.
fn start(
    stores: &Stores,
    name: &'static str,
    interval: Duration,
    options: ProjectorOptions,
) -> (Arc<Paced>, ProjectorHandle, CancellationToken) {
    start_paced(stores, name, interval, options, false)
}

/// [`start`], the target standing for an inline one when `inline`.
fn start_paced(
    stores: &Stores,
    name: &'static str,
    interval: Duration,
    options: ProjectorOptions,
    inline: bool,
) -> (Arc<Paced>, ProjectorHandle, CancellationToken) {
    let paced = Arc::new(Paced {
        inner: SqlTarget::new(
            stores.reads.clone() as Arc<dyn SqlReadStore>,
            Arc::new(Counting::new(name, PoisonPolicy::Stop)),
        ),
        interval,
        batches: Mutex::new(Vec::new()),
        inline,
        checkpoint_reads: AtomicU32::new(0),
    });
    let shutdown = CancellationToken::new();
    let handle = Projector::new(stores.events.clone(), options)
        .with_target(Arc::clone(&paced) as Arc<dyn ProjectionTarget>)
        .start(shutdown.clone())
        .expect("start");
    (paced, handle, shutdown)
}

/// Commits one event no projection here takes, at position `n`, and waits for `name` to
/// answer reads there.
async fn ignore(stores: &Stores, handle: &ProjectorHandle, name: &ProjectionName, n: u64) {
    stores
        .events
        .append(
            &StreamId::from_static("elsewhere"),
            ExpectedVersion::Any,
            vec![projector_testkit::events::event(
                "Ignored",
                serde_json::json!({ "n": n }),
            )],
        )
        .await
        .expect("append");
    handle
        .wait_for(name, GlobalPosition::new(n), patience())
        .await
        .expect("reads are answered at the position passed");
}
