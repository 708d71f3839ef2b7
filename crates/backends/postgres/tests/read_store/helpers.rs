//! A service of the order projections over any event store and read store, and fresh stores on
//! SQLite and PostgreSQL to run it on.

use std::sync::Arc;
use std::time::Duration;

use projector_core::{
    CommandOptions, DomainEvent, EventMetadata, EventSet, EventStore, ExpectedVersion,
    ProjectionName, execute,
};
use projector_customers::CustomerEvent;
use projector_orders::projections;
use projector_orders::{OrderCommand, OrderDecider, order_stream};
use projector_postgres::{PgEventStore, PgEventStoreOptions, PgReadStore, PgReadStoreOptions};
use projector_runtime::{Projector, ProjectorHandle, ProjectorOptions};
use projector_sql::{SqlProjection, SqlReadStore, SqlTarget, SqlValue};
use projector_testkit::postgres::TestDatabase;
use tokio_util::sync::CancellationToken;

/// The suites' one deadline for waiting on something that should happen.
pub fn patience() -> Duration {
    projector_testkit::wait::deadline()
}

/// The order projections running over one pair of stores.
pub struct Service {
    pub events: Arc<dyn EventStore>,
    pub reads: Arc<dyn SqlReadStore>,
    pub projector: ProjectorHandle,
    _guard: Box<dyn std::any::Any + Send>,
}

impl Service {
    pub fn start(
        events: Arc<dyn EventStore>,
        reads: Arc<dyn SqlReadStore>,
        guard: impl std::any::Any + Send,
        projections: Vec<Arc<dyn SqlProjection>>,
    ) -> Self {
        let mut projector = Projector::new(events.clone(), ProjectorOptions::default());
        for projection in projections {
            projector = projector.with_target(SqlTarget::new(reads.clone(), projection));
        }
        let projector = projector.start(CancellationToken::new()).expect("start");
        Self {
            events,
            reads,
            projector,
            _guard: Box::new(guard),
        }
    }

    /// The projections on SQLite in a temporary directory.
    pub fn sqlite() -> Self {
        Self::sqlite_with(projections::all())
    }

    /// `projections` on SQLite in a temporary directory.
    pub fn sqlite_with(projections: Vec<Arc<dyn SqlProjection>>) -> Self {
        let dir = projector_testkit::temp_dir();
        let events = projector_testkit::sqlite::event_store(dir.path());
        let reads = projector_testkit::sqlite::read_store(dir.path());
        Self::start(Arc::new(events), Arc::new(reads), dir, projections)
    }

    /// The projections on a fresh PostgreSQL database; `None` to skip.
    pub async fn postgres() -> Option<(Self, Arc<PgReadStore>)> {
        Self::postgres_with(projections::all()).await
    }

    /// `projections` on a fresh PostgreSQL database; `None` to skip.
    pub async fn postgres_with(
        projections: Vec<Arc<dyn SqlProjection>>,
    ) -> Option<(Self, Arc<PgReadStore>)> {
        Some(Self::postgres_on(TestDatabase::create().await?, projections).await)
    }

    /// The projections running on `database`, and a second read store on it opened with
    /// `options` (without migrations), for reads under settings of their own; `None` to skip.
    pub async fn postgres_with_queries(options: PgReadStoreOptions) -> Option<(Self, PgReadStore)> {
        let database = TestDatabase::create().await?;
        let url = database.url().to_owned();
        let (service, _) = Self::postgres_on(database, projections::all()).await;
        assert!(service.projector.wait_started(patience()).await, "started");
        let options = PgReadStoreOptions {
            run_migrations: false,
            ..options
        };
        let queries = PgReadStore::connect(&url, options).await.expect("queries");
        Some((service, queries))
    }

    async fn postgres_on(
        database: TestDatabase,
        projections: Vec<Arc<dyn SqlProjection>>,
    ) -> (Self, Arc<PgReadStore>) {
        let events = PgEventStore::connect(database.url(), PgEventStoreOptions::default())
            .await
            .expect("events");
        let reads = Arc::new(
            PgReadStore::connect(database.url(), PgReadStoreOptions::default())
                .await
                .expect("reads"),
        );
        let service = Self::start(Arc::new(events), reads.clone(), database, projections);
        (service, reads)
    }

    pub async fn run(&self, order: &str, command: OrderCommand) {
        let stream = order_stream(order).expect("valid id");
        execute(
            &OrderDecider,
            self.events.as_ref(),
            &stream,
            &command,
            &CommandOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{command:?} failed: {e}"));
    }

    /// Appends `event` to its customer's stream, as the customers service records it.
    pub async fn record(&self, event: &CustomerEvent) {
        let stream = CustomerEvent::stream(event.customer_id()).expect("valid id");
        let new = event
            .to_new_event(&EventMetadata::default())
            .expect("encodes");
        self.events
            .append(&stream, ExpectedVersion::Any, vec![new])
            .await
            .expect("appended");
    }

    pub async fn rows(&self, projection: &ProjectionName, sql: &str) -> Vec<Vec<SqlValue>> {
        self.projector
            .wait_caught_up(patience())
            .await
            .expect("caught up");
        self.reads
            .query(projection, sql, &[])
            .await
            .expect("query")
            .into_iter()
            .map(|row| row.values().to_vec())
            .collect()
    }
}
