//! The read store on PostgreSQL: the order projections give the same rows as on SQLite for the
//! same commands, a rebuild swaps generations without changing a row, and portable parameters
//! and results convert for every type PostgreSQL infers.

mod helpers;
mod overflow;
mod partitions;
mod passing;
mod types;

use chrono::{DateTime, TimeZone, Utc};
use projector_customers::CustomerEvent;
use projector_customers::events::{CustomerMoved, CustomerRegistered};
use projector_orders::projections::{self, CUSTOMERS, DAILY_SALES, ORDER_SUMMARY};
use projector_orders::{Money, NewItem, OrderCommand};
use projector_sql::{SqlProjection, SqlValue, parse_sql_time};
use projector_testkit::dump::{Dump, masked, read_models, rows};

use helpers::{Service, patience};

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, day, hour, 0, 0)
        .single()
        .expect("valid time")
}

fn item(sku: &str, quantity: u32, cents: i64) -> NewItem {
    NewItem::new(sku, quantity, Money::from_cents(cents))
}

/// The lifecycle of the orders projection test: items changed, shipped, completed, refunded,
/// cancelled, over two customers.
fn commands() -> Vec<(&'static str, OrderCommand)> {
    vec![
        (
            "a",
            OrderCommand::place(
                "a",
                "c1",
                vec![item("x", 2, 1000), item("y", 1, 550)],
                at(1, 9),
            ),
        ),
        (
            "a",
            OrderCommand::AddItem {
                item: item("z", 3, 100),
                at: at(1, 10),
            },
        ),
        (
            "a",
            OrderCommand::RemoveItem {
                sku: "y".into(),
                at: at(1, 11),
            },
        ),
        (
            "a",
            OrderCommand::Ship {
                tracking: "UPS1".into(),
                at: at(1, 12),
            },
        ),
        ("a", OrderCommand::Complete { at: at(2, 8) }),
        (
            "a",
            OrderCommand::Refund {
                amount: Money::from_cents(500),
                at: at(5, 8),
            },
        ),
        (
            "a",
            OrderCommand::Refund {
                amount: Money::from_cents(250),
                at: at(6, 8),
            },
        ),
        (
            "b",
            OrderCommand::place("b", "c1", vec![item("x", 1, 1000)], at(3, 9)),
        ),
        (
            "b",
            OrderCommand::Cancel {
                reason: "too slow".into(),
                at: at(3, 10),
            },
        ),
        (
            "c",
            OrderCommand::place("c", "c2", vec![item("q", 4, 125)], at(2, 1)),
        ),
        (
            "c",
            OrderCommand::Ship {
                tracking: "DHL9".into(),
                at: at(2, 2),
            },
        ),
        ("c", OrderCommand::Complete { at: at(2, 20) }),
        (
            "d",
            OrderCommand::place("d", "c3", vec![item("w", 1, 1999)], at(4, 1)),
        ),
    ]
}

/// Where customers live, recorded around the orders: c1 before ordering and again after, c2
/// after, c3 never.
fn customer_events() -> (Vec<CustomerEvent>, Vec<CustomerEvent>) {
    let registered = |customer: &str, region: &str| {
        CustomerEvent::Registered(CustomerRegistered {
            customer_id: customer.into(),
            email: format!("{customer}@example.com"),
            name: customer.to_uppercase(),
            region: region.into(),
            registered_at: at(1, 8),
        })
    };
    let moved = CustomerEvent::Moved(CustomerMoved {
        customer_id: "c1".into(),
        from: "north".into(),
        region: "south".into(),
        moved_at: at(6, 8),
    });
    (
        vec![registered("c1", "north")],
        vec![registered("c2", "west"), moved],
    )
}

/// Columns that hold the time the store recorded an event, which differs between two runs.
const RECORDED_TIMES: [&str; 2] = ["updated_at", "last_activity_at"];

