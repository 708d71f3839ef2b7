//! Batches of any size give the table one event at a time gives, and a customer with thousands
//! of orders moves in one statement.

use std::collections::BTreeMap;

use futures::StreamExt;
use projector_core::RecordedEvent;
use projector_sql::{SqlValue, params};
use proptest::prelude::*;
use proptest::sample::Index;

use super::{
    Fact, History, Summary, append, created, item_added, moved, moves, registered, reviewed,
};
use crate::helpers::text;

const REGIONS: [&str; 4] = ["north", "south", "east", "west"];
const CUSTOMERS: usize = 3;

/// The events of one stream, in its order.
#[derive(Clone, Debug)]
struct Stream(Vec<Fact>);

/// A customer: maybe registered in a region, then moved between regions, maybe reviewing.
fn customer(id: usize) -> impl Strategy<Value = Stream> {
    (
        prop::option::of(0..REGIONS.len()),
        prop::collection::vec(0..REGIONS.len(), 0..4),
        any::<bool>(),
    )
        .prop_map(move |(first, hops, reviews)| {
            let customer = format!("c{id}");
            let mut facts = Vec::new();
            if let Some(first) = first {
                facts.push(registered(&customer, REGIONS[first]));
                let mut here = first;
                for to in hops {
                    facts.push(moved(&customer, REGIONS[here], REGIONS[to]));
                    here = to;
                }
            }
            if reviews {
                facts.push(reviewed(&customer));
            }
            Stream(facts)
        })
}

/// An order of one of the customers (or of one who never registers), with a few items.
fn order(id: usize) -> impl Strategy<Value = Stream> {
    (0..CUSTOMERS + 1, prop::collection::vec(1..1_000i64, 0..4)).prop_map(
        move |(customer, items)| {
            let order = format!("o{id}");
            let mut facts = vec![created(&order, &format!("c{customer}"))];
            facts.extend(items.into_iter().map(|cents| item_added(&order, cents)));
            Stream(facts)
        },
    )
}

/// Every customer's and order's stream.
fn streams() -> impl Strategy<Value = Vec<Stream>> {
    let customers: Vec<_> = (0..CUSTOMERS).map(customer).collect();
    (customers, 1..7usize).prop_flat_map(|(customers, orders)| {
        let orders: Vec<_> = (0..orders).map(order).collect();
        (Just(customers), orders).prop_map(|(mut customers, orders)| {
            customers.extend(orders);
            customers
        })
    })
}

/// The streams merged in the order `picks` chooses, each stream's own order kept.
fn interleave(streams: &[Stream], picks: &[Index]) -> Vec<Fact> {
    let mut next = vec![0; streams.len()];
    let total: usize = streams.iter().map(|s| s.0.len()).sum();
    let mut merged = Vec::with_capacity(total);
    for pick in picks.iter().cycle().take(total) {
        let open: Vec<usize> = (0..streams.len())
            .filter(|&s| next[s] < streams[s].0.len())
            .collect();
        let stream = open[pick.index(open.len())];
        merged.push(streams[stream].0[next[stream]].clone());
        next[stream] += 1;
    }
    merged
}

/// The region each order must show: its customer's last one, if they ever registered.
fn expected_regions(facts: &[Fact]) -> Vec<(String, String, Option<String>)> {
    let mut lives: BTreeMap<String, String> = BTreeMap::new();
    let mut orders: BTreeMap<String, String> = BTreeMap::new();
    for fact in facts {
        match fact {
            Fact::Customer(projector_customers::CustomerEvent::Registered(e)) => {
                lives.insert(e.customer_id.clone(), e.region.clone());
            }
            Fact::Customer(projector_customers::CustomerEvent::Moved(e)) => {
                lives.insert(e.customer_id.clone(), e.region.clone());
            }
            Fact::Order(projector_orders::OrderEvent::Created(e)) => {
                orders.insert(e.order_id.clone(), e.customer_id.clone());
            }
            _ => {}
        }
    }
    orders
        .into_iter()
        .map(|(order, customer)| {
            let region = lives.get(&customer).cloned();
            (order, customer, region)
        })
        .collect()
}

