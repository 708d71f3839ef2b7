//! `order_summary`'s `customer_region` under every interleaving of order and customer events:
//! events appended to a real SQLite event store, read back from its feed and applied to a real
//! SQLite read store in batches the test chooses, with every statement of a batch logged.

mod batches;
mod interleavings;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use projector_core::{
    Checkpoint, DomainEvent, EventAppender, EventFeed, EventFilter, EventMetadata, EventSet,
    ExpectedVersion, Generation, GlobalPosition, PoisonPolicy, Projection, ProjectionError,
    ProjectionName, RecordedEvent,
};
use projector_customers::CustomerEvent;
use projector_customers::events::{CustomerMoved, CustomerRegistered, ReviewSubmitted};
use projector_orders::events::{OrderCreated, OrderEvent, OrderItemAdded};
use projector_orders::projections::{ORDER_SUMMARY, OrderSummaryProjection};
use projector_orders::{Money, order_stream};
use projector_sql::{
    Row, SqlError, SqlParam, SqlProjection, SqlReadStore, SqlTransaction, TypedSql, params,
};
use projector_sqlite::{Durability, SqliteEventStore, SqliteEventStoreOptions, SqliteReadStore};

use projector_testkit::dump::{Dump, read_models};

use crate::helpers::at;

/// Events appended to a real event store, and read back from its feed.
pub struct History {
    events: SqliteEventStore,
    _dir: tempfile::TempDir,
}

impl History {
    pub fn new() -> Self {
        let dir = projector_testkit::temp_dir();
        // Without a sync per commit: these tests are about the read model, and append
        // thousands of orders one by one.
        let options = SqliteEventStoreOptions {
            durability: Durability::Normal,
            ..SqliteEventStoreOptions::default()
        };
        let events = projector_testkit::sqlite::event_store_with(dir.path(), options);
        Self { events, _dir: dir }
    }

    /// Appends `fact` to its order's or customer's stream.
    pub async fn append(&self, fact: &Fact) {
        append(&self.events, fact).await;
    }

    /// Appends every event of `facts`, in order.
    pub async fn append_all(&self, facts: &[Fact]) {
        for fact in facts {
            self.append(fact).await;
        }
    }

    /// Every event appended so far, in feed order.
    pub async fn recorded(&self) -> Vec<RecordedEvent> {
        let mut all = Vec::new();
        loop {
            let after = all
                .last()
                .map_or(GlobalPosition::ZERO, |e: &RecordedEvent| e.position);
            let page = self
                .events
                .read_all(after, 1_000)
                .await
                .expect("read the feed");
            if page.is_empty() {
                return all;
            }
            all.extend(page);
        }
    }
}

/// Appends `fact` to its order's or customer's stream in `events`.
pub async fn append(events: &dyn EventAppender, fact: &Fact) {
    let metadata = EventMetadata::default();
    let (stream, new) = match fact {
        Fact::Order(e) => (order_stream(e.order_id()), e.to_new_event(&metadata)),
        Fact::Customer(e) => (
            CustomerEvent::stream(e.customer_id()),
            e.to_new_event(&metadata),
        ),
    };
    events
        .append(
            &stream.expect("a stream id"),
            ExpectedVersion::Any,
            vec![new.expect("encodes")],
        )
        .await
        .expect("appended");
}

/// One event of either domain, as a test writes it.
#[derive(Clone, Debug)]
pub enum Fact {
    Order(OrderEvent),
    Customer(CustomerEvent),
}

pub fn created(order: &str, customer: &str) -> Fact {
    Fact::Order(OrderEvent::Created(OrderCreated {
        order_id: order.into(),
        customer_id: customer.into(),
        created_at: at(1, 9),
    }))
}

pub fn item_added(order: &str, cents: i64) -> Fact {
    Fact::Order(OrderEvent::ItemAdded(OrderItemAdded {
        order_id: order.into(),
        sku: format!("sku-{cents}"),
        quantity: 1,
        unit_price: Money::from_cents(cents),
    }))
}

pub fn registered(customer: &str, region: &str) -> Fact {
    Fact::Customer(CustomerEvent::Registered(CustomerRegistered {
        customer_id: customer.into(),
        email: format!("{customer}@example.com"),
        name: customer.to_uppercase(),
        region: region.into(),
        registered_at: at(1, 8),
    }))
}

pub fn moved(customer: &str, from: &str, region: &str) -> Fact {
    Fact::Customer(CustomerEvent::Moved(CustomerMoved {
        customer_id: customer.into(),
        from: from.into(),
        region: region.into(),
        moved_at: at(2, 8),
    }))
}

/// A customer event `order_summary` does not read.
pub fn reviewed(customer: &str) -> Fact {
    Fact::Customer(CustomerEvent::ReviewSubmitted(ReviewSubmitted {
        customer_id: customer.into(),
        product_id: "sku-1".into(),
        rating: 5,
        text: "good".into(),
        submitted_at: at(3, 8),
    }))
}

/// A statement a batch ran, and how many rows it changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ran {
    pub sql: String,
    pub changed: u64,
}

/// The statements of a batch that moved a customer's orders to their region.
pub fn moves(ran: &[Ran]) -> Vec<&Ran> {
    ran.iter()
        .filter(|r| r.sql.trim_start().starts_with("UPDATE order_summary"))
        .collect()
}

