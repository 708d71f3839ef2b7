//! Sums past `i64::MAX`: the largest orders the decider accepts, completed on top of read-model
//! rows seeded an order short of the limit, are added exactly up to it, and one past it stops
//! the projection at the event that overflowed (a report's totals fail likewise) instead of
//! showing a clamped figure. Reaching those sums for real would take some 92 000 such orders.

use std::sync::Arc;

use chrono::NaiveDate;
use projector_core::{EventFeed, GlobalPosition, ProjectionName};
use projector_orders::projections::{self, CUSTOMERS, DAILY_SALES};
use projector_orders::queries::SalesTotals;
use projector_orders::sum::OutOfRange;
use projector_orders::{Money, NewItem, OrderCommand, queries};
use projector_runtime::WaitError;
use projector_sql::SqlReadStore;
use projector_sql::{SqlProjection, SqlValue, TypedSql};
use projector_testkit::seeded::Seeded;

use crate::helpers::{Service, at, item, patience, place};

const MAX: i64 = i64::MAX;
/// The largest order: 100 lines of 10 000 units at 1 000 000.00 each.
const ORDER_CENTS: i64 = 100 * 10_000 * 100_000_000;
/// Its items.
const ORDER_ITEMS: i64 = 100 * 10_000;

fn largest_order() -> Vec<NewItem> {
    (0..100)
        .map(|i| item(&format!("sku-{i:02}"), 10_000, 100_000_000))
        .collect()
}

/// `daily_sales` and `customer_activity` seeded just short of `i64::MAX`.
fn seeded_projections() -> Vec<Arc<dyn SqlProjection>> {
    let since = "'2026-01-01T00:00:00.000000Z'";
    let daily_sales = vec![
        // Day 2: one more largest order reaches i64::MAX exactly, a second passes it.
        format!(
            "INSERT INTO daily_sales VALUES ('2026-04-02', {}, {}, {}, {}, {}, {since}) \
             ON CONFLICT (day) DO NOTHING",
            MAX - 1,
            MAX - ORDER_ITEMS,
            MAX - ORDER_CENTS,
            MAX - 1,
            MAX - ORDER_CENTS
        ),
        // Day 3: one largest order lands a cent short of i64::MAX, added exactly.
        format!(
            "INSERT INTO daily_sales VALUES ('2026-04-03', 0, 0, {}, 0, 0, {since}) \
             ON CONFLICT (day) DO NOTHING",
            MAX - ORDER_CENTS - 1
        ),
    ];
    let customers = vec![
        format!(
            "INSERT INTO customer_activity (customer_id, orders_placed, orders_completed, orders_cancelled, \
             spent_cents, refunded_cents, first_order_at, last_order_at, reviews_written, last_review_at, \
             last_activity_at) VALUES ('whale', {}, {}, {MAX}, {}, {}, {since}, {since}, 0, NULL, {since}) \
             ON CONFLICT (customer_id) DO NOTHING",
            MAX - 1,
            MAX - 1,
            MAX - ORDER_CENTS,
            MAX - ORDER_CENTS
        ),
        format!(
            "INSERT INTO customer_activity (customer_id, orders_placed, orders_completed, orders_cancelled, \
             spent_cents, refunded_cents, first_order_at, last_order_at, reviews_written, last_review_at, \
             last_activity_at) VALUES ('minnow', 0, 0, 0, {}, 0, {since}, {since}, 0, NULL, {since}) \
             ON CONFLICT (customer_id) DO NOTHING",
            MAX - ORDER_CENTS - 1
        ),
    ];
    vec![
        Arc::new(TypedSql(projections::OrderSummaryProjection)),
        Arc::new(Seeded::new(
            Arc::new(TypedSql(projections::DailySalesProjection)),
            daily_sales,
        )),
        Arc::new(Seeded::new(
            Arc::new(TypedSql(projections::CustomersProjection)),
            customers,
        )),
    ]
}

/// Places, ships and completes a largest order on `day`.
async fn complete_largest(service: &Service, order: &str, customer: &str, day: u32) {
    service
        .run(order, place(order, customer, largest_order(), at(1, 9)))
        .await;
    service
        .run(
            order,
            OrderCommand::Ship {
                tracking: "T1".into(),
                at: at(1, 10),
            },
        )
        .await;
    service
        .run(order, OrderCommand::Complete { at: at(day, 8) })
        .await;
}

