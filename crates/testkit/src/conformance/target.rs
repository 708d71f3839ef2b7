//! Target conformance: what every kind of read model must do for the projector, checked over
//! `ProjectionTarget` alone, so one suite runs on SQL tables, a cache, an index alike.
//!
//! A kind takes part through a [`TargetFixture`]: targets of a tally projection (it counts the
//! events it applies) over one store, the tally its serving generation holds, and reopening the
//! store as a restarted process would. [`target_conformance!`](crate::target_conformance)
//! stamps out every check for a kind, so a new check cannot be missing on one of them:
//!
//! ```ignore
//! projector_testkit::target_conformance!(fixture());   // async fn fixture() -> Option<F>
//! ```
//!
//! The checks: batches commit with their checkpoint and a batch from a moved checkpoint is
//! refused whole; a rebuild's generation is invisible to reads until the swap, which readers
//! see whole; building generations are listed with their version until activated or dropped,
//! one at a time; a reopen keeps the serving generation, its checkpoint and a building
//! generation, which is carried on; dead letters belong to their generation, and a retried one
//! applies its event once ([`retry`]); the fences of [`fences`]: stale dead letters, swaps,
//! drops and writes to dropped generations change nothing; reads never fail during swaps.

pub mod fences;
pub mod retry;
pub mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    ApplyError, Checkpoint, Generation, GlobalPosition, ProjectionName, ProjectionTarget,
    ReadStoreError, RecordedEvent, ServingAt, StreamId, StreamVersion,
};

pub use fences::{
    a_dropped_generation_refuses_writes, a_stale_dead_letter_changes_nothing,
    a_stale_drop_changes_nothing, a_stale_swap_changes_nothing, reads_never_fail_during_swaps,
};
pub use retry::a_retried_dead_letter_applies_its_event_once;

/// The name of the tally projection every fixture's targets run.
pub const TALLY: ProjectionName = ProjectionName::from_static("conformance_tally");

/// How the suite makes and inspects one kind of target.
#[async_trait]
pub trait TargetFixture: Send + Sync + 'static {
    /// A target for the tally projection at `version` (it counts the events it applies in its
    /// read model) over the fixture's store; the targets of one fixture share that store.
    fn target(&self, version: u32) -> Arc<dyn ProjectionTarget>;

    /// The count the serving generation holds, read the way the kind's queries read (0 when
    /// it has applied nothing yet).
    async fn tally(&self) -> Result<i64, ReadStoreError>;

    /// Drops the store and opens it again on the same storage, as a restarted process would.
    /// Targets made before are not used again.
    async fn reopen(&mut self);
}

/// Stamps out every target conformance check as a test, given an expression (evaluated once
/// per test) of type `impl Future<Output = Option<impl TargetFixture>>`; `None` skips.
///
/// A SQL read store also names what SQL stores add, so each backend's one invocation lists
/// every check it must pass: `sql_store`, a future of `Option<(guard, Arc<dyn SqlReadStore>)>`
/// for a fresh store, and `controls`, a future of `Option<(guard, here, there)>`: two processes'
/// `Arc<dyn ProjectionControls>` on one storage.
///
/// ```ignore
/// projector_testkit::target_conformance!(fixture(), sql_store: store(), controls: controls());
/// ```
#[macro_export]
macro_rules! target_conformance {
    ($fixture:expr, sql_store: $store:expr, controls: $controls:expr $(,)?) => {
        $crate::target_conformance!($fixture);

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn many_rows_are_written_and_upserted_in_one_batch() {
            let Some((_guard, store)) = $store.await else { return };
            $crate::conformance::batch_writes::many_rows_are_written_and_upserted_in_one_batch(
                store,
            )
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_partitioned_generation_swaps_in_once_every_partition_caught_up() {
            let Some((_guard, store)) = $store.await else { return };
            $crate::conformance::partition_swaps::a_partitioned_generation_swaps_in_once_every_partition_caught_up(
                store,
            )
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_pause_is_seen_by_every_process_until_lifted() {
            let Some((_guard, here, there)) = $controls.await else { return };
            $crate::conformance::controls::a_pause_is_seen_by_every_process_until_lifted(
                here, there,
            )
            .await;
        }
    };
    ($fixture:expr) => {
        $crate::target_conformance!(@tests $fixture;
            a_moved_checkpoint_refuses_the_batch,
            a_rebuild_is_invisible_until_the_swap,
            building_generations_are_listed_until_activated_or_dropped,
            a_reopen_keeps_the_generations_and_their_checkpoints,
            dead_letters_belong_to_their_generation,
            a_stale_dead_letter_changes_nothing,
            a_stale_swap_changes_nothing,
            a_stale_drop_changes_nothing,
            a_dropped_generation_refuses_writes,
            reads_never_fail_during_swaps,
            a_retried_dead_letter_applies_its_event_once,
        );
    };
    (@tests $fixture:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(fixture) = $fixture.await else { return };
                $crate::conformance::target::$name(fixture).await;
            }
        )*
    };
}

