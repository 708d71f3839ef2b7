//! The shared event store conformance suite, run against the embedded SQLite store; the
//! idempotency store's in `idempotency`.

mod idempotency;

use std::sync::Arc;

use projector_testkit::conformance::Fixture;

/// A fresh store in a temporary directory that lives as long as the fixture.
async fn fresh_store() -> Option<Fixture> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = projector_testkit::sqlite::event_store(dir.path());
    Some(Fixture::new(Arc::new(store), dir))
}

projector_testkit::event_store_conformance!(fresh_store());
