//! A property of the `customers` read model: however customers' events and their orders'
//! events interleave in the feed (each stream in its own order), and however the projector
//! cuts them into batches, the tables come out as when the same feed is applied one event at
//! a time. Both read models follow one real SQLite event store.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use projector_core::{DomainEvent, EventAppender, ExpectedVersion, NewEvent, StreamId};
use projector_customers::events::{
    CustomerMoved, CustomerRegistered, CustomerTierChanged, CustomerUpdated, ReviewSubmitted,
};
use projector_customers::{CustomerEvent, Tier, customer_stream};
use projector_orders::events::{
    OrderCancelled, OrderCompleted, OrderConfirmed, OrderCreated, OrderEvent, OrderItemAdded,
    OrderRefunded, OrderShipped,
};
use projector_orders::projections::CustomersProjection;
use projector_orders::{Money, order_stream};
use projector_runtime::{Projector, ProjectorOptions};
use projector_sql::{SqlReadStore, SqlTarget, SqlValue, TypedSql};
use projector_sqlite::SqliteEventStore;
use projector_testkit::dump::{Dump, read_models, rows};
use proptest::prelude::*;
use proptest::sample::Index;
use tokio_util::sync::CancellationToken;

use projector_testkit::sqlite;

use crate::helpers::patience;

/// What a customer does after registering, in order.
#[derive(Clone, Debug)]
enum CustomerStep {
    Rename,
    Move,
    Tier(Tier),
    Review(u8),
}

/// What happens to an order after it is placed and confirmed.
#[derive(Clone, Debug)]
enum Fate {
    Open,
    Cancelled,
    Completed { refund: Option<i64> },
}

/// One order of customer `customer`: its lines' (quantity, unit price in cents) and fate.
#[derive(Clone, Debug)]
struct OrderPlan {
    customer: usize,
    lines: Vec<(u32, i64)>,
    fate: Fate,
}

/// A feed: customers' and orders' streams, and how they interleave.
#[derive(Clone, Debug)]
struct Plan {
    customers: Vec<Vec<CustomerStep>>,
    orders: Vec<OrderPlan>,
    /// At each step, which of the streams with events left goes next.
    picks: Vec<Index>,
    batch_size: usize,
}

const CUSTOMERS_MAX: usize = 3;

fn customer_step() -> impl Strategy<Value = CustomerStep> {
    prop_oneof![
        Just(CustomerStep::Rename),
        Just(CustomerStep::Move),
        prop::sample::select(Tier::ALL.to_vec()).prop_map(CustomerStep::Tier),
        (1_u8..=5).prop_map(CustomerStep::Review),
    ]
}

fn order_plan() -> impl Strategy<Value = OrderPlan> {
    let fate = prop_oneof![
        Just(Fate::Open),
        Just(Fate::Cancelled),
        prop::option::of(1_i64..=100).prop_map(|refund| Fate::Completed { refund }),
    ];
    (
        0..CUSTOMERS_MAX,
        prop::collection::vec((1_u32..=3, 1_i64..=10_000), 1..3),
        fate,
    )
        .prop_map(|(customer, lines, fate)| OrderPlan {
            customer,
            lines,
            fate,
        })
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        prop::collection::vec(
            prop::collection::vec(customer_step(), 0..5),
            1..=CUSTOMERS_MAX,
        ),
        prop::collection::vec(order_plan(), 0..5),
        prop::collection::vec(any::<Index>(), 80),
        1_usize..=40,
    )
        .prop_map(|(customers, orders, picks, batch_size)| Plan {
            customers,
            orders,
            picks,
            batch_size,
        })
}

fn minute(m: usize) -> DateTime<Utc> {
    let m = u32::try_from(m).expect("a few minutes");
    Utc.with_ymd_and_hms(2026, 4, 20, 0, 0, 0)
        .single()
        .expect("valid time")
        + chrono::Duration::minutes(i64::from(m))
}

/// Customer `c`'s stream: registered, then their steps (each review of its own product).
fn customer_events(c: usize, steps: &[CustomerStep]) -> (StreamId, Vec<CustomerEvent>) {
    let id = format!("c{c}");
    let mut region = "r0".to_owned();
    let mut tier = Tier::Bronze;
    let mut events = vec![CustomerEvent::Registered(CustomerRegistered {
        customer_id: id.clone(),
        email: format!("{id}@example.com"),
        name: id.clone(),
        region: region.clone(),
        registered_at: minute(c),
    })];
    for (i, step) in steps.iter().enumerate() {
        let at = minute(10 * c + i + 1);
        events.push(match step {
            CustomerStep::Rename => CustomerEvent::Updated(CustomerUpdated {
                customer_id: id.clone(),
                email: (i % 2 == 0).then(|| format!("{id}.{i}@example.com")),
                name: Some(format!("{id} {i}")),
                updated_at: at,
            }),
            CustomerStep::Move => {
                let from = std::mem::replace(&mut region, format!("r{}", i + 1));
                CustomerEvent::Moved(CustomerMoved {
                    customer_id: id.clone(),
                    from,
                    region: region.clone(),
                    moved_at: at,
                })
            }
            CustomerStep::Tier(to) => {
                let from = std::mem::replace(&mut tier, *to);
                CustomerEvent::TierChanged(CustomerTierChanged {
                    customer_id: id.clone(),
                    from,
                    to: *to,
                    changed_at: at,
                })
            }
            CustomerStep::Review(rating) => CustomerEvent::ReviewSubmitted(ReviewSubmitted {
                customer_id: id.clone(),
                product_id: format!("p{i}"),
                rating: *rating,
                text: format!("{rating} stars"),
                submitted_at: at,
            }),
        });
    }
    (customer_stream(&id).expect("stream"), events)
}

