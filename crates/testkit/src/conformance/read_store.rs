//! Read store conformance: a batch commits with its checkpoint, and a batch that expects the
//! checkpoint somewhere else (another process applied the generation) is refused whole;
//! building generations are listed with their version until activated or dropped, and survive
//! a reopen of the store with their rows and checkpoint, so a rebuild can be carried on. The
//! other writes to checkpoints and the catalog are fenced the same way (see [`fences`]).

pub mod fences;

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    ApplyError, Checkpoint, EventFilter, GlobalPosition, Projection, ProjectionError,
    ProjectionName, ReadStoreError, RecordedEvent, ServingAt, StreamId, StreamVersion,
};
use projector_sql::{SqlProjection, SqlReadStore, SqlTransaction};

/// Counts the events it applies in one row; `Tally(version)`.
pub(crate) struct Tally(pub(crate) u32);

pub(crate) const TALLY: ProjectionName = ProjectionName::from_static("conformance_tally");

impl Projection for Tally {
    fn name(&self) -> ProjectionName {
        TALLY
    }

    fn version(&self) -> u32 {
        self.0
    }

    fn handles(&self) -> EventFilter {
        EventFilter::All
    }
}

#[async_trait]
impl SqlProjection for Tally {
    fn schema(&self) -> &[&str] {
        &["CREATE TABLE tally (id BIGINT PRIMARY KEY, applied BIGINT NOT NULL)"]
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            tx.execute(
                "INSERT INTO tally (id, applied) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET applied = tally.applied + 1",
                &[],
            )
            .await
            .map_err(|e| e.at(event.position))?;
        }
        Ok(())
    }
}

pub(crate) fn event(position: u64) -> RecordedEvent {
    RecordedEvent {
        event_id: uuid::Uuid::now_v7(),
        position: GlobalPosition::new(position),
        stream_id: StreamId::from_static("tally-1"),
        stream_version: StreamVersion::new(position),
        event_type: projector_core::EventType::from_static("Tallied"),
        schema_version: 1,
        data: projector_core::JsonPayload::from_json("{}").expect("json"),
        metadata: projector_core::EventMetadata::default(),
        recorded_at: chrono::DateTime::from_timestamp_micros(1_780_000_000_000_000).expect("time"),
    }
}

pub(crate) async fn tally(store: &dyn SqlReadStore) -> i64 {
    let rows = store
        .query(&TALLY, "SELECT applied FROM tally WHERE id = 1", &[])
        .await
        .expect("query");
    rows.first().map_or(0, |row| row.get(0).expect("applied"))
}

/// Batches commit with their checkpoint; a batch whose starting checkpoint is stale is
/// refused with `CheckpointMoved` and changes nothing.
pub async fn a_moved_checkpoint_refuses_the_batch(store: Arc<dyn SqlReadStore>) {
    let generation = store
        .create_generation(&Tally(1))
        .await
        .expect("generation");
    store
        .activate(&TALLY, generation, None)
        .await
        .expect("activate");
    let batch: Arc<[RecordedEvent]> = (1..=3).map(event).collect();
    let to = Checkpoint::after(&batch[2]);
    store
        .apply(
            Arc::new(Tally(1)),
            generation,
            Arc::clone(&batch),
            GlobalPosition::ZERO,
            to,
        )
        .await
        .expect("first batch");
    assert_eq!(
        store
            .checkpoint(&TALLY, generation)
            .await
            .expect("checkpoint"),
        to
    );
    assert_eq!(tally(store.as_ref()).await, 3);

    // The same batch again, as a second process that read the old checkpoint would send it.
    match store
        .apply(
            Arc::new(Tally(1)),
            generation,
            batch,
            GlobalPosition::ZERO,
            to,
        )
        .await
    {
        Err(ApplyError::Store(ReadStoreError::CheckpointMoved {
            expected, found, ..
        })) => {
            assert_eq!(
                (expected, found),
                (GlobalPosition::ZERO, GlobalPosition::new(3))
            );
        }
        other => panic!("expected the batch to be refused, got {other:?}"),
    }
    assert_eq!(tally(store.as_ref()).await, 3, "nothing was applied twice");

    let next: Arc<[RecordedEvent]> = Arc::from(vec![event(4)]);
    let to = Checkpoint::after(&next[0]);
    store
        .apply(
            Arc::new(Tally(1)),
            generation,
            next,
            GlobalPosition::new(3),
            to,
        )
        .await
        .expect("the batch from the current checkpoint");
    assert_eq!(tally(store.as_ref()).await, 4);
}

