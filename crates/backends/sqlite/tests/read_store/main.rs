//! The target conformance checks, and what SQL read stores add to them, on SQLite.

use std::sync::Arc;

use projector_core::ProjectionControls;
use projector_sqlite::{SqliteControls, SqliteReadStore, SqliteReadStoreOptions};
use projector_testkit::conformance::target::sql::SqlFixture;

/// A read store in a fresh temporary directory, reopened from the same directory.
async fn fixture() -> Option<SqlFixture> {
    let dir = projector_testkit::temp_dir();
    let path = dir.path().to_path_buf();
    let open = move || {
        let path = path.clone();
        async move {
            Arc::new(
                SqliteReadStore::open(&path, SqliteReadStoreOptions::default())
                    .expect("read store"),
            ) as Arc<dyn projector_sql::SqlReadStore>
        }
    };
    Some(SqlFixture::open(open, dir).await)
}

/// A read store in a fresh temporary directory.
async fn sql_store() -> Option<(tempfile::TempDir, Arc<dyn projector_sql::SqlReadStore>)> {
    let dir = projector_testkit::temp_dir();
    let reads =
        SqliteReadStore::open(dir.path(), SqliteReadStoreOptions::default()).expect("read store");
    Some((dir, Arc::new(reads)))
}

/// Two connections to one directory's controls, as the CLI and a server have.
async fn controls() -> Option<(
    tempfile::TempDir,
    Arc<dyn ProjectionControls>,
    Arc<dyn ProjectionControls>,
)> {
    let dir = projector_testkit::temp_dir();
    let open = || Arc::new(SqliteControls::open(dir.path().join("read")).expect("controls"));
    let (here, there) = (open(), open());
    Some((dir, here, there))
}

projector_testkit::target_conformance!(fixture(), sql_store: sql_store(), controls: controls());

/// A generation registered as building whose file never got its tables (the process died
/// while creating it) cannot be carried on: opening the store drops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_building_generation_without_its_file_is_dropped_at_open() {
    use projector_sql::SqlReadStore;

    let dir = projector_testkit::temp_dir();
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
