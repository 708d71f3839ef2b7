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
