//! Sums past `i64::MAX`: the largest orders the decider accepts, completed and refunded on top
//! of read-model rows seeded a few orders short of the limit, must neither stop a projection
//! nor make a read fail. Reaching those sums for real would take some 92 000 such orders.

use std::sync::Arc;

use chrono::NaiveDate;
use projector_orders::projections::{self, CUSTOMERS, DAILY_SALES};
use projector_orders::{Money, NewItem, OrderCommand, queries};
use projector_sql::{SqlProjection, SqlValue, TypedSql};
use projector_testkit::seeded::Seeded;

use crate::helpers::{Service, at, item, place};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_past_i64_saturate_and_never_stop_a_projection() {
    let service = Service::start_with(seeded_projections());
    complete_largest(&service, "m1", "whale", 2).await;
    complete_largest(&service, "m2", "whale", 2).await;
    complete_largest(&service, "m3", "minnow", 3).await;
    for order in ["m1", "m2"] {
        service
            .run(
                order,
                OrderCommand::Refund {
                    amount: Money::MAX,
                    at: at(5, 8),
                },
            )
            .await;
    }
    service
        .run(
            "m4",
            place("m4", "whale", vec![item("a", 1, 100)], at(6, 9)),
        )
        .await;
    service
        .run(
            "m4",
            OrderCommand::Cancel {
                reason: "changed my mind".into(),
                at: at(6, 10),
            },
        )
        .await;

    // The rows hold whole numbers, clamped at i64::MAX (SQLite would turn an overflowing sum
    // into a REAL; PostgreSQL would refuse it and stop the projection).
    let int = SqlValue::Int;
    let sales = service
        .rows(
            &DAILY_SALES,
            "SELECT day, orders_completed, items_sold, gross_cents, refunds, refunded_cents \
             FROM daily_sales ORDER BY day",
        )
        .await;
    assert_eq!(
        sales,
        [
            vec![
                SqlValue::Text("2026-04-02".into()),
                int(MAX),
                int(MAX),
                int(MAX),
                int(MAX),
                int(MAX)
            ],
            vec![
                SqlValue::Text("2026-04-03".into()),
                int(1),
                int(ORDER_ITEMS),
                int(MAX - 1),
                int(0),
                int(0)
            ],
        ]
    );
    let activity = service
        .rows(
            &CUSTOMERS,
            "SELECT customer_id, orders_placed, orders_completed, orders_cancelled, spent_cents, \
             refunded_cents FROM customer_activity ORDER BY customer_id",
        )
        .await;
    assert_eq!(
        activity,
        [
            vec![
                SqlValue::Text("minnow".into()),
                int(1),
                int(1),
                int(0),
                int(MAX - 1),
                int(0)
            ],
            vec![
                SqlValue::Text("whale".into()),
                int(MAX),
                int(MAX),
                int(MAX),
                int(MAX),
                int(MAX)
            ],
        ]
    );

    // What the report routes serve reads back.
    let day = |d| NaiveDate::from_ymd_opt(2026, 4, d).expect("a day");
    let report = queries::daily_sales(service.reads.as_ref(), day(1), day(30))
        .await
        .expect("the daily sales report");
    let top = Money::from_cents(MAX);
    let cents = Money::from_cents;
    let figures: Vec<_> = report
        .iter()
        .map(|d| {
            (
                d.date,
                d.orders_completed,
                d.gross_revenue,
                d.refunded_amount,
                d.net_revenue,
            )
        })
        .collect();
    assert_eq!(
        figures,
        [
            (day(2), MAX, top, top, Money::ZERO),
            (day(3), 1, cents(MAX - 1), Money::ZERO, cents(MAX - 1))
        ]
    );
    let whale = queries::customer_activity(service.reads.as_ref(), "whale")
        .await
        .expect("the whale's activity")
        .expect("the whale has activity");
    assert_eq!(
        (whale.orders_placed, whale.total_spent, whale.total_refunded),
        (MAX, top, top)
    );
    let m1 = queries::order_summary(service.reads.as_ref(), "m1")
        .await
        .expect("m1's summary")
        .expect("m1 is projected");
    assert_eq!(
        (
            m1.status.as_str(),
            m1.item_count,
            m1.total_amount,
            m1.refunded_amount
        ),
        (
            "completed",
            ORDER_ITEMS,
            cents(ORDER_CENTS),
            Some(cents(ORDER_CENTS))
        )
    );
    let page = queries::customer_orders(service.reads.as_ref(), "whale", 10, None)
        .await
        .expect("the whale's orders");
    let totals: Vec<_> = page
        .orders
        .iter()
        .map(|o| (o.order_id.as_str(), o.item_count, o.total_amount))
        .collect();
    assert_eq!(
        totals,
        [
            ("m4", 1, cents(100)),
            ("m2", ORDER_ITEMS, cents(ORDER_CENTS)),
            ("m1", ORDER_ITEMS, cents(ORDER_CENTS))
        ]
    );
}