/// The building generations of the tally, as `(generation, version)`.
pub(crate) async fn building(store: &dyn SqlReadStore) -> Vec<(u32, u32)> {
    store
        .building(&TALLY)
        .await
        .expect("building generations")
        .into_iter()
        .map(|b| (b.generation.get(), b.version))
        .collect()
}

/// Applies the events at `positions` to `generation`, from the checkpoint `from`.
pub(crate) async fn apply_range(
    store: &dyn SqlReadStore,
    generation: projector_core::Generation,
    from: u64,
    positions: std::ops::RangeInclusive<u64>,
) -> Checkpoint {
    let batch: Arc<[RecordedEvent]> = positions.map(event).collect();
    let to = Checkpoint::after(batch.last().expect("a non-empty batch"));
    store
        .apply(
            Arc::new(Tally(1)),
            generation,
            batch,
            GlobalPosition::new(from),
            to,
        )
        .await
        .expect("batch applied");
    to
}

/// A created generation is listed as building, with the version that created it, until it is
/// activated or dropped; one is built at a time, so creating another while one is building is
/// refused.
pub async fn building_generations_are_listed_until_activated_or_dropped(
    store: Arc<dyn SqlReadStore>,
) {
    assert_eq!(building(store.as_ref()).await, []);
    let first = store
        .create_generation(&Tally(1))
        .await
        .expect("generation");
    assert_eq!(building(store.as_ref()).await, [(first.get(), 1)]);
    store.activate(&TALLY, first, None).await.expect("activate");
    assert_eq!(
        building(store.as_ref()).await,
        [],
        "a serving generation is not building"
    );

    let second = store
        .create_generation(&Tally(2))
        .await
        .expect("generation");
    assert!(second > first, "generations are numbered upwards");
    assert_eq!(building(store.as_ref()).await, [(second.get(), 2)]);
    match store.create_generation(&Tally(2)).await {
        Err(ReadStoreError::BuildInProgress {
            generation,
            version,
            ..
        }) => assert_eq!((generation, version), (second, 2)),
        other => panic!("expected a second build to be refused, got {other:?}"),
    }
    assert_eq!(building(store.as_ref()).await, [(second.get(), 2)]);
    store
        .drop_generation(&TALLY, second, GlobalPosition::ZERO)
        .await
        .expect("drop the building generation");
    assert_eq!(building(store.as_ref()).await, []);
    assert!(
        store.checkpoint(&TALLY, second).await.is_err(),
        "the dropped generation is gone"
    );
    let third = store
        .create_generation(&Tally(2))
        .await
        .expect("a build once the other is dropped");
    assert!(third > second, "numbers are never reused");
    assert_eq!(
        store.serving(&TALLY).await.expect("serving"),
        Some(projector_core::ServingGeneration {
            generation: first,
            version: 1
        }),
        "building and dropping never touch the serving generation"
    );
}

/// A building generation survives a reopen of the store (a restart of the process) with its
/// rows and checkpoint: a rebuild is carried on from there and swapped in, and nothing it
/// applied before the restart is lost or applied again.
pub async fn building_generations_survive_a_reopen<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn SqlReadStore>>,
{
    let store = open().await;
    let serving = store
        .create_generation(&Tally(1))
        .await
        .expect("generation");
    store
        .activate(&TALLY, serving, None)
        .await
        .expect("activate");
    let serving_at = apply_range(store.as_ref(), serving, 0, 1..=5).await;
    let rebuild = store
        .create_generation(&Tally(1))
        .await
        .expect("generation");
    let reached = apply_range(store.as_ref(), rebuild, 0, 1..=3).await;
    drop(store);

    let store = open().await;
    assert_eq!(building(store.as_ref()).await, [(rebuild.get(), 1)]);
    assert_eq!(
        store.checkpoint(&TALLY, rebuild).await.expect("checkpoint"),
        reached,
        "the building generation kept its checkpoint"
    );
    assert_eq!(
        tally(store.as_ref()).await,
        5,
        "reads still go to the serving generation"
    );
    apply_range(store.as_ref(), rebuild, 3, 4..=5).await;
    store
        .activate(
            &TALLY,
            rebuild,
            Some(ServingAt {
                generation: serving,
                checkpoint: serving_at.position,
            }),
        )
        .await
        .expect("swap");
    assert_eq!(building(store.as_ref()).await, []);
    assert_eq!(
        tally(store.as_ref()).await,
        5,
        "each event applied once across the restart"
    );
    drop(store);

    let store = open().await;
    assert_eq!(
        store
            .serving(&TALLY)
            .await
            .expect("serving")
            .map(|s| s.generation),
        Some(rebuild)
    );
    assert_eq!(tally(store.as_ref()).await, 5);
}
