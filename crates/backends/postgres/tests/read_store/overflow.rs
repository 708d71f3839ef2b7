//! Sums past `i64::MAX` on PostgreSQL: the largest orders the decider accepts, completed and
//! refunded on top of rows seeded a few orders short of the limit, clamp at `i64::MAX` instead
//! of failing with "bigint out of range" and stopping the projection, and give the same rows as
//! SQLite (where an overflowing sum would become a REAL that no read can take).

use std::sync::Arc;

use chrono::NaiveDate;
use projector_orders::projections::{self, CUSTOMERS, DAILY_SALES};
use projector_orders::{Money, NewItem, OrderCommand, queries};
use projector_sql::{SqlProjection, SqlValue, TypedSql};
use projector_testkit::seeded::Seeded;

use crate::helpers::Service;
use crate::{at, dump, item, place};

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

/// Two largest orders of one customer, completed the same day and refunded in full.
fn commands() -> Vec<(&'static str, OrderCommand)> {
    let mut commands = Vec::new();
    for order in ["m1", "m2"] {
        commands.push((order, place(order, "whale", largest_order(), at(1, 9))));
        commands.push((
            order,
            OrderCommand::Ship {
                tracking: "T1".into(),
                at: at(1, 10),
            },
        ));
        commands.push((order, OrderCommand::Complete { at: at(2, 8) }));
    }
    for order in ["m1", "m2"] {
        commands.push((
            order,
            OrderCommand::Refund {
                amount: Money::MAX,
                at: at(5, 8),
            },
        ));
    }
    commands
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_past_i64_clamp_and_match_sqlite() {
    let Some((postgres, _)) = Service::postgres_with(seeded_projections()).await else {
        return;
    };
    let sqlite = Service::sqlite_with(seeded_projections());
    for (order, command) in commands() {
        sqlite.run(order, command.clone()).await;
        postgres.run(order, command).await;
    }
    // `dump` waits for every projection to catch up, and fails if one stopped.
    let found = dump(&postgres).await;
    assert_eq!(found, dump(&sqlite).await);

    let int = SqlValue::Int;
    let sales = postgres
        .rows(
            &DAILY_SALES,
            "SELECT orders_completed, items_sold, gross_cents, refunds, refunded_cents FROM daily_sales",
        )
        .await;
    assert_eq!(sales, [vec![int(MAX); 5]]);
    let activity = postgres
        .rows(
            &CUSTOMERS,
            "SELECT orders_placed, orders_completed, orders_cancelled, spent_cents, refunded_cents \
             FROM customer_activity",
        )
        .await;
    assert_eq!(
        activity,
        [vec![int(MAX), int(MAX), int(0), int(MAX), int(MAX)]]
    );

    // What the report routes serve reads back.
    let day = |d| NaiveDate::from_ymd_opt(2026, 4, d).expect("a day");
    let report = queries::daily_sales(postgres.reads.as_ref(), day(1), day(30))
        .await
        .expect("the daily sales report");
    let top = Money::from_cents(MAX);
    let figures: Vec<_> = report
        .iter()
        .map(|d| (d.date, d.orders_completed, d.gross_revenue, d.net_revenue))
        .collect();
    assert_eq!(figures, [(day(2), MAX, top, Money::ZERO)]);
    let whale = queries::customer_activity(postgres.reads.as_ref(), "whale")
        .await
        .expect("the whale's activity")
        .expect("the whale has activity");
    assert_eq!((whale.total_spent, whale.total_refunded), (top, top));
    let m2 = queries::order_summary(postgres.reads.as_ref(), "m2")
        .await
        .expect("m2's summary")
        .expect("m2 is projected");
    assert_eq!(
        (m2.item_count, m2.total_amount, m2.refunded_amount),
        (
            ORDER_ITEMS,
            Money::from_cents(ORDER_CENTS),
            Some(Money::from_cents(ORDER_CENTS))
        )
    );
}