/// The event store's head: the position of the last event written.
async fn head(service: &Service) -> GlobalPosition {
    service.events.head().await.expect("the head")
}

/// Waits for `projection` to stop at an event after `after`, and returns where and why.
async fn stopped(
    service: &Service,
    projection: &ProjectionName,
    after: GlobalPosition,
    through: GlobalPosition,
) -> (GlobalPosition, String) {
    match service
        .projector
        .wait_for(projection, through, patience())
        .await
    {
        Err(WaitError::Stopped {
            stopped_at, error, ..
        }) => {
            assert!(
                stopped_at > after && stopped_at <= through,
                "{projection} stopped at {stopped_at}, not among the overflowing order's events"
            );
            (stopped_at, error)
        }
        other => panic!("{projection} did not stop at the overflow: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_reach_i64_max_exactly_and_a_sum_past_it_stops_the_projection_at_its_event() {
    let service = Service::start_with(seeded_projections());
    complete_largest(&service, "m1", "whale", 2).await;
    complete_largest(&service, "m3", "minnow", 3).await;

    // Sums that land on i64::MAX, or a cent short of it, are added exactly.
    let int = SqlValue::Int;
    let sales_sql = "SELECT day, orders_completed, items_sold, gross_cents, refunds, refunded_cents \
        FROM daily_sales ORDER BY day";
    let exact_sales = [
        vec![
            SqlValue::Text("2026-04-02".into()),
            int(MAX),
            int(MAX),
            int(MAX),
            int(MAX - 1),
            int(MAX - ORDER_CENTS),
        ],
        vec![
            SqlValue::Text("2026-04-03".into()),
            int(1),
            int(ORDER_ITEMS),
            int(MAX - 1),
            int(0),
            int(0),
        ],
    ];
    assert_eq!(service.rows(&DAILY_SALES, sales_sql).await, exact_sales);
    let activity_sql = "SELECT customer_id, orders_placed, orders_completed, orders_cancelled, \
        spent_cents, refunded_cents FROM customer_activity ORDER BY customer_id";
    let exact_activity = [
        vec![
            SqlValue::Text("minnow".into()),
            int(1),
            int(1),
            int(0),
            int(MAX - 1),
            int(0),
        ],
        vec![
            SqlValue::Text("whale".into()),
            int(MAX),
            int(MAX),
            int(MAX),
            int(MAX),
            int(MAX - ORDER_CENTS),
        ],
    ];
    assert_eq!(service.rows(&CUSTOMERS, activity_sql).await, exact_activity);

    // A second largest order on day 2, for the whale: each sum past i64::MAX is an error at
    // the event that made it, never a clamped figure, and what came before stays.
    let before = head(&service).await;
    complete_largest(&service, "m2", "whale", 2).await;
    let through = head(&service).await;
    let (at, error) = stopped(&service, &DAILY_SALES, before, through).await;
    assert_eq!(at, through, "daily_sales stops at m2's OrderCompleted");
    assert!(error.contains("out of range"), "{error}");
    let (_, error) = stopped(&service, &CUSTOMERS, before, through).await;
    assert!(error.contains("out of range"), "{error}");
    for (projection, sql, rows) in [
        (&DAILY_SALES, sales_sql, &exact_sales[..]),
        (&CUSTOMERS, activity_sql, &exact_activity[..]),
    ] {
        let read = service
            .reads
            .query(projection, sql, &[])
            .await
            .expect("query");
        let read: Vec<Vec<SqlValue>> = read.into_iter().map(|r| r.values().to_vec()).collect();
        assert_eq!(read, rows, "{projection} keeps what it had");
    }

    // The report's totals over days that sum past i64::MAX are an error too.
    let day = |d| NaiveDate::from_ymd_opt(2026, 4, d).expect("a day");
    let report = queries::daily_sales(service.reads.as_ref(), day(1), day(30))
        .await
        .expect("the daily sales report");
    assert_eq!(
        SalesTotals::of(&report),
        Err(OutOfRange("orders completed"))
    );
    // The order read models, whose sums stay within one order, are unaffected.
    let m2 = queries::order_summary(service.reads.as_ref(), "m2")
        .await
        .expect("m2's summary")
        .expect("m2 is projected");
    assert_eq!(
        (m2.status.as_str(), m2.item_count, m2.total_amount),
        ("completed", ORDER_ITEMS, Money::from_cents(ORDER_CENTS))
    );
}