/// `order_summary` in a fresh generation of a real SQLite read store, applied a batch at a
/// time as the projector applies it (the events its filter takes, the checkpoint moved with
/// them in one transaction).
pub struct Summary {
    reads: SqliteReadStore,
    projection: Arc<Logged>,
    generation: Generation,
    at: GlobalPosition,
    _dir: tempfile::TempDir,
}

impl Summary {
    pub async fn open() -> Self {
        let dir = projector_testkit::temp_dir();
        let reads = projector_testkit::sqlite::read_store(dir.path());
        let projection = Arc::new(Logged::default());
        let generation = reads
            .create_generation(projection.as_ref())
            .await
            .expect("a generation");
        reads
            .activate(&ORDER_SUMMARY, generation, None)
            .await
            .expect("activated");
        Self {
            reads,
            projection,
            generation,
            at: GlobalPosition::ZERO,
            _dir: dir,
        }
    }

    /// Applies `batch` in one transaction, returning the statements it ran.
    pub async fn apply(&mut self, batch: &[RecordedEvent]) -> Vec<Ran> {
        let Some(last) = batch.last() else {
            return Vec::new();
        };
        let filter = self.projection.handles();
        let handled: Vec<RecordedEvent> = batch
            .iter()
            .filter(|e| filter.accepts(e))
            .cloned()
            .collect();
        self.projection.log.lock().expect("log").clear();
        self.reads
            .apply(
                self.projection.clone(),
                self.generation,
                Arc::from(handled),
                self.at,
                Checkpoint::after(last),
            )
            .await
            .unwrap_or_else(|e| panic!("the batch up to {} failed: {e}", last.position));
        self.at = last.position;
        self.projection.log.lock().expect("log").clone()
    }

    /// Applies `events` in batches of the sizes `sizes` gives in turn (the last one repeated).
    pub async fn apply_in_batches(&mut self, events: &[RecordedEvent], sizes: &[usize]) {
        let mut start = 0;
        let mut sizes = sizes
            .iter()
            .copied()
            .chain(std::iter::repeat(*sizes.last().unwrap_or(&1)));
        while start < events.len() {
            let size = sizes.next().unwrap_or(1).clamp(1, events.len() - start);
            self.apply(&events[start..start + size]).await;
            start += size;
        }
    }

    /// `(order, customer, region)` of every order, by order id.
    pub async fn regions(&self) -> Vec<(String, String, Option<String>)> {
        let sql =
            "SELECT order_id, customer_id, customer_region FROM order_summary ORDER BY order_id";
        self.query(sql, &[])
            .await
            .iter()
            .map(|row| {
                (
                    row.get("order_id").expect("order_id"),
                    row.get("customer_id").expect("customer_id"),
                    row.get("customer_region").expect("customer_region"),
                )
            })
            .collect()
    }

    /// The region of `order`'s customer, as its row holds it.
    pub async fn region_of(&self, order: &str) -> Option<String> {
        let sql = "SELECT customer_region FROM order_summary WHERE order_id = $1";
        let rows = self.query(sql, params![order]).await;
        let row = rows
            .first()
            .unwrap_or_else(|| panic!("no row for order {order}"));
        row.get("customer_region").expect("customer_region")
    }

    /// How many orders show `region`.
    pub async fn orders_in(&self, region: &str) -> i64 {
        let sql = "SELECT count(*) AS n FROM order_summary WHERE customer_region = $1";
        let rows = self.query(sql, params![region]).await;
        rows[0].get("n").expect("a count")
    }

    /// Both tables, whole.
    pub async fn tables(&self) -> Dump {
        read_models(&self.reads, &[&TypedSql(OrderSummaryProjection)]).await
    }

    pub async fn query(&self, sql: &str, params: &[SqlParam<'_>]) -> Vec<Row> {
        self.reads
            .query(&ORDER_SUMMARY, sql, params)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// `order_summary` as the read stores run it, logging each statement its batch runs.
#[derive(Debug)]
pub struct Logged {
    inner: TypedSql<OrderSummaryProjection>,
    log: Mutex<Vec<Ran>>,
}

impl Default for Logged {
    fn default() -> Self {
        Self {
            inner: TypedSql(OrderSummaryProjection),
            log: Mutex::new(Vec::new()),
        }
    }
}

impl Projection for Logged {
    fn name(&self) -> ProjectionName {
        self.inner.name()
    }

    fn version(&self) -> u32 {
        self.inner.version()
    }

    fn handles(&self) -> EventFilter {
        self.inner.handles()
    }

    fn poison_policy(&self) -> PoisonPolicy {
        self.inner.poison_policy()
    }
}

#[async_trait]
impl SqlProjection for Logged {
    fn schema(&self) -> &[&str] {
        self.inner.schema()
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let mut logged = LoggedTransaction {
            inner: tx,
            log: &self.log,
        };
        self.inner.apply(&mut logged, events).await
    }
}

/// A transaction that logs what runs in it.
struct LoggedTransaction<'t> {
    inner: &'t mut dyn SqlTransaction,
    log: &'t Mutex<Vec<Ran>>,
}

#[async_trait]
impl SqlTransaction for LoggedTransaction<'_> {
    async fn execute(&mut self, sql: &str, params: &[SqlParam<'_>]) -> Result<u64, SqlError> {
        let changed = self.inner.execute(sql, params).await?;
        self.log.lock().expect("log").push(Ran {
            sql: sql.to_owned(),
            changed,
        });
        Ok(changed)
    }

    async fn query(&mut self, sql: &str, params: &[SqlParam<'_>]) -> Result<Vec<Row>, SqlError> {
        self.inner.query(sql, params).await
    }
}