/// Order `o`'s stream, as the decider would record it.
fn order_events(o: usize, plan: &OrderPlan) -> (StreamId, Vec<OrderEvent>) {
    let id = format!("o{o}");
    let at = minute(100 + o);
    let mut events = vec![OrderEvent::Created(OrderCreated {
        order_id: id.clone(),
        customer_id: format!("c{}", plan.customer),
        created_at: at,
    })];
    let mut total = 0;
    let mut items = 0;
    for (i, &(quantity, cents)) in plan.lines.iter().enumerate() {
        total += i64::from(quantity) * cents;
        items += quantity;
        events.push(OrderEvent::ItemAdded(OrderItemAdded {
            order_id: id.clone(),
            sku: format!("s{i}"),
            quantity,
            unit_price: Money::from_cents(cents),
        }));
    }
    events.push(OrderEvent::Confirmed(OrderConfirmed {
        order_id: id.clone(),
        confirmed_at: at,
    }));
    match plan.fate {
        Fate::Open => {}
        Fate::Cancelled => events.push(OrderEvent::Cancelled(OrderCancelled {
            order_id: id.clone(),
            reason: "changed my mind".into(),
            cancelled_at: at,
        })),
        Fate::Completed { refund } => {
            events.push(OrderEvent::Shipped(OrderShipped {
                order_id: id.clone(),
                tracking: "T".into(),
                shipped_at: at,
            }));
            events.push(OrderEvent::Completed(OrderCompleted {
                order_id: id.clone(),
                completed_at: at,
                total_amount: Money::from_cents(total),
                item_count: items,
            }));
            if let Some(cents) = refund {
                events.push(OrderEvent::Refunded(OrderRefunded {
                    order_id: id.clone(),
                    amount: Money::from_cents(cents.min(total)),
                    refunded_at: at,
                    original_completed_at: at,
                }));
            }
        }
    }
    (order_stream(&id).expect("stream"), events)
}

fn stored<E: DomainEvent>(stream: &StreamId, events: &[E]) -> VecDeque<(StreamId, NewEvent)> {
    events
        .iter()
        .map(|e| {
            let new = NewEvent::new(e.event_type(), e.encode().expect("encode"));
            (stream.clone(), new)
        })
        .collect()
}

/// Every stream's events, in its own order, interleaved as the plan picks.
fn feed(plan: &Plan) -> Vec<(StreamId, NewEvent)> {
    let mut streams = Vec::new();
    for (c, steps) in plan.customers.iter().enumerate() {
        let (stream, events) = customer_events(c, steps);
        streams.push(stored(&stream, &events));
    }
    for (o, order) in plan.orders.iter().enumerate() {
        let (stream, events) = order_events(o, order);
        streams.push(stored(&stream, &events));
    }
    let mut feed = Vec::new();
    for pick in plan.picks.iter().cycle() {
        let open: Vec<usize> = (0..streams.len())
            .filter(|&s| !streams[s].is_empty())
            .collect();
        if open.is_empty() {
            break;
        }
        feed.extend(streams[open[pick.index(open.len())]].pop_front());
    }
    feed
}

/// A read store beside `events` whose `customers` projection applies batches of at most
/// `batch_size` events; every table once it has caught up.
async fn tables(events: &Arc<SqliteEventStore>, batch_size: usize) -> Dump {
    let dir = projector_testkit::temp_dir();
    let reads = Arc::new(sqlite::read_store(dir.path()));
    let options = ProjectorOptions {
        batch_size,
        ..ProjectorOptions::default()
    };
    let projector = Projector::new(events.clone(), options)
        .with_target(SqlTarget::typed(
            reads.clone() as Arc<dyn SqlReadStore>,
            CustomersProjection,
        ))
        .start(CancellationToken::new())
        .expect("start");
    projector
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    read_models(reads.as_ref(), &[&TypedSql(CustomersProjection)]).await
}

async fn check(plan: Plan) {
    let (_dir, events, _) = sqlite::stores();
    for (stream, event) in feed(&plan) {
        events
            .append(&stream, ExpectedVersion::Any, vec![event])
            .await
            .expect("append");
    }
    let one_at_a_time = tables(&events, 1).await;
    let batched = tables(&events, plan.batch_size).await;
    assert_eq!(
        one_at_a_time, batched,
        "batches of {} differ",
        plan.batch_size
    );
    // Both saw everything: a profile per customer, a row per order, a review per review.
    let [profiles, activity, orders, reviews] = [
        "customer_profiles",
        "customer_activity",
        "customer_orders",
        "customer_reviews",
    ]
    .map(|table| rows(&one_at_a_time, table));
    assert_eq!(profiles.len(), plan.customers.len());
    assert_eq!(orders.len(), plan.orders.len());
    let written = plan
        .customers
        .iter()
        .flatten()
        .filter(|s| matches!(s, CustomerStep::Review(_)))
        .count();
    assert_eq!(reviews.len(), written);
    let placed: i64 = activity
        .iter()
        .map(|row| match row[1] {
            SqlValue::Int(n) => n,
            ref other => panic!("orders_placed is {other:?}"),
        })
        .sum();
    assert_eq!(placed, i64::try_from(plan.orders.len()).expect("a few"));
}

proptest! {
    // Each case appends a feed and projects it twice over fresh SQLite files: 32 cases here,
    // more in CI (see `projector_testkit::property`).
    #![proptest_config(projector_testkit::property::config(32))]

    #[test]
    fn any_interleaving_in_batches_of_any_size_gives_the_tables_of_one_event_at_a_time(
        plan in plan()
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(check(plan));
    }
}
