//! The "my orders" cache in Redis answers exactly as the SQL `customers` read model does: the
//! same orders, newest first, page by page, with the same cursors, because both fold each order
//! through the one `OrderView`.

use std::sync::Arc;

use projector_core::ProjectionTarget;
use projector_orders::projections::{self, CustomerOrdersCacheProjection};
use projector_orders::queries::{self, CustomerOrdersPage, OrdersCursor};
use projector_orders::{Money, OrderCommand};
use projector_redis::{Namespace, RedisStore, RedisTarget};
use projector_runtime::{Projector, ProjectorOptions};
use projector_sql::{SqlReadStore, SqlTarget};
use projector_testkit::redis::TestRedis;
use tokio_util::sync::CancellationToken;

use projector_testkit::sqlite;

use crate::helpers::{at, item, patience, place};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_pages_each_customers_orders_as_the_sql_model_does() {
    let Some(redis) = TestRedis::create().await else {
        return;
    };
    let (_dir, events, reads) = sqlite::stores();
    let store = RedisStore::connect(
        redis.url(),
        Namespace::parse(redis.namespace()).expect("namespace"),
    )
    .await
    .expect("redis");
    let cache = Arc::new(RedisTarget::typed(store, CustomerOrdersCacheProjection));
    let mut projector = Projector::new(events.clone(), ProjectorOptions::default())
        .with_target(Arc::clone(&cache) as Arc<dyn ProjectionTarget>);
    for projection in projections::all() {
        projector = projector.with_target(SqlTarget::new(
            reads.clone() as Arc<dyn SqlReadStore>,
            projection,
        ));
    }
    let handle = projector.start(CancellationToken::new()).expect("start");
    let service = crate::helpers::Commands { events: &events };

    // Customer c1: five orders, two created at the same moment; items change, one ships and
    // completes and is refunded, one is cancelled. Customer c2: one order.
    for (order, hour) in [("a", 9), ("b", 10), ("c", 10), ("d", 11), ("e", 12)] {
        service
            .run(
                order,
                place(order, "c1", vec![item("x", 1, 1_050)], at(1, hour)),
            )
            .await;
    }
    service
        .run(
            "b",
            OrderCommand::AddItem {
                item: item("y", 3, 333),
                at: at(1, 13),
            },
        )
        .await;
    service
        .run(
            "b",
            OrderCommand::RemoveItem {
                sku: "x".into(),
                at: at(1, 14),
            },
        )
        .await;
    service
        .run(
            "c",
            OrderCommand::Ship {
                tracking: "T1".into(),
                at: at(1, 15),
            },
        )
        .await;
    service
        .run("c", OrderCommand::Complete { at: at(2, 8) })
        .await;
    service
        .run(
            "c",
            OrderCommand::Refund {
                amount: Money::from_cents(50),
                at: at(3, 8),
            },
        )
        .await;
    service
        .run(
            "d",
            OrderCommand::Cancel {
                reason: "no".into(),
                at: at(2, 9),
            },
        )
        .await;
    service
        .run("f", place("f", "c2", vec![item("z", 2, 999)], at(2, 10)))
        .await;
    handle.wait_caught_up(patience()).await.expect("caught up");

    for customer in ["c1", "c2", "nobody"] {
        let mut cursor: Option<OrdersCursor> = None;
        let mut pages = 0;
        loop {
            let from_sql = queries::customer_orders(reads.as_ref(), customer, 2, cursor.as_ref())
                .await
                .expect("sql page");
            let read = cache.read().await.expect("cache");
            let from_cache = queries::customer_orders_cached(&read, customer, 2, cursor.as_ref())
                .await
                .expect("cache page");
            assert_eq!(from_cache, from_sql, "{customer}, page {pages}");
            pages += 1;
            match from_sql {
                CustomerOrdersPage {
                    next: Some(next), ..
                } => cursor = Some(next),
                CustomerOrdersPage { next: None, .. } => break,
            }
        }
        let expected_pages = match customer {
            "c1" => 3,
            _ => 1,
        };
        assert_eq!(pages, expected_pages, "{customer}");
    }
    let first = queries::customer_orders_cached(&cache.read().await.expect("cache"), "c1", 5, None)
        .await
        .expect("page");
    let ids: Vec<&str> = first.orders.iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(ids, ["e", "d", "c", "b", "a"], "newest first, ties by id");
    handle.shutdown();
    handle.join().await;
}