/// A recorded event at `position`, as the tally gets it.
pub fn event(position: u64) -> RecordedEvent {
    RecordedEvent {
        event_id: uuid::Uuid::now_v7(),
        position: GlobalPosition::new(position),
        stream_id: StreamId::from_static("tally-1"),
        stream_version: StreamVersion::new(position),
        event_type: projector_core::EventType::from_static("Tallied"),
        schema_version: 1,
        data: projector_core::JsonPayload::from_json("{}").expect("json"),
        metadata: projector_core::EventMetadata::default(),
        recorded_at: chrono::DateTime::from_timestamp_micros(
            1_780_000_000_000_000 + position as i64,
        )
        .expect("time"),
    }
}

/// Applies the events at `positions` to `generation` from the checkpoint `from`.
pub(crate) async fn apply_range(
    target: &dyn ProjectionTarget,
    generation: Generation,
    from: u64,
    positions: std::ops::RangeInclusive<u64>,
) -> Checkpoint {
    let batch: Arc<[RecordedEvent]> = positions.map(event).collect();
    let to = Checkpoint::after(batch.last().expect("a non-empty batch"));
    target
        .apply(generation, batch, GlobalPosition::new(from), to)
        .await
        .expect("batch applied");
    to
}

/// A generation created and made to serve, as on a first start.
pub(crate) async fn serving(target: &dyn ProjectionTarget) -> Generation {
    let generation = target.create_generation().await.expect("generation");
    target.activate(generation, None).await.expect("activate");
    generation
}

/// The building generations, as `(generation, version)`.
pub(crate) async fn building(target: &dyn ProjectionTarget) -> Vec<(u32, u32)> {
    target
        .building()
        .await
        .expect("building generations")
        .into_iter()
        .map(|b| (b.generation.get(), b.version))
        .collect()
}

/// The serving generation and the version that built it.
pub(crate) async fn serving_now(target: &dyn ProjectionTarget) -> Option<(Generation, u32)> {
    target.serving().await.expect("serving")
}

#[track_caller]
fn assert_no_generation<T: std::fmt::Debug>(result: Result<T, ReadStoreError>, what: &str) {
    match result {
        Err(error @ ReadStoreError::NoGeneration { .. }) => assert!(error.is_fenced()),
        other => panic!("{what}: expected NoGeneration, got {other:?}"),
    }
}

async fn tally(fixture: &impl TargetFixture) -> i64 {
    fixture.tally().await.expect("tally")
}

/// Batches commit with their checkpoint; a batch whose starting checkpoint is stale is
/// refused with `CheckpointMoved` and changes nothing; an empty batch moves the checkpoint.
pub async fn a_moved_checkpoint_refuses_the_batch(fixture: impl TargetFixture) {
    let target = fixture.target(1);
    let generation = serving(target.as_ref()).await;
    assert_eq!(tally(&fixture).await, 0);
    let batch: Arc<[RecordedEvent]> = (1..=3).map(event).collect();
    let to = Checkpoint::after(&batch[2]);
    target
        .apply(generation, Arc::clone(&batch), GlobalPosition::ZERO, to)
        .await
        .expect("first batch");
    assert_eq!(target.checkpoint(generation).await.expect("checkpoint"), to);
    assert_eq!(tally(&fixture).await, 3);

    // The same batch again, as a second process that read the old checkpoint would send it.
    match target
        .apply(generation, batch, GlobalPosition::ZERO, to)
        .await
    {
        Err(ApplyError::Store(ReadStoreError::CheckpointMoved {
            expected, found, ..
        })) => assert_eq!(
            (expected, found),
            (GlobalPosition::ZERO, GlobalPosition::new(3))
        ),
        other => panic!("expected the batch to be refused, got {other:?}"),
    }
    assert_eq!(tally(&fixture).await, 3, "nothing was applied twice");
    assert_eq!(target.checkpoint(generation).await.expect("checkpoint"), to);

    apply_range(target.as_ref(), generation, 3, 4..=4).await;
    assert_eq!(tally(&fixture).await, 4);

    // Events the projection does not handle only move the checkpoint.
    let skipped = Checkpoint::after(&event(6));
    target
        .apply(
            generation,
            Arc::from(Vec::new()),
            GlobalPosition::new(4),
            skipped,
        )
        .await
        .expect("an empty batch");
    assert_eq!(
        target.checkpoint(generation).await.expect("checkpoint"),
        skipped
    );
    assert_eq!(tally(&fixture).await, 4);

    // ... and only from where it is: a second process's empty batch is refused as well.
    match target
        .apply(
            generation,
            Arc::from(Vec::new()),
            GlobalPosition::new(4),
            Checkpoint::after(&event(7)),
        )
        .await
    {
        Err(ApplyError::Store(ReadStoreError::CheckpointMoved {
            expected, found, ..
        })) => assert_eq!(
            (expected, found),
            (GlobalPosition::new(4), GlobalPosition::new(6))
        ),
        other => panic!("expected the empty batch to be refused, got {other:?}"),
    }
    assert_eq!(
        target.checkpoint(generation).await.expect("checkpoint"),
        skipped
    );
}

