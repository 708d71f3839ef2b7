//! The read store conformance checks, on SQLite.

use std::sync::Arc;

use projector_sqlite::{SqliteReadStore, SqliteReadStoreOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_checkpoint_refuses_the_batch() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let reads =
        SqliteReadStore::open(dir.path(), SqliteReadStoreOptions::default()).expect("read store");
    projector_testkit::conformance::read_store::a_moved_checkpoint_refuses_the_batch(Arc::new(
        reads,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn building_generations_are_listed_until_activated_or_dropped() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let reads =
        SqliteReadStore::open(dir.path(), SqliteReadStoreOptions::default()).expect("read store");
    projector_testkit::conformance::read_store::building_generations_are_listed_until_activated_or_dropped(
        Arc::new(reads),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_dead_letter_changes_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let reads =
        SqliteReadStore::open(dir.path(), SqliteReadStoreOptions::default()).expect("read store");
    projector_testkit::conformance::read_store::fences::a_stale_dead_letter_changes_nothing(
        Arc::new(reads),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_swap_changes_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let reads =
        SqliteReadStore::open(dir.path(), SqliteReadStoreOptions::default()).expect("read store");
    projector_testkit::conformance::read_store::fences::a_stale_swap_changes_nothing(Arc::new(
        reads,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_drop_changes_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let reads =
        SqliteReadStore::open(dir.path(), SqliteReadStoreOptions::default()).expect("read store");
    projector_testkit::conformance::read_store::fences::a_stale_drop_changes_nothing(Arc::new(
        reads,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn building_generations_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().to_path_buf();
    projector_testkit::conformance::read_store::building_generations_survive_a_reopen(|| {
        let path = path.clone();
        async move {
            Arc::new(
                SqliteReadStore::open(&path, SqliteReadStoreOptions::default())
                    .expect("read store"),
            ) as Arc<dyn projector_sql::SqlReadStore>
        }
    })
    .await;
}

/// A generation registered as building whose file never got its tables (the process died
/// while creating it) cannot be carried on: opening the store drops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_building_generation_without_its_file_is_dropped_at_open() {
    use projector_sql::SqlReadStore;

    let dir = tempfile::tempdir().expect("temporary directory");
    let name = projector_core::ProjectionName::from_static("half_made");
    {
        let reads = SqliteReadStore::open(dir.path(), SqliteReadStoreOptions::default())
            .expect("read store");
        reads
            .create_generation(&HalfMade)
            .await
            .expect("generation");
        assert_eq!(reads.building(&name).await.expect("building").len(), 1);
    }
    std::fs::remove_file(dir.path().join("half_made.g1.db")).expect("remove the file");
    let reads =
        SqliteReadStore::open(dir.path(), SqliteReadStoreOptions::default()).expect("read store");
    assert!(reads.building(&name).await.expect("building").is_empty());
}

struct HalfMade;

impl projector_core::Projection for HalfMade {
    fn name(&self) -> projector_core::ProjectionName {
        projector_core::ProjectionName::from_static("half_made")
    }

    fn handles(&self) -> projector_core::EventFilter {
        projector_core::EventFilter::All
    }
}

#[async_trait::async_trait]
impl projector_sql::SqlProjection for HalfMade {
    fn schema(&self) -> &[&str] {
        &["CREATE TABLE t (id BIGINT PRIMARY KEY)"]
    }

    async fn apply(
        &self,
        _tx: &mut dyn projector_sql::SqlTransaction,
        _events: &[projector_core::RecordedEvent],
    ) -> Result<(), projector_core::ProjectionError> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_rows_are_written_and_upserted_in_one_batch() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let reads =
        SqliteReadStore::open(dir.path(), SqliteReadStoreOptions::default()).expect("read store");
    projector_testkit::conformance::batch_writes::many_rows_are_written_and_upserted_in_one_batch(
        Arc::new(reads),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_never_fail_during_swaps() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let reads =
        SqliteReadStore::open(dir.path(), SqliteReadStoreOptions::default()).expect("read store");
    projector_testkit::conformance::read_store::fences::reads_never_fail_during_swaps(Arc::new(
        reads,
    ))
    .await;
}
