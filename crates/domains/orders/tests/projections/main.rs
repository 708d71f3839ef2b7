//! The order projections end to end on real SQLite: commands through the decider, events
//! through the projector, read models checked row by row, and a rebuild that must match.

mod cache;
mod customers;
mod helpers;
mod interleaving;
mod overflow;
mod paging;
mod partitions;
mod region;
mod reports;
mod upcast;
mod upgrade;

use std::sync::Arc;
use std::time::Duration;

use projector_core::{
    CommandOptions, DomainEvent, EventAppender, EventStore, ExpectedVersion, NewEvent, execute,
};
use projector_orders::events::{OrderConfirmed, OrderEvent};
use projector_orders::projections::{self, CUSTOMERS, DAILY_SALES, ORDER_SUMMARY};
use projector_orders::{Money, OrderCommand, OrderDecider, order_stream};
use projector_runtime::{Projector, ProjectorOptions, RetryPolicy, WaitError};
use projector_sql::{SqlProjection, SqlReadStore, SqlTarget, SqlValue};
use projector_testkit::dump::read_models;
use tokio_util::sync::CancellationToken;

use helpers::{Service, at, item, patience, place, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placed_order_reads_back_confirmed_with_its_items_and_total() {
    let service = Service::start();
    service
        .run(
            "order-1001",
            place(
                "order-1001",
                "cust-42",
                vec![item("sku-1", 1, 2000), item("sku-2", 1, 2550)],
                at(17, 0),
            ),
        )
        .await;
    let rows = service
        .rows(
            &ORDER_SUMMARY,
            "SELECT order_id, customer_id, status, item_count, total_cents FROM order_summary",
        )
        .await;
    assert_eq!(
        rows,
        [vec![
            text("order-1001"),
            text("cust-42"),
            text("confirmed"),
            SqlValue::Int(2),
            SqlValue::Int(4550)
        ]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_lifecycle_with_refunds_lands_in_every_read_model() {
    let service = Service::start();
    // Order a: placed day 1, items changed, shipped, completed day 2, refunded twice.
    service
        .run(
            "a",
            place(
                "a",
                "c1",
                vec![item("x", 2, 1000), item("y", 1, 550)],
                at(1, 9),
            ),
        )
        .await;
    service
        .run(
            "a",
            OrderCommand::AddItem {
                item: item("z", 3, 100),
                at: at(1, 10),
            },
        )
        .await;
    service
        .run(
            "a",
            OrderCommand::RemoveItem {
                sku: "y".into(),
                at: at(1, 11),
            },
        )
        .await;
    service
        .run(
            "a",
            OrderCommand::Ship {
                tracking: "UPS1".into(),
                at: at(1, 12),
            },
        )
        .await;
    service
        .run("a", OrderCommand::Complete { at: at(2, 8) })
        .await;
    service
        .run(
            "a",
            OrderCommand::Refund {
                amount: Money::from_cents(500),
                at: at(5, 8),
            },
        )
        .await;
    service
        .run(
            "a",
            OrderCommand::Refund {
                amount: Money::from_cents(250),
                at: at(6, 8),
            },
        )
        .await;
    // Order b: same customer, cancelled. Order c: another customer, completed on day 2 too.
    service
        .run("b", place("b", "c1", vec![item("x", 1, 1000)], at(3, 9)))
        .await;
    service
        .run(
            "b",
            OrderCommand::Cancel {
                reason: "too slow".into(),
                at: at(3, 10),
            },
        )
        .await;
    service
        .run("c", place("c", "c2", vec![item("q", 4, 125)], at(2, 1)))
        .await;
    service
        .run(
            "c",
            OrderCommand::Ship {
                tracking: "DHL9".into(),
                at: at(2, 2),
            },
        )
        .await;
    service
        .run("c", OrderCommand::Complete { at: at(2, 20) })
        .await;

    let summary = service
        .rows(
            &ORDER_SUMMARY,
            "SELECT order_id, status, item_count, total_cents, refunded_cents, tracking, cancellation_reason, \
             shipped_at IS NOT NULL, completed_at IS NOT NULL, cancelled_at IS NOT NULL \
             FROM order_summary ORDER BY order_id",
        )
        .await;
    let null = SqlValue::Null;
    assert_eq!(
        summary,
        [
            vec![
                text("a"),
                text("completed"),
                SqlValue::Int(5),
                SqlValue::Int(2300),
                SqlValue::Int(750),
                text("UPS1"),
                null.clone(),
                SqlValue::Int(1),
                SqlValue::Int(1),
                SqlValue::Int(0)
            ],
            vec![
                text("b"),
                text("cancelled"),
                SqlValue::Int(1),
                SqlValue::Int(1000),
                SqlValue::Int(0),
                null.clone(),
                text("too slow"),
                SqlValue::Int(0),
                SqlValue::Int(0),
                SqlValue::Int(1)
            ],
            vec![
                text("c"),
                text("completed"),
                SqlValue::Int(4),
                SqlValue::Int(500),
                SqlValue::Int(0),
                text("DHL9"),
                null,
                SqlValue::Int(1),
                SqlValue::Int(1),
                SqlValue::Int(0)
            ],
        ]
    );

    // Both sales landed on day 2; a's refunds are charged back to day 2 as well.
    let sales = service
        .rows(&DAILY_SALES, "SELECT day, orders_completed, items_sold, gross_cents, refunds, refunded_cents FROM daily_sales")
        .await;
    assert_eq!(
        sales,
        [vec![
            text("2026-04-02"),
            SqlValue::Int(2),
            SqlValue::Int(9),
            SqlValue::Int(2800),
            SqlValue::Int(2),
            SqlValue::Int(750)
        ]]
    );

    let my_orders = service
        .rows(
            &CUSTOMERS,
            "SELECT customer_id, order_id, status, item_count, total_cents FROM customer_orders \
             ORDER BY customer_id, created_at DESC, order_id DESC",
        )
        .await;
    assert_eq!(
        my_orders,
        [
            vec![
                text("c1"),
                text("b"),
                text("cancelled"),
                SqlValue::Int(1),
                SqlValue::Int(1000)
            ],
            vec![
                text("c1"),
                text("a"),
                text("completed"),
                SqlValue::Int(5),
                SqlValue::Int(2300)
            ],
            vec![
                text("c2"),
                text("c"),
                text("completed"),
                SqlValue::Int(4),
                SqlValue::Int(500)
            ],
        ]
    );
    let activity = service
        .rows(
            &CUSTOMERS,
            "SELECT customer_id, orders_placed, orders_completed, orders_cancelled, spent_cents, refunded_cents, \
             substr(first_order_at, 1, 10), substr(last_order_at, 1, 10) FROM customer_activity ORDER BY customer_id",
        )
        .await;
    assert_eq!(
        activity,
        [
            vec![
                text("c1"),
                SqlValue::Int(2),
                SqlValue::Int(1),
                SqlValue::Int(1),
                SqlValue::Int(2300),
                SqlValue::Int(750),
                text("2026-04-01"),
                text("2026-04-03")
            ],
            vec![
                text("c2"),
                SqlValue::Int(1),
                SqlValue::Int(1),
                SqlValue::Int(0),
                SqlValue::Int(500),
                SqlValue::Int(0),
                text("2026-04-02"),
                text("2026-04-02")
            ],
        ]
    );

    // A rebuild from the first event reproduces every table exactly: every table the
    // projections' schemas create, so a table added to one is compared without being listed.
    let all = projections::all();
    let all: Vec<&dyn SqlProjection> = all.iter().map(|p| p.as_ref()).collect();
    let dump = || async {
        service
            .projector
            .wait_caught_up(patience())
            .await
            .expect("caught up");
        read_models(service.reads.as_ref(), &all).await
    };
    let before = dump().await;
    for name in [ORDER_SUMMARY, DAILY_SALES, CUSTOMERS] {
        let generation = service.projector.rebuild(&name).await.expect("rebuild");
        let mut status = service.projector.watch(&name).expect("watch");
        tokio::time::timeout(
            patience(),
            status.wait_for(|s| s.generation == Some(generation)),
        )
        .await
        .expect("rebuild completes")
        .expect("worker alive");
    }
    let after = dump().await;
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_for_an_order_never_created_stops_each_per_order_projection_there() {
    let (_dir, events, reads) = projector_testkit::sqlite::stores();
    // Appended before the projector starts, so the ghost sits inside one batch.
    let store = events.as_ref() as &dyn EventStore;
    let decide = |order: &'static str| async move {
        let command = place(order, "c1", vec![item("a", 1, 100)], at(1, 9));
        execute(
            &OrderDecider,
            store,
            &order_stream(order).expect("stream"),
            &command,
            &CommandOptions::default(),
        )
        .await
        .expect("placed");
    };
    decide("before").await;
    // A confirmation of an order that was never placed (written around the decider).
    let ghost = OrderEvent::Confirmed(OrderConfirmed {
        order_id: "ghost".into(),
        confirmed_at: at(1, 10),
    });
    let ghost_at = events
        .append(
            &order_stream("ghost").expect("stream"),
            ExpectedVersion::NoStream,
            vec![NewEvent::new(
                ghost.event_type(),
                ghost.encode().expect("encode"),
            )],
        )
        .await
        .expect("append the ghost")
        .first_position;
    decide("after").await;

    let options = ProjectorOptions {
        retry: RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
        },
        ..ProjectorOptions::default()
    };
    let projector = Projector::new(events.clone(), options)
        .with_target(SqlTarget::typed(
            reads.clone() as Arc<dyn SqlReadStore>,
            projections::OrderSummaryProjection,
        ))
        .with_target(SqlTarget::typed(
            reads.clone() as Arc<dyn SqlReadStore>,
            projections::CustomersProjection,
        ))
        .start(CancellationToken::new())
        .expect("start");
    for (projection, table, missing) in [
        (ORDER_SUMMARY, "order_summary", "which has no summary"),
        (CUSTOMERS, "customer_orders", "which has no customer"),
    ] {
        let Err(WaitError::Stopped {
            stopped_at: position,
            error,
            ..
        }) = projector.wait_for(&projection, ghost_at, patience()).await
        else {
            panic!("{projection} did not stop at the ghost");
        };
        assert_eq!(position, ghost_at, "{projection} stopped at the ghost");
        assert!(
            error.ends_with(&format!("OrderConfirmed for order ghost, {missing}")),
            "{projection}: {error}"
        );
        let orders = reads
            .query(
                &projection,
                &format!("SELECT order_id FROM {table} ORDER BY order_id"),
                &[],
            )
            .await
            .expect("query");
        let ids: Vec<SqlValue> = orders.iter().map(|row| row.values()[0].clone()).collect();
        assert_eq!(ids, [text("before")], "{projection}: only what came first");
    }
}
