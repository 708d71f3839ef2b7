//! The shared event store conformance suite, run against PostgreSQL: a fresh database per test.
//! The idempotency store's is in `idempotency`.

mod idempotency;

use std::sync::Arc;

use projector_postgres::{PgEventStore, PgEventStoreOptions};
use projector_testkit::conformance::Fixture;
use projector_testkit::postgres::TestDatabase;

/// A fresh store on a fresh database, dropped with the fixture; `None` to skip when PostgreSQL
/// is unavailable outside CI.
async fn fresh_store() -> Option<Fixture> {
    let database = TestDatabase::create().await?;
    let store = PgEventStore::connect(database.url(), PgEventStoreOptions::default())
        .await
        .expect("connect to a fresh database");
    Some(Fixture::new(Arc::new(store), database))
}

projector_testkit::event_store_conformance!(fresh_store());