async fn one_at_a_time_and_in_batches_agree(
    streams: Vec<Stream>,
    picks: Vec<Index>,
    sizes: Vec<usize>,
) {
    let facts = interleave(&streams, &picks);
    let history = History::new();
    history.append_all(&facts).await;
    let events: Vec<RecordedEvent> = history.recorded().await;

    let mut one_by_one = Summary::open().await;
    for event in &events {
        one_by_one.apply(std::slice::from_ref(event)).await;
    }
    let mut batched = Summary::open().await;
    batched.apply_in_batches(&events, &sizes).await;

    let expected = expected_regions(&facts);
    assert_eq!(one_by_one.regions().await, expected, "one event at a time");
    assert_eq!(
        batched.tables().await,
        one_by_one.tables().await,
        "batches of {sizes:?} over {facts:#?}"
    );
}

proptest! {
    // Each case opens an event store and two read stores on fresh SQLite files: 48 cases here,
    // more in CI (see `projector_testkit::property`).
    #![proptest_config(projector_testkit::property::config(48))]

    #[test]
    fn any_interleaving_in_batches_of_any_size_is_what_one_event_at_a_time_gives(
        streams in streams(),
        picks in prop::collection::vec(any::<Index>(), 1..64),
        sizes in prop::collection::vec(1..12usize, 1..8),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(one_at_a_time_and_in_batches_agree(streams, picks, sizes));
    }
}

/// How many orders the busy customer has.
const MANY: usize = 5_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_with_five_thousand_orders_moves_in_one_statement() {
    let history = History::new();
    history
        .append_all(&[registered("busy", "north"), registered("other", "west")])
        .await;
    let orders: Vec<Fact> = (0..MANY)
        .map(|i| created(&format!("o{i:05}"), "busy"))
        .chain((0..10).map(|i| created(&format!("x{i}"), "other")))
        .collect();
    // Concurrent appends share commits.
    futures::stream::iter(&orders)
        .for_each_concurrent(64, |fact| append(&history.events, fact))
        .await;
    let mut summary = Summary::open().await;
    summary
        .apply_in_batches(&history.recorded().await, &[1_000])
        .await;

    assert_eq!(summary.orders_in("north").await, MANY as i64);

    let before = history.recorded().await.len();
    history.append(&moved("busy", "north", "south")).await;
    let batch = history.recorded().await.split_off(before);
    let ran = summary.apply(&batch).await;
    let updates = moves(&ran);
    assert_eq!(updates.len(), 1, "{ran:?}");
    assert_eq!(
        updates[0].changed, MANY as u64,
        "one statement moved every order"
    );
    assert_eq!(summary.orders_in("south").await, MANY as i64);
    assert_eq!(summary.orders_in("north").await, 0);
    assert_eq!(
        summary.orders_in("west").await,
        10,
        "the other customer stayed"
    );

    // The statement finds the orders through the index on customer_id.
    let plan = summary
        .query(
            &format!("EXPLAIN QUERY PLAN {}", updates[0].sql),
            params!["east", "busy"],
        )
        .await;
    let details: Vec<String> = plan
        .iter()
        .map(|row| row.get::<String>("detail").expect("detail"))
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("USING INDEX order_summary_by_customer")),
        "{details:?}"
    );

    // A move inside a batch of that customer's order events: still one statement, and every
    // order, stored or new, ends in the last region.
    let before = history.recorded().await.len();
    history
        .append_all(&[
            item_added("o00007", 100),
            moved("busy", "south", "east"),
            created("o99999", "busy"),
            item_added("o00007", 100),
        ])
        .await;
    let batch = history.recorded().await.split_off(before);
    let ran = summary.apply(&batch).await;
    assert_eq!(moves(&ran).len(), 1, "{ran:?}");
    assert_eq!(summary.orders_in("east").await, MANY as i64 + 1);
    let o7 = summary
        .query(
            "SELECT total_cents, customer_region FROM order_summary WHERE order_id = 'o00007'",
            &[],
        )
        .await;
    assert_eq!(o7[0].values(), [SqlValue::Int(200), text("east")]);
}
