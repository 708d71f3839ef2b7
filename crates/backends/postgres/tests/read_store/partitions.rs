//! `order_summary` as four partitions on PostgreSQL, where partitions commit concurrently:
//! appended while the partitions apply it, customers moving between their orders' events, the
//! tables end equal to a build by one worker.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use projector_core::{
    DomainEvent, EventAppender, EventFeed, EventMetadata, EventSet, ExpectedVersion, NewEvent,
    StreamId,
};
use projector_customers::CustomerEvent;
use projector_customers::events::{CustomerMoved, CustomerRegistered};
use projector_orders::events::{OrderCreated, OrderEvent, OrderItemAdded};
use projector_orders::projections::{ORDER_SUMMARY, OrderSummaryProjection};
use projector_orders::{Money, order_stream};
use projector_postgres::{PgEventStore, PgEventStoreOptions, PgReadStore, PgReadStoreOptions};
use projector_runtime::{Projector, ProjectorHandle, ProjectorOptions};
use projector_sql::{SqlReadStore, SqlTarget, TypedSql};
use projector_testkit::dump::{Dump, read_models, rows};
use projector_testkit::postgres::TestDatabase;
use tokio_util::sync::CancellationToken;

use crate::helpers::patience;

/// The events of customers registering and moving between their orders' events, in a fixed
/// pseudo-random interleaving.
fn interleaved(customers: usize, orders: usize) -> Vec<(StreamId, NewEvent)> {
    let when = Utc
        .with_ymd_and_hms(2026, 4, 1, 9, 0, 0)
        .single()
        .expect("a time");
    let meta = EventMetadata::default();
    let regions = ["north", "south", "east", "west"];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % n as u64).unwrap_or(0)
    };
    let customer = |e: CustomerEvent| {
        let stream = CustomerEvent::stream(e.customer_id()).expect("a stream");
        (stream, e.to_new_event(&meta).expect("encodes"))
    };
    let order = |e: OrderEvent| {
        let stream = order_stream(e.order_id()).expect("a stream");
        (stream, e.to_new_event(&meta).expect("encodes"))
    };
    let mut out = Vec::new();
    let mut region_of = Vec::new();
    for c in 0..customers {
        let region = regions[next(regions.len())];
        region_of.push(region);
        out.push(customer(CustomerEvent::Registered(CustomerRegistered {
            customer_id: format!("c{c}"),
            email: format!("c{c}@example.com"),
            name: format!("C{c}"),
            region: region.into(),
            registered_at: when,
        })));
    }
    for o in 0..orders {
        out.push(order(OrderEvent::Created(OrderCreated {
            order_id: format!("o{o}"),
            customer_id: format!("c{}", next(customers)),
            created_at: when,
        })));
        let earlier = next(o + 1);
        out.push(order(OrderEvent::ItemAdded(OrderItemAdded {
            order_id: format!("o{earlier}"),
            sku: "sku".into(),
            quantity: 1,
            unit_price: Money::from_cents(100 + next(900) as i64),
        })));
        if next(2) == 0 {
            let mover = next(customers);
            let to = regions[next(regions.len())];
            out.push(customer(CustomerEvent::Moved(CustomerMoved {
                customer_id: format!("c{mover}"),
                from: region_of[mover].into(),
                region: to.into(),
                moved_at: when,
            })));
            region_of[mover] = to;
        }
    }
    out
}

fn start(events: &Arc<PgEventStore>, reads: &Arc<PgReadStore>, count: u16) -> ProjectorHandle {
    let options = ProjectorOptions {
        batch_size: 5,
        ..ProjectorOptions::default()
    };
    let mut projector = Projector::new(events.clone(), options);
    for target in SqlTarget::partitioned(
        reads.clone() as Arc<dyn SqlReadStore>,
        Arc::new(TypedSql(OrderSummaryProjection)),
        count,
    )
    .expect("partitions")
    {
        projector = projector.with_target(target);
    }
    projector.start(CancellationToken::new()).expect("start")
}

async fn tables(projector: &ProjectorHandle, reads: &dyn SqlReadStore) -> Dump {
    projector
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    read_models(reads, &[&TypedSql(OrderSummaryProjection)]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_partitions_on_postgres_build_the_same_tables_as_one_worker() {
    let Some(first) = TestDatabase::create().await else {
        return;
    };
    let Some(second) = TestDatabase::create().await else {
        return;
    };
    let events = Arc::new(
        PgEventStore::connect(first.url(), PgEventStoreOptions::default())
            .await
            .expect("events"),
    );
    let connect = |url: String| async move {
        Arc::new(
            PgReadStore::connect(&url, PgReadStoreOptions::default())
                .await
                .expect("reads"),
        )
    };
    let whole_reads = connect(first.url().to_owned()).await;
    let parted_reads = connect(second.url().to_owned()).await;
    let whole = start(&events, &whole_reads, 1);
    let parted = start(&events, &parted_reads, 4);
    // Appended while the partitions run, so their batches commit side by side.
    for (stream, event) in interleaved(10, 200) {
        events
            .append(&stream, ExpectedVersion::Any, vec![event])
            .await
            .expect("appended");
    }
    let expected = tables(&whole, whole_reads.as_ref()).await;
    assert_eq!(rows(&expected, "order_summary").len(), 200);
    assert_eq!(tables(&parted, parted_reads.as_ref()).await, expected);
    let head = events.head().await.expect("head");
    for status in parted.statuses() {
        assert_eq!(status.checkpoint, head, "{}", status.name);
    }
    assert_eq!(
        parted_reads
            .partitions(
                &ORDER_SUMMARY,
                parted.statuses()[0].generation.expect("generation")
            )
            .await
            .expect("count"),
        4
    );
    whole.stop().await;
    parted.stop().await;
}
