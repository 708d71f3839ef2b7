//! Portable parameters bound to the types PostgreSQL infers, and result columns read back as
//! portable values, through a projection whose table uses many column types.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use projector_core::{
    Checkpoint, EventFilter, Projection, ProjectionError, ProjectionName, RecordedEvent,
};
use projector_postgres::{PgReadStore, PgReadStoreOptions};
use projector_sql::{
    SqlErrorKind, SqlParam, SqlProjection, SqlReadStore, SqlTransaction, SqlValue, parse_sql_time,
};
use projector_testkit::postgres::TestDatabase;

const TYPED: ProjectionName = ProjectionName::from_static("typed");

/// Writes one row of every type per event; the event's payload says which row.
struct Typed;

impl Projection for Typed {
    fn name(&self) -> ProjectionName {
        TYPED
    }

    fn handles(&self) -> EventFilter {
        EventFilter::All
    }
}

#[async_trait]
impl SqlProjection for Typed {
    fn schema(&self) -> &[&str] {
        &["CREATE TABLE typed (
            id INTEGER PRIMARY KEY, small SMALLINT, big BIGINT, ratio REAL,
            real DOUBLE PRECISION, amount NUMERIC(14, 4), whole NUMERIC, flag BOOLEAN,
            counted BIGINT, label VARCHAR(20), note TEXT, at TIMESTAMPTZ DEFAULT now()
        )"]
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            let id = i64::try_from(event.position.get()).expect("small position");
            let params: [SqlParam<'_>; 11] = [
                id.into(),
                SqlParam::Int(-7),
                SqlParam::Int(i64::MAX),
                SqlParam::Real(0.5),
                SqlParam::Int(3),
                SqlParam::Real(-1234.5678),
                SqlParam::Int(42),
                SqlParam::Int(1),
                SqlParam::Bool(true),
                SqlParam::Text("żółw"),
                SqlParam::Null,
            ];
            tx.execute(
                "INSERT INTO typed (id, small, big, ratio, real, amount, whole, flag, counted, label, note) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &params,
            )
            .await
            .map_err(|e| e.at(event.position))?;
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_and_results_convert_for_every_inferred_type() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = PgReadStore::connect(database.url(), PgReadStoreOptions::default())
        .await
        .expect("read store");
    let generation = store.create_generation(&Typed).await.expect("generation");
    store
        .activate(&TYPED, generation, None)
        .await
        .expect("activate");
    let event = RecordedEvent {
        event_id: uuid::Uuid::now_v7(),
        position: projector_core::GlobalPosition::new(1),
        stream_id: projector_core::StreamId::from_static("typed-1"),
        stream_version: projector_core::StreamVersion::new(1),
        event_type: projector_core::EventType::from_static("Typed"),
        schema_version: 1,
        data: projector_core::JsonPayload::from_json("{}").expect("json"),
        metadata: Default::default(),
        // Stores keep microseconds, as PostgreSQL does.
        recorded_at: chrono::DateTime::from_timestamp_micros(Utc::now().timestamp_micros())
            .expect("now"),
    };
    let checkpoint = Checkpoint::after(&event);
    store
        .apply(
            Arc::new(Typed),
            generation,
            Arc::from(vec![event]),
            projector_core::GlobalPosition::ZERO,
            checkpoint,
        )
        .await
        .expect("apply");
    assert_eq!(
        store
            .checkpoint(&TYPED, generation)
            .await
            .expect("checkpoint"),
        checkpoint
    );

    let rows = store
        .query(
            &TYPED,
            "SELECT id, small, big, ratio, real, amount, whole, flag, counted, label, note, at, \
             count(*) OVER () FROM typed WHERE id = $1",
            &[SqlParam::Int(1)],
        )
        .await
        .expect("query");
    let values = rows[0].values();
    assert_eq!(
        &values[..11],
        &[
            SqlValue::Int(1),
            SqlValue::Int(-7),
            SqlValue::Int(i64::MAX),
            SqlValue::Real(0.5),
            SqlValue::Real(3.0),
            SqlValue::Real(-1234.5678),
            SqlValue::Real(42.0),
            SqlValue::Bool(true),
            SqlValue::Int(1),
            SqlValue::Text("żółw".into()),
            SqlValue::Null,
        ]
    );
    let SqlValue::Text(at) = &values[11] else {
        panic!("timestamptz read as {:?}", values[11]);
    };
    parse_sql_time(at).expect("a portable time");
    assert_eq!(values[12], SqlValue::Int(1));
    assert_eq!(rows[0].columns()[0], "id");

    // Reads run read-only; wrong SQL and unconvertible values are told apart from transient
    // failures.
    let write = store
        .query(&TYPED, "DELETE FROM typed", &[])
        .await
        .expect_err("a write in a read-only query");
    let Some(write) = projector_sql::sql_error(&write) else {
        panic!("expected a query error, got {write:?}");
    };
    assert!(!write.is_transient(), "{write}");
    let missing = store
        .query(&TYPED, "SELECT nothing FROM nowhere", &[])
        .await
        .expect_err("unknown table");
    assert!(
        projector_sql::sql_error(&missing).is_some_and(|e| e.kind == SqlErrorKind::Statement),
        "{missing:?}"
    );
    let overflow = store
        .query(&TYPED, "SELECT $1::smallint", &[SqlParam::Int(100_000)])
        .await
        .expect_err("out of range for smallint");
    assert!(
        projector_sql::sql_error(&overflow).is_some_and(|e| e.kind == SqlErrorKind::Conversion),
        "{overflow:?}"
    );
    let unportable = store
        .query(&TYPED, "SELECT '{1}'::int[]", &[])
        .await
        .expect_err("arrays are not portable");
    assert!(
        projector_sql::sql_error(&unportable).is_some_and(|e| e.kind == SqlErrorKind::Conversion),
        "{unportable:?}"
    );
    let count = store
        .query(&TYPED, "SELECT 1 WHERE $1", &[])
        .await
        .expect_err("missing parameter");
    assert!(
        projector_sql::sql_error(&count).is_some_and(|e| e.kind == SqlErrorKind::Statement),
        "{count:?}"
    );
    assert!(matches!(
        store
            .query(&ProjectionName::from_static("nope"), "SELECT 1", &[])
            .await,
        Err(projector_core::ReadStoreError::NoGeneration { .. })
    ));
}