/// A generation being built is invisible to reads, however far it has got; the swap makes
/// the new one serve whole (with the version that built it), and the old one is gone.
pub async fn a_rebuild_is_invisible_until_the_swap(fixture: impl TargetFixture) {
    let old = fixture.target(1);
    let first = serving(old.as_ref()).await;
    let first_at = apply_range(old.as_ref(), first, 0, 1..=3).await;
    assert_eq!(tally(&fixture).await, 3);

    let new = fixture.target(2);
    let rebuild = new.create_generation().await.expect("generation");
    assert_eq!(tally(&fixture).await, 3, "an empty build is not read");
    let partway = apply_range(new.as_ref(), rebuild, 0, 1..=1).await;
    assert_eq!(tally(&fixture).await, 3, "a half build is not read");
    apply_range(new.as_ref(), rebuild, partway.position.get(), 2..=5).await;
    assert_eq!(
        tally(&fixture).await,
        3,
        "a build ahead of the serving one is not read"
    );
    assert_eq!(serving_now(new.as_ref()).await, Some((first, 1)));

    new.activate(
        rebuild,
        Some(ServingAt {
            generation: first,
            checkpoint: first_at.position,
        }),
    )
    .await
    .expect("swap");
    assert_eq!(tally(&fixture).await, 5, "reads go to the new generation");
    assert_eq!(serving_now(old.as_ref()).await, Some((rebuild, 2)));
    assert_eq!(building(new.as_ref()).await, []);
    assert_no_generation(
        old.checkpoint(first).await,
        "the replaced generation's checkpoint",
    );
}

/// A created generation is listed as building, with the version that created it, until it is
/// activated or dropped; one is built at a time, so creating another while one is building is
/// refused; numbers go up and are never reused.
pub async fn building_generations_are_listed_until_activated_or_dropped(
    fixture: impl TargetFixture,
) {
    let v1 = fixture.target(1);
    let v2 = fixture.target(2);
    assert_eq!(
        serving_now(v1.as_ref()).await,
        None,
        "a fresh store serves nothing"
    );
    assert_eq!(building(v1.as_ref()).await, []);
    let first = v1.create_generation().await.expect("generation");
    assert_eq!(building(v1.as_ref()).await, [(first.get(), 1)]);
    v1.activate(first, None).await.expect("activate");
    assert_eq!(
        building(v1.as_ref()).await,
        [],
        "a serving generation is not building"
    );

    let second = v2.create_generation().await.expect("generation");
    assert!(second > first, "generations are numbered upwards");
    assert_eq!(building(v1.as_ref()).await, [(second.get(), 2)]);
    for target in [&v1, &v2] {
        match target.create_generation().await {
            Err(ReadStoreError::BuildInProgress {
                generation,
                version,
                ..
            }) => assert_eq!((generation, version), (second, 2)),
            other => panic!("expected a second build to be refused, got {other:?}"),
        }
    }
    assert_eq!(building(v1.as_ref()).await, [(second.get(), 2)]);
    v1.drop_generation(second, GlobalPosition::ZERO)
        .await
        .expect("drop the building generation");
    assert_eq!(building(v2.as_ref()).await, []);
    assert_no_generation(v2.checkpoint(second).await, "the dropped generation");
    let third = v2
        .create_generation()
        .await
        .expect("a build once the other is dropped");
    assert!(third > second, "numbers are never reused");
    assert_eq!(
        serving_now(v2.as_ref()).await,
        Some((first, 1)),
        "building and dropping never touch the serving generation"
    );
}

