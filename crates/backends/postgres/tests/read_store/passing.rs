//! A batch a projection takes none of: the checkpoint moves in one statement, and one that
//! already stands elsewhere is reported from that statement.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use projector_core::{
    ApplyError, Checkpoint, EventFilter, GlobalPosition, Projection, ProjectionError,
    ProjectionName, ReadStoreError, RecordedEvent,
};
use projector_postgres::{PgReadStore, PgReadStoreOptions};
use projector_sql::{SqlProjection, SqlReadStore, SqlTransaction};
use projector_testkit::postgres::TestDatabase;

const QUIET: ProjectionName = ProjectionName::from_static("quiet");

/// Takes no event at all.
struct Quiet;

impl Projection for Quiet {
    fn name(&self) -> ProjectionName {
        QUIET
    }

    fn handles(&self) -> EventFilter {
        EventFilter::All
    }
}

#[async_trait]
impl SqlProjection for Quiet {
    fn schema(&self) -> &[&str] {
        &["CREATE TABLE quiet (id INTEGER PRIMARY KEY)"]
    }

    async fn apply(
        &self,
        _tx: &mut dyn SqlTransaction,
        _events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        Ok(())
    }
}

/// A checkpoint at the batch's end already (an inline read model's, which the event store's
/// appends move) is where the batch would leave it: the batch succeeds. Anywhere else it is
/// refused, naming where the checkpoint stands, and nothing moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_batch_finds_where_the_checkpoint_stands() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = PgReadStore::connect(database.url(), PgReadStoreOptions::default())
        .await
        .expect("read store");
    let generation = store.create_generation(&Quiet).await.expect("generation");
    store
        .activate(&QUIET, generation, None)
        .await
        .expect("activate");
    let now = chrono::DateTime::from_timestamp_micros(Utc::now().timestamp_micros());
    let at = |position| Checkpoint {
        position: GlobalPosition::new(position),
        last_event_at: now,
    };
    let empty = || Arc::from(Vec::<RecordedEvent>::new());
    let zero = GlobalPosition::ZERO;
    let stands = || async {
        store
            .checkpoint(&QUIET, generation)
            .await
            .expect("checkpoint")
    };

    store
        .apply(Arc::new(Quiet), generation, empty(), zero, at(5))
        .await
        .expect("moved from where it stood");
    assert_eq!(stands().await, at(5));
    store
        .apply(Arc::new(Quiet), generation, empty(), zero, at(5))
        .await
        .expect("already at the batch's end");
    assert_eq!(stands().await, at(5));
    let refused = store
        .apply(Arc::new(Quiet), generation, empty(), zero, at(3))
        .await;
    assert!(
        matches!(
            refused,
            Err(ApplyError::Store(ReadStoreError::CheckpointMoved { expected, found, .. }))
                if expected == zero && found == GlobalPosition::new(5)
        ),
        "{refused:?}"
    );
    assert_eq!(stands().await, at(5));
}
