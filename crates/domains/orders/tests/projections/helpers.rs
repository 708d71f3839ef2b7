//! The order projections over real SQLite files in a temporary directory, and the commands and
//! values the tests build.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use projector_core::{CommandOptions, EventStore, ProjectionName, execute};
use projector_customers::{CustomerCommand, CustomerDecider, customer_stream};
use projector_orders::projections;
use projector_orders::{Money, NewItem, OrderCommand, OrderDecider, order_stream};
use projector_runtime::{Projector, ProjectorHandle, ProjectorOptions};
use projector_sql::{SqlProjection, SqlReadStore, SqlTarget, SqlValue};
use projector_sqlite::{SqliteEventStore, SqliteReadStore};
use tokio_util::sync::CancellationToken;

/// The suites' one deadline for waiting on something that should happen.
pub fn patience() -> Duration {
    projector_testkit::wait::deadline()
}

pub struct Service {
    pub events: Arc<SqliteEventStore>,
    pub reads: Arc<SqliteReadStore>,
    pub projector: ProjectorHandle,
    _dir: tempfile::TempDir,
}

impl Service {
    /// Every order projection.
    pub fn start() -> Self {
        Self::start_with(projections::all())
    }

    /// `projections` (e.g. seeded ones) over fresh stores.
    pub fn start_with(projections: Vec<Arc<dyn SqlProjection>>) -> Self {
        let (dir, events, reads) = projector_testkit::sqlite::stores();
        let mut projector = Projector::new(events.clone(), ProjectorOptions::default());
        for projection in projections {
            projector = projector.with_target(SqlTarget::new(
                reads.clone() as Arc<dyn SqlReadStore>,
                projection,
            ));
        }
        let projector = projector.start(CancellationToken::new()).expect("start");
        Self {
            events,
            reads,
            projector,
            _dir: dir,
        }
    }

    pub async fn run(&self, order: &str, command: OrderCommand) {
        Commands {
            events: &self.events,
        }
        .run(order, command)
        .await;
    }

    /// Runs `command` for customer `customer` through the customer decider.
    pub async fn run_customer(&self, customer: &str, command: CustomerCommand) {
        let stream = customer_stream(customer).expect("valid id");
        execute(
            &CustomerDecider,
            self.events.as_ref() as &dyn EventStore,
            &stream,
            &command,
            &CommandOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{command:?} failed: {e}"));
    }

    /// The rows `sql` selects once every projection has caught up (failing if one stopped).
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

/// Runs order commands against an event store.
pub struct Commands<'a> {
    pub events: &'a Arc<SqliteEventStore>,
}

impl Commands<'_> {
    pub async fn run(&self, order: &str, command: OrderCommand) {
        let stream = order_stream(order).expect("valid id");
        execute(
            &OrderDecider,
            self.events.as_ref() as &dyn EventStore,
            &stream,
            &command,
            &CommandOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{command:?} failed: {e}"));
    }
}

pub fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, day, hour, 0, 0)
        .single()
        .expect("valid time")
}

pub fn item(sku: &str, quantity: u32, cents: i64) -> NewItem {
    NewItem::new(sku, quantity, Money::from_cents(cents))
}

pub fn place(
    order: &str,
    customer: &str,
    items: Vec<NewItem>,
    when: DateTime<Utc>,
) -> OrderCommand {
    OrderCommand::place(order, customer, items, when)
}

pub fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.into())
}
