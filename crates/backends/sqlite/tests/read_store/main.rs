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
async fn building_generations_are_reported_until_swapped_in_or_dropped() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let reads =
        SqliteReadStore::open(dir.path(), SqliteReadStoreOptions::default()).expect("read store");
    projector_testkit::conformance::read_store::building_generations_are_reported_until_swapped_in_or_dropped(
        Arc::new(reads),
    )
    .await;
}
