//! Real stores for the projection tests (SQLite files in a temporary directory, or a fresh
//! PostgreSQL database), and the commands and values the tests build.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use projector_core::{CommandOptions, EventStore, execute};
use projector_postgres::{PgEventStore, PgEventStoreOptions, PgReadStore, PgReadStoreOptions};
use projector_products::projections::PRODUCTS;
use projector_products::{Price, ProductCommand, ProductDecider, ProductId, product_stream};
use projector_sql::{SqlReadStore, SqlValue};
use projector_testkit::postgres::TestDatabase;

/// The suites' one deadline for waiting on something that should happen.
pub fn patience() -> Duration {
    projector_testkit::wait::deadline()
}

/// An event store and a read store, kept alive with what they live in.
pub struct Stores {
    pub events: Arc<dyn EventStore>,
    pub reads: Arc<dyn SqlReadStore>,
    _dir: Option<tempfile::TempDir>,
    _database: Option<TestDatabase>,
}

impl Stores {
    /// Both stores in SQLite files of a fresh directory.
    pub fn sqlite() -> Self {
        let dir = projector_testkit::temp_dir();
        let events = projector_testkit::sqlite::event_store(dir.path());
        let reads = projector_testkit::sqlite::read_store(dir.path());
        Self {
            events: Arc::new(events),
            reads: Arc::new(reads),
            _dir: Some(dir),
            _database: None,
        }
    }

    /// Both stores in a fresh PostgreSQL database; `None` (the test skips) when PostgreSQL is
    /// away outside CI.
    pub async fn postgres() -> Option<Self> {
        let database = TestDatabase::create().await?;
        let events = PgEventStore::connect(database.url(), PgEventStoreOptions::default())
            .await
            .expect("events");
        let reads = PgReadStore::connect(database.url(), PgReadStoreOptions::default())
            .await
            .expect("reads");
        Some(Self {
            events: Arc::new(events),
            reads: Arc::new(reads),
            _dir: None,
            _database: Some(database),
        })
    }

    /// The rows `sql` selects from the `products` read model, as values.
    pub async fn rows(&self, sql: &str) -> Vec<Vec<SqlValue>> {
        self.reads
            .query(&PRODUCTS, sql, &[])
            .await
            .expect("query")
            .into_iter()
            .map(|row| row.values().to_vec())
            .collect()
    }
}

/// Runs `command` on product `id` through the decider.
pub async fn run(events: &dyn EventStore, (id, command): (&str, ProductCommand)) {
    let id = ProductId::parse(id).expect("an id");
    execute(
        &ProductDecider,
        events,
        &product_stream(&id),
        &command,
        &CommandOptions::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{command:?} failed: {e}"));
}

/// Creating product `id` at minute `minute`.
pub fn create<'a>(
    id: &'a str,
    name: &str,
    category: &str,
    cents: i64,
    tags: &[&str],
    minute: u32,
) -> (&'a str, ProductCommand) {
    (
        id,
        ProductCommand::Create {
            product_id: ProductId::parse(id).expect("an id"),
            name: name.into(),
            description: String::new(),
            category: category.into(),
            price: price(cents),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            at: at(minute),
        },
    )
}

pub fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, minute, 0)
        .single()
        .expect("valid time")
}

pub fn price(cents: i64) -> Price {
    Price::from_cents(cents).expect("a price")
}

pub fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.into())
}
