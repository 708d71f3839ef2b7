//! Read store conformance: a batch commits with its checkpoint, and a batch that expects the
//! checkpoint somewhere else (another process applied the generation) is refused whole;
//! generations being built are reported until swapped in or dropped.

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    ApplyError, BuildingGeneration, Checkpoint, EventFilter, GlobalPosition, Projection,
    ProjectionError, ProjectionName, ReadStoreError, RecordedEvent, SqlProjection, SqlReadStore,
    SqlTransaction, StreamId, StreamVersion,
};

/// Counts the events it applies in one row.
struct Tally;

const TALLY: ProjectionName = ProjectionName::from_static("conformance_tally");

impl Projection for Tally {
    fn name(&self) -> ProjectionName {
        TALLY
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
            .map_err(|e| ProjectionError::sql(event.position, e))?;
        }
        Ok(())
    }
}

fn event(position: u64) -> RecordedEvent {
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

async fn tally(store: &dyn SqlReadStore) -> i64 {
    let rows = store
        .query(&TALLY, "SELECT applied FROM tally WHERE id = 1", &[])
        .await
        .expect("query");
    rows.first().map_or(0, |row| row.get(0).expect("applied"))
}

/// Batches commit with their checkpoint; a batch whose starting checkpoint is stale is
/// refused with `CheckpointMoved` and changes nothing.
pub async fn a_moved_checkpoint_refuses_the_batch(store: Arc<dyn SqlReadStore>) {
    let generation = store.create_generation(&Tally).await.expect("generation");
    store.activate(&TALLY, generation).await.expect("activate");
    let batch: Arc<[RecordedEvent]> = (1..=3).map(event).collect();
    let to = Checkpoint::after(&batch[2]);
    store
        .apply(
            Arc::new(Tally),
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
        .apply(Arc::new(Tally), generation, batch, GlobalPosition::ZERO, to)
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
            Arc::new(Tally),
            generation,
            next,
            GlobalPosition::new(3),
            to,
        )
        .await
        .expect("the batch from the current checkpoint");
    assert_eq!(tally(store.as_ref()).await, 4);
}

/// A created generation is building until activated or dropped, and the newest one is the one
/// reported, with the version that created it: what lets the next run resume a rebuild.
pub async fn building_generations_are_reported_until_swapped_in_or_dropped(
    store: Arc<dyn SqlReadStore>,
) {
    assert_eq!(store.building(&TALLY).await.expect("catalog"), None);
    let first = store.create_generation(&Tally).await.expect("generation");
    assert_eq!(
        store.building(&TALLY).await.expect("catalog"),
        Some(BuildingGeneration {
            generation: first,
            version: Tally.version(),
        })
    );
    store.activate(&TALLY, first).await.expect("activate");
    assert_eq!(store.building(&TALLY).await.expect("catalog"), None);

    let second = store.create_generation(&Tally).await.expect("generation");
    assert_eq!(
        store
            .building(&TALLY)
            .await
            .expect("catalog")
            .map(|b| b.generation),
        Some(second)
    );
    // Its checkpoint survives for whoever resumes it.
    let batch: Arc<[RecordedEvent]> = (1..=2).map(event).collect();
    let to = Checkpoint::after(&batch[1]);
    store
        .apply(Arc::new(Tally), second, batch, GlobalPosition::ZERO, to)
        .await
        .expect("a batch of the rebuild");
    assert_eq!(
        store.checkpoint(&TALLY, second).await.expect("checkpoint"),
        to
    );
    store.drop_generation(&TALLY, second).await.expect("drop");
    assert_eq!(store.building(&TALLY).await.expect("catalog"), None);
    assert_eq!(
        store
            .serving(&TALLY)
            .await
            .expect("catalog")
            .map(|s| s.generation),
        Some(first),
        "the serving generation is untouched"
    );
}