/// Every row of every table, with recorded times checked and masked.
async fn dump(service: &Service) -> Dump {
    service
        .projector
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    let all = projections::all();
    let all: Vec<&dyn SqlProjection> = all.iter().map(|p| p.as_ref()).collect();
    masked(
        read_models(service.reads.as_ref(), &all).await,
        |column, value| {
            if !RECORDED_TIMES.contains(&column) {
                return value;
            }
            let SqlValue::Text(text) = &value else {
                panic!("{column} is {value:?}, not a time");
            };
            parse_sql_time(text).expect("a recorded time");
            SqlValue::Text("<recorded>".into())
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_projections_match_sqlite_row_for_row() {
    let Some((postgres, _)) = Service::postgres().await else {
        return;
    };
    let sqlite = Service::sqlite();
    let (before, after) = customer_events();
    for event in &before {
        sqlite.record(event).await;
        postgres.record(event).await;
    }
    for (order, command) in commands() {
        sqlite.run(order, command.clone()).await;
        postgres.run(order, command).await;
    }
    for event in &after {
        sqlite.record(event).await;
        postgres.record(event).await;
    }
    let expected = dump(&sqlite).await;
    let found = dump(&postgres).await;
    assert_eq!(found, expected);
    // Not vacuous: every table the orders fill has rows.
    for table in [
        "order_summary",
        "customer_regions",
        "daily_sales",
        "customer_orders",
        "customer_activity",
    ] {
        assert!(!rows(&expected, table).is_empty(), "{table} is empty");
    }

    let regions = postgres
        .rows(
            &ORDER_SUMMARY,
            "SELECT order_id, customer_region FROM order_summary ORDER BY order_id",
        )
        .await;
    let text = |s: &str| SqlValue::Text(s.into());
    assert_eq!(
        regions,
        [
            [text("a"), text("south")],
            [text("b"), text("south")],
            [text("c"), text("west")],
            [text("d"), SqlValue::Null],
        ]
    );
    let summary = postgres
        .rows(
            &ORDER_SUMMARY,
            "SELECT order_id, status, item_count, total_cents, refunded_cents FROM order_summary ORDER BY order_id",
        )
        .await;
    assert_eq!(
        summary[0],
        [
            SqlValue::Text("a".into()),
            SqlValue::Text("completed".into()),
            SqlValue::Int(5),
            SqlValue::Int(2300),
            SqlValue::Int(750)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_swaps_schemas_and_reproduces_every_row() {
    let Some((service, reads)) = Service::postgres().await else {
        return;
    };
    for (order, command) in commands() {
        service.run(order, command).await;
    }
    let before = dump(&service).await;
    let mut old_schemas = Vec::new();
    for name in [ORDER_SUMMARY, DAILY_SALES, CUSTOMERS] {
        let old = reads
            .serving_schema(&name)
            .await
            .expect("catalog")
            .expect("serving");
        let generation = service.projector.rebuild(&name).await.expect("rebuild");
        let mut status = service.projector.watch(&name).expect("watch");
        tokio::time::timeout(
            projector_testkit::wait::deadline(),
            status.wait_for(|s| s.generation == Some(generation)),
        )
        .await
        .expect("rebuild completes")
        .expect("worker alive");
        let new = reads
            .serving_schema(&name)
            .await
            .expect("catalog")
            .expect("serving");
        assert_eq!(new, format!("rm_{name}_g{}", generation.get()));
        assert_ne!(new, old);
        old_schemas.push(old);
    }
    assert_eq!(dump(&service).await, before);

    // The replaced schemas are gone; the serving ones remain.
    let schemas = service
        .rows(
            &ORDER_SUMMARY,
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rm\\_%' ORDER BY nspname",
        )
        .await;
    let schemas: Vec<String> = schemas
        .into_iter()
        .map(|row| match &row[0] {
            SqlValue::Text(name) => name.clone(),
            other => panic!("schema name {other:?}"),
        })
        .collect();
    for old in &old_schemas {
        assert!(
            !schemas.contains(old),
            "{old} survived its replacement: {schemas:?}"
        );
    }
    assert_eq!(schemas.len(), 3, "{schemas:?}");

    // Live events after the swap land in the new generation.
    service
        .run(
            "e",
            OrderCommand::place("e", "c9", vec![item("v", 2, 300)], at(7, 1)),
        )
        .await;
    let e = service
        .rows(
            &ORDER_SUMMARY,
            "SELECT total_cents FROM order_summary WHERE order_id = 'e'",
        )
        .await;
    assert_eq!(e, [vec![SqlValue::Int(600)]]);
}

/// A read store on `url`, as the conformance checks take it.
async fn read_store(url: &str) -> std::sync::Arc<dyn projector_sql::SqlReadStore> {
    std::sync::Arc::new(
        projector_postgres::PgReadStore::connect(
            url,
            projector_postgres::PgReadStoreOptions::default(),
        )
        .await
        .expect("reads"),
    )
}

/// A fresh database and a read store on it; `None` (with the reason printed) when PostgreSQL
/// is away outside CI.
async fn fresh_read_store() -> Option<(
    projector_testkit::postgres::TestDatabase,
    std::sync::Arc<dyn projector_sql::SqlReadStore>,
)> {
    let database = projector_testkit::postgres::TestDatabase::create().await?;
    let reads = read_store(database.url()).await;
    Some((database, reads))
}

/// A read store on a fresh database, reopened with new connections to it; `None` to skip.
async fn fixture() -> Option<projector_testkit::conformance::target::sql::SqlFixture> {
    let database = projector_testkit::postgres::TestDatabase::create().await?;
    let url = database.url().to_owned();
    let open = move || {
        let url = url.clone();
        async move { read_store(&url).await }
    };
    Some(projector_testkit::conformance::target::sql::SqlFixture::open(open, database).await)
}

/// Two processes' controls on one fresh database.
async fn controls() -> Option<(
    projector_testkit::postgres::TestDatabase,
    std::sync::Arc<dyn projector_core::ProjectionControls>,
    std::sync::Arc<dyn projector_core::ProjectionControls>,
)> {
    let database = projector_testkit::postgres::TestDatabase::create().await?;
    let open = || async {
        std::sync::Arc::new(
            projector_postgres::PgReadStore::connect(database.url(), Default::default())
                .await
                .expect("read store")
                .controls(),
        )
    };
    let (here, there) = (open().await, open().await);
    Some((database, here, there))
}

projector_testkit::target_conformance!(
    fixture(),
    sql_store: fresh_read_store(),
    controls: controls(),
);

/// A store that serves queries cancels a statement running past its `statement_timeout`, so a
/// slow or hostile read cannot hold a connection; quick queries run as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_its_statement_timeout_is_cancelled() {
    use std::time::{Duration, Instant};

    use projector_postgres::PgReadStoreOptions;
    use projector_sql::SqlReadStore;

    let Some((_service, queries)) = Service::postgres_with_queries(PgReadStoreOptions {
        statement_timeout: Some(Duration::from_millis(200)),
        ..PgReadStoreOptions::default()
    })
    .await
    else {
        return;
    };
    let started = Instant::now();
    let slow = queries
        .query(&ORDER_SUMMARY, "SELECT 1 FROM pg_sleep(3)", &[])
        .await;
    assert!(slow.is_err(), "the slow query ran to its end");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "cancelled only after {:?}",
        started.elapsed()
    );
    let quick = queries
        .query(&ORDER_SUMMARY, "SELECT count(*) FROM order_summary", &[])
        .await
        .expect("a quick query runs");
    assert_eq!(quick.len(), 1);
}

/// A read dropped part-way (its caller gone, or its deadline passed) may have begun its
/// transaction without ending it; the connection it held must not serve the next read from
/// inside that transaction. One connection, reads dropped after ever longer spans, each with a
/// statement of its own so that it is prepared inside the transaction; after each, a read must
/// find its transaction begun just now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_dropped_part_way_leaves_no_transaction_open_for_the_next() {
    use std::time::Duration;

    use projector_postgres::PgReadStoreOptions;
    use projector_sql::SqlReadStore;

    let Some((_service, queries)) = Service::postgres_with_queries(PgReadStoreOptions {
        pool_size: 1,
        ..PgReadStoreOptions::default()
    })
    .await
    else {
        return;
    };
    let mut dropped = 0;
    for n in 0..30u64 {
        let sql = format!("SELECT {n} AS n, count(*) AS orders FROM order_summary");
        let span = Duration::from_micros(n * 100);
        if tokio::time::timeout(span, queries.query(&ORDER_SUMMARY, &sql, &[]))
            .await
            .is_err()
        {
            dropped += 1;
        }
        // Long enough that a transaction left open is plainly older than one just begun.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let age = queries
            .query(
                &ORDER_SUMMARY,
                "SELECT (extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint AS ms",
                &[],
            )
            .await
            .expect("the next read runs");
        let ms: i64 = age[0].get("ms").expect("an age");
        assert!(
            ms < 150,
            "after a read dropped at {} µs the next ran in a transaction begun {ms} ms before",
            n * 100
        );
    }
    assert!(dropped > 0, "no read was dropped part-way");
}
