//! Read store conformance for writing many rows at once: [`SqlTransaction::execute_batch`]
//! runs every statement in order and names the first that failed, and [`MultiRowInsert`]
//! writes and upserts rows across its chunk sizes, a failure rolling the batch back whole.

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    ApplyError, Checkpoint, EventFilter, GlobalPosition, Projection, ProjectionError,
    ProjectionName, RecordedEvent, StreamId, StreamVersion,
};
use projector_sql::{MultiRowInsert, SqlParam, SqlProjection, SqlReadStore, SqlTransaction};

const ROWS: ProjectionName = ProjectionName::from_static("conformance_rows");

static UPSERT: MultiRowInsert = MultiRowInsert::new(
    "INSERT INTO numbered (id, label, n)",
    3,
    "ON CONFLICT (id) DO UPDATE SET label = excluded.label, n = excluded.n",
);

/// Writes `rows` rows per batch with [`UPSERT`], labelled `label`; with `null_at`, that row's
/// label is NULL, which the table refuses.
struct Rows {
    rows: i64,
    label: &'static str,
    null_at: Option<i64>,
}

impl Projection for Rows {
    fn name(&self) -> ProjectionName {
        ROWS
    }

    fn handles(&self) -> EventFilter {
        EventFilter::All
    }
}

#[async_trait]
impl SqlProjection for Rows {
    fn schema(&self) -> &[&str] {
        &["CREATE TABLE numbered (id BIGINT PRIMARY KEY, label TEXT NOT NULL, n BIGINT NOT NULL)"]
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let position = events[events.len() - 1].position;
        let values: Vec<[SqlParam<'_>; 3]> = (0..self.rows)
            .map(|id| {
                let label = if Some(id) == self.null_at {
                    SqlParam::Null
                } else {
                    SqlParam::Text(self.label)
                };
                [SqlParam::Int(id), label, SqlParam::Int(id * 2)]
            })
            .collect();
        let rows: Vec<&[SqlParam<'_>]> = values.iter().map(|v| &v[..]).collect();
        let changed = UPSERT
            .execute(tx, &rows)
            .await
            .map_err(|failed| ProjectionError::at(position, format!("row {}", failed.index)))?;
        if changed != self.rows as u64 {
            return Err(ProjectionError::at(
                position,
                format!("{changed} rows changed"),
            ));
        }
        Ok(())
    }
}

fn event(position: u64) -> RecordedEvent {
    RecordedEvent {
        event_id: uuid::Uuid::now_v7(),
        position: GlobalPosition::new(position),
        stream_id: StreamId::from_static("rows-1"),
        stream_version: StreamVersion::new(position),
        event_type: projector_core::EventType::from_static("Numbered"),
        schema_version: 1,
        data: projector_core::JsonPayload::from_json("{}").expect("json"),
        metadata: projector_core::EventMetadata::default(),
        recorded_at: chrono::DateTime::from_timestamp_micros(1_780_000_000_000_000).expect("time"),
    }
}

async fn summary(store: &dyn SqlReadStore) -> (i64, i64, Option<String>, Option<String>) {
    let rows = store
        .query(
            &ROWS,
            "SELECT count(*), CAST(coalesce(sum(n), 0) AS BIGINT), min(label), max(label) FROM numbered",
            &[],
        )
        .await
        .expect("query");
    let row = rows.first().expect("a row");
    (
        row.get(0).expect("count"),
        row.get(1).expect("sum"),
        row.get(2).expect("min"),
        row.get(3).expect("max"),
    )
}

async fn apply(
    store: &dyn SqlReadStore,
    projection: Rows,
    generation: projector_core::Generation,
    position: u64,
) -> Result<(), ApplyError> {
    let batch: Arc<[RecordedEvent]> = Arc::from(vec![event(position)]);
    let to = Checkpoint::after(&batch[0]);
    store
        .apply(
            Arc::new(projection),
            generation,
            batch,
            GlobalPosition::new(position - 1),
            to,
        )
        .await
}

/// 300 rows (chunks of 128, 128, 32, 8 and 4) are written, then upserted in place; a batch
/// whose row 200 is refused names the statement holding it and leaves nothing behind.
pub async fn many_rows_are_written_and_upserted_in_one_batch(store: Arc<dyn SqlReadStore>) {
    let generation = store
        .create_generation(&Rows {
            rows: 0,
            label: "",
            null_at: None,
        })
        .await
        .expect("generation");
    store
        .activate(&ROWS, generation, None)
        .await
        .expect("activate");
    let sum: i64 = (0..300).map(|id| id * 2).sum();

    let first = Rows {
        rows: 300,
        label: "first",
        null_at: None,
    };
    apply(store.as_ref(), first, generation, 1)
        .await
        .expect("first batch");
    assert_eq!(
        summary(store.as_ref()).await,
        (300, sum, Some("first".into()), Some("first".into()))
    );

    let again = Rows {
        rows: 300,
        label: "second",
        null_at: None,
    };
    apply(store.as_ref(), again, generation, 2)
        .await
        .expect("upserting the same rows");
    assert_eq!(
        summary(store.as_ref()).await,
        (300, sum, Some("second".into()), Some("second".into()))
    );

    let refused = Rows {
        rows: 300,
        label: "third",
        null_at: Some(200),
    };
    match apply(store.as_ref(), refused, generation, 3).await {
        Err(ApplyError::Projection(error)) => {
            assert_eq!(
                error.message, "row 128",
                "the statement of rows 128-255 failed"
            );
        }
        other => panic!("expected the batch to fail, got {other:?}"),
    }
    assert_eq!(
        summary(store.as_ref()).await,
        (300, sum, Some("second".into()), Some("second".into())),
        "the failed batch left nothing behind"
    );
    assert_eq!(
        store
            .checkpoint(&ROWS, generation)
            .await
            .expect("checkpoint")
            .position,
        GlobalPosition::new(2)
    );
}
