//! Read store conformance for generations built as partitions: one swaps in for the serving
//! generation only once each of its partitions has applied everything its counterpart in the
//! serving one has. A partition deciding from its own checkpoints alone would otherwise swap in
//! a generation missing what the other partitions had already served.

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    ApplyError, Checkpoint, EventFilter, Generation, GlobalPosition, Projection, ProjectionError,
    ProjectionName, ProjectionTarget, RecordedEvent, ServingAt, StreamId, StreamVersion,
};
use projector_sql::{SqlParam, SqlProjection, SqlReadStore, SqlTarget, SqlTransaction};

const STREAMS: ProjectionName = ProjectionName::from_static("conformance_streams");

/// Counts each stream's events in a row of its own: keyed by stream, so it runs as partitions.
struct PerStream;

impl Projection for PerStream {
    fn name(&self) -> ProjectionName {
        STREAMS
    }

    fn handles(&self) -> EventFilter {
        EventFilter::All
    }

    fn partitionable(&self) -> bool {
        true
    }
}

#[async_trait]
impl SqlProjection for PerStream {
    fn schema(&self) -> &[&str] {
        &["CREATE TABLE streams (stream TEXT PRIMARY KEY, applied BIGINT NOT NULL)"]
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            tx.execute(
                "INSERT INTO streams (stream, applied) VALUES ($1, 1) \
                 ON CONFLICT (stream) DO UPDATE SET applied = streams.applied + 1",
                &[SqlParam::Text(event.stream_id.as_str())],
            )
            .await
            .map_err(|e| e.at(event.position))?;
        }
        Ok(())
    }
}

/// The events at `positions`, each in a stream of its own.
fn events(positions: std::ops::RangeInclusive<u64>) -> Arc<[RecordedEvent]> {
    positions
        .map(|position| RecordedEvent {
            stream_id: StreamId::parse(format!("stream-{position}")).expect("a stream id"),
            stream_version: StreamVersion::new(1),
            ..super::target::event(position)
        })
        .collect()
}

/// Applies the events at `positions` that `target`'s partition takes (and moves its checkpoint
/// past the others), from its checkpoint at `from`.
async fn apply(
    target: &dyn ProjectionTarget,
    generation: Generation,
    from: u64,
    positions: std::ops::RangeInclusive<u64>,
) {
    let batch = events(positions);
    let to = Checkpoint::after(batch.last().expect("a non-empty batch"));
    target
        .apply(generation, batch, GlobalPosition::new(from), to)
        .await
        .expect("batch applied");
}

/// Two partitions serve generation 1, where partition 0 has applied events its counterpart in
/// a new generation 2 has not. Partition 1, at position 0 in both, may not swap generation 2
/// in: readers would lose partition 0's rows. Once partition 0 has built its share of
/// generation 2 too, the swap goes through and serves every row.
pub async fn a_partitioned_generation_swaps_in_once_every_partition_caught_up(
    store: Arc<dyn SqlReadStore>,
) {
    let parts =
        SqlTarget::partitioned(Arc::clone(&store), Arc::new(PerStream), 2).expect("two partitions");
    let mut parts = parts
        .into_iter()
        .map(|t| Arc::new(t) as Arc<dyn ProjectionTarget>);
    let (Some(first), Some(second)) = (parts.next(), parts.next()) else {
        panic!("two partitions");
    };
    let serving = first.create_generation().await.expect("a generation");
    first.activate(serving, None).await.expect("serving");
    apply(first.as_ref(), serving, 0, 1..=8).await;
    let rows_served = rows(&store).await;
    assert!(rows_served > 0, "partition 0 applied none of 8 streams");

    let building = second.create_generation().await.expect("a new generation");
    let behind = second
        .activate(
            building,
            Some(ServingAt {
                generation: serving,
                checkpoint: GlobalPosition::ZERO,
            }),
        )
        .await;
    assert!(
        behind.is_err(),
        "a generation whose partition 0 is at 0 swapped in for one where it is at 8"
    );
    assert_eq!(
        serving_now(&store).await,
        Some(serving),
        "the refused swap changed the serving generation"
    );
    assert_eq!(rows(&store).await, rows_served);

    apply(first.as_ref(), building, 0, 1..=8).await;
    second
        .activate(
            building,
            Some(ServingAt {
                generation: serving,
                checkpoint: GlobalPosition::ZERO,
            }),
        )
        .await
        .expect("every partition has caught up: the swap goes through");
    assert_eq!(serving_now(&store).await, Some(building));
    assert_eq!(rows(&store).await, rows_served);
    match first
        .apply(
            serving,
            events(9..=9),
            GlobalPosition::new(8),
            Checkpoint::after(&events(9..=9)[0]),
        )
        .await
    {
        Err(ApplyError::Store(error)) => assert!(
            error.is_fenced(),
            "a batch for the replaced generation: {error}"
        ),
        Err(error) => panic!("a batch for the replaced generation: {error}"),
        Ok(()) => panic!("a batch committed to the generation swapped out"),
    }
}

/// The generation serving reads.
async fn serving_now(store: &Arc<dyn SqlReadStore>) -> Option<Generation> {
    store
        .serving(&STREAMS)
        .await
        .expect("serving")
        .map(|s| s.generation)
}

/// The rows the serving generation holds.
async fn rows(store: &Arc<dyn SqlReadStore>) -> i64 {
    let found = store
        .query(&STREAMS, "SELECT count(*) FROM streams", &[])
        .await
        .expect("rows");
    found
        .first()
        .map(|row| row.get::<i64>(0).expect("a count"))
        .unwrap_or(0)
}