/// A reopen of the store (a restart of the process, after a crash) keeps the serving
/// generation with its checkpoint, and a building generation with its data and checkpoint:
/// the rebuild is carried on from there and swapped in, and nothing it applied before the
/// restart is lost or applied again.
pub async fn a_reopen_keeps_the_generations_and_their_checkpoints(mut fixture: impl TargetFixture) {
    let target = fixture.target(1);
    let serving_generation = serving(target.as_ref()).await;
    let serving_at = apply_range(target.as_ref(), serving_generation, 0, 1..=5).await;
    let rebuild = target.create_generation().await.expect("generation");
    let reached = apply_range(target.as_ref(), rebuild, 0, 1..=3).await;
    drop(target);

    fixture.reopen().await;
    let target = fixture.target(1);
    assert_eq!(
        serving_now(target.as_ref()).await,
        Some((serving_generation, 1))
    );
    assert_eq!(
        target
            .checkpoint(serving_generation)
            .await
            .expect("checkpoint"),
        serving_at,
        "the serving generation kept its checkpoint"
    );
    assert_eq!(building(target.as_ref()).await, [(rebuild.get(), 1)]);
    assert_eq!(
        target.checkpoint(rebuild).await.expect("checkpoint"),
        reached,
        "the building generation kept its checkpoint"
    );
    assert_eq!(
        tally(&fixture).await,
        5,
        "reads still go to the serving generation"
    );
    apply_range(target.as_ref(), rebuild, 3, 4..=5).await;
    target
        .activate(
            rebuild,
            Some(ServingAt {
                generation: serving_generation,
                checkpoint: serving_at.position,
            }),
        )
        .await
        .expect("swap");
    assert_eq!(building(target.as_ref()).await, []);
    assert_eq!(
        tally(&fixture).await,
        5,
        "each event applied once across the restart"
    );
    drop(target);

    fixture.reopen().await;
    let target = fixture.target(1);
    assert_eq!(serving_now(target.as_ref()).await, Some((rebuild, 1)));
    assert_eq!(tally(&fixture).await, 5);
}

/// Dead letters belong to the generation they were recorded in: one recorded while
/// rebuilding is not among the serving generation's until the swap. Recording a letter again
/// (the event failed again in a later run) adds to its attempts.
pub async fn dead_letters_belong_to_their_generation(fixture: impl TargetFixture) {
    let target = fixture.target(1);
    let first = serving(target.as_ref()).await;
    let first_at = apply_range(target.as_ref(), first, 0, 1..=2).await;
    target
        .dead_letter(first, fences::letter(3, false), first_at.position, None)
        .await
        .expect("a letter of the stop policy");
    target
        .dead_letter(first, fences::letter(3, false), first_at.position, None)
        .await
        .expect("the same letter again");
    let letters = target.dead_letters().await.expect("dead letters");
    assert_eq!(
        letters
            .iter()
            .map(|l| (l.position.get(), l.attempts, l.skipped))
            .collect::<Vec<_>>(),
        [(3, 6, false)],
        "attempts add up over runs"
    );
    assert_eq!(letters[0].event_type.as_str(), "Tallied");
    assert_eq!(letters[0].error, "refused");

    let rebuild = target.create_generation().await.expect("generation");
    let reached = apply_range(target.as_ref(), rebuild, 0, 1..=1).await;
    let skip_to = Checkpoint::after(&event(2));
    target
        .dead_letter(
            rebuild,
            fences::letter(2, true),
            reached.position,
            Some(skip_to),
        )
        .await
        .expect("a skipped letter while rebuilding");
    assert_eq!(
        target.checkpoint(rebuild).await.expect("checkpoint"),
        skip_to
    );
    let positions = |letters: Vec<projector_core::DeadLetter>| {
        letters.iter().map(|l| l.position.get()).collect::<Vec<_>>()
    };
    assert_eq!(
        positions(target.dead_letters().await.expect("dead letters")),
        [3],
        "the building generation's letters are not the serving one's"
    );
    target
        .activate(
            rebuild,
            Some(ServingAt {
                generation: first,
                checkpoint: first_at.position,
            }),
        )
        .await
        .expect("swap");
    assert_eq!(
        positions(target.dead_letters().await.expect("dead letters")),
        [2]
    );
    assert_eq!(tally(&fixture).await, 1, "a skipped event applies nothing");
}
