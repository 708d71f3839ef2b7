//! Sums past `i64::MAX` on PostgreSQL: the largest orders the decider accepts, completed on top
//! of rows seeded an order short of the limit, land on `i64::MAX` exactly, and one more stops
//! the projection at the event that overflowed with an error naming the sum, as on SQLite
//! (where an overflowing sum would otherwise become a REAL that no read can take).

use std::sync::Arc;

use std::time::Duration;

use projector_core::{EventFeed, GlobalPosition, ProjectionName};
use projector_orders::projections::{self, CUSTOMERS, DAILY_SALES};
use projector_orders::{Money, NewItem, OrderCommand, queries};
use projector_runtime::WaitError;
use projector_sql::{SqlProjection, SqlValue, TypedSql};
use projector_testkit::seeded::Seeded;

use crate::helpers::Service;
use crate::{at, dump, item};

const MAX: i64 = i64::MAX;
/// The largest order: 100 lines of 10 000 units at 1 000 000.00 each.
const ORDER_CENTS: i64 = 100 * 10_000 * 100_000_000;
const ORDER_ITEMS: i64 = 100 * 10_000;

fn largest_order() -> Vec<NewItem> {
    (0..100)
        .map(|i| item(&format!("sku-{i:02}"), 10_000, 100_000_000))
        .collect()
}

/// `daily_sales` and `customer_activity` seeded one largest order short of `i64::MAX`.
fn seeded_projections() -> Vec<Arc<dyn SqlProjection>> {
    let since = "'2026-01-01T00:00:00.000000Z'";
    let day = format!(
        "INSERT INTO daily_sales VALUES ('2026-04-02', {}, {}, {}, {}, {}, {since}) \
         ON CONFLICT (day) DO NOTHING",
        MAX - 1,
        MAX - ORDER_ITEMS,
        MAX - ORDER_CENTS,
        MAX - 1,
        MAX - ORDER_CENTS
    );
    let customer = format!(
        "INSERT INTO customer_activity (customer_id, orders_placed, orders_completed, orders_cancelled, \
             spent_cents, refunded_cents, first_order_at, last_order_at, reviews_written, last_review_at, \
             last_activity_at) VALUES ('whale', {}, {}, 0, {}, {}, {since}, {since}, 0, NULL, {since}) \
         ON CONFLICT (customer_id) DO NOTHING",
        MAX - 1,
        MAX - 1,
        MAX - ORDER_CENTS,
        MAX - ORDER_CENTS
    );
    vec![
        Arc::new(TypedSql(projections::OrderSummaryProjection)),
        Arc::new(Seeded::new(
            Arc::new(TypedSql(projections::DailySalesProjection)),
            vec![day],
        )),
        Arc::new(Seeded::new(
            Arc::new(TypedSql(projections::CustomersProjection)),
            vec![customer],
        )),
    ]
}

/// A largest order of the whale, placed, shipped and completed on day 2.
fn largest_completed(order: &'static str) -> Vec<(&'static str, OrderCommand)> {
    vec![
        (
            order,
            OrderCommand::place(order, "whale", largest_order(), at(1, 9)),
        ),
        (
            order,
            OrderCommand::Ship {
                tracking: "T1".into(),
                at: at(1, 10),
            },
        ),
        (order, OrderCommand::Complete { at: at(2, 8) }),
    ]
}

const SALES: &str =
    "SELECT orders_completed, items_sold, gross_cents, refunds, refunded_cents FROM daily_sales";
const ACTIVITY: &str = "SELECT orders_placed, orders_completed, orders_cancelled, spent_cents, \
    refunded_cents FROM customer_activity";

/// The rows `sql` selects from `projection` as they stand, caught up or not.
async fn rows_now(service: &Service, projection: &ProjectionName, sql: &str) -> Vec<Vec<SqlValue>> {
    let rows = service
        .reads
        .query(projection, sql, &[])
        .await
        .expect("query");
    rows.into_iter().map(|r| r.values().to_vec()).collect()
}

/// Where `projection` stopped, after `after` and at most `through`, and why.
async fn stopped(
    service: &Service,
    projection: &ProjectionName,
    after: GlobalPosition,
    through: GlobalPosition,
) -> (GlobalPosition, String) {
    let patience = Duration::from_secs(20);
    match service
        .projector
        .wait_for(projection, through, patience)
        .await
    {
        Err(WaitError::Stopped {
            stopped_at, error, ..
        }) if stopped_at > after && stopped_at <= through => (stopped_at, error),
        other => panic!("{projection} did not stop at the overflowing order: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_reach_i64_max_exactly_and_past_it_stop_at_the_same_event_as_on_sqlite() {
    let Some((postgres, _)) = Service::postgres_with(seeded_projections()).await else {
        return;
    };
    let sqlite = Service::sqlite_with(seeded_projections());
    for (order, command) in largest_completed("m1") {
        sqlite.run(order, command.clone()).await;
        postgres.run(order, command).await;
    }
    // `dump` waits for every projection to catch up, and fails if one stopped.
    assert_eq!(dump(&postgres).await, dump(&sqlite).await);
    let int = SqlValue::Int;
    let exact_sales = [vec![
        int(MAX),
        int(MAX),
        int(MAX),
        int(MAX - 1),
        int(MAX - ORDER_CENTS),
    ]];
    let exact_activity = [vec![
        int(MAX),
        int(MAX),
        int(0),
        int(MAX),
        int(MAX - ORDER_CENTS),
    ]];
    assert_eq!(postgres.rows(&DAILY_SALES, SALES).await, exact_sales);
    assert_eq!(postgres.rows(&CUSTOMERS, ACTIVITY).await, exact_activity);

    // A second largest order passes i64::MAX: on both stores the sum fails at its event
    // (never "bigint out of range" left unexplained, never a REAL, never a clamp), and the
    // rows keep what they had.
    let mut stops = Vec::new();
    for service in [&postgres, &sqlite] {
        let before = service.events.head().await.expect("head");
        for (order, command) in largest_completed("m2") {
            service.run(order, command).await;
        }
        let through = service.events.head().await.expect("head");
        let (at, error) = stopped(service, &DAILY_SALES, before, through).await;
        assert_eq!(at, through, "daily_sales stops at m2's OrderCompleted");
        assert!(error.contains("out of range"), "{error}");
        let (at_customer, error) = stopped(service, &CUSTOMERS, before, through).await;
        assert!(error.contains("out of range"), "{error}");
        assert_eq!(rows_now(service, &DAILY_SALES, SALES).await, exact_sales);
        assert_eq!(
            rows_now(service, &CUSTOMERS, ACTIVITY).await,
            exact_activity
        );
        stops.push((at.get() - before.get(), at_customer.get() - before.get()));
    }
    assert_eq!(stops[0], stops[1], "both stores stop at the same event");

    // The order's own read model, whose sums stay within one order, is unaffected.
    let m2 = queries::order_summary(postgres.reads.as_ref(), "m2")
        .await
        .expect("m2's summary")
        .expect("m2 is projected");
    assert_eq!(
        (m2.item_count, m2.total_amount),
        (ORDER_ITEMS, Money::from_cents(ORDER_CENTS))
    );
}
