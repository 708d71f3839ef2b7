//! The `order_search` projection and its queries over a real index in a temporary directory:
//! partial updates, text in each field, filters, orders, and text the parser cannot read.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use projector_core::{
    Checkpoint, DomainEvent, EventMetadata, EventSet, GlobalPosition, ProjectionTarget,
    RecordedEvent, StreamVersion,
};
use projector_search::{SearchStore, SearchTarget};

use super::{OrderSearch, SearchOrder, search_orders};
use crate::events::{
    OrderCancelled, OrderConfirmed, OrderCreated, OrderEvent, OrderItemAdded, OrderItemRemoved,
    OrderShipped,
};
use crate::money::Money;
use crate::projections::{ORDER_SEARCH, OrderSearchProjection};
use crate::state::OrderStatus;

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
        .single()
        .expect("time")
        + Duration::minutes(minute)
}

/// `event` as the store records it at `position`.
fn recorded(position: u64, event: &OrderEvent) -> RecordedEvent {
    let new = event
        .to_new_event(&EventMetadata::default())
        .expect("encode");
    RecordedEvent {
        event_id: new.event_id,
        position: GlobalPosition::new(position),
        stream_id: OrderEvent::stream(event.order_id()).expect("stream"),
        stream_version: StreamVersion::new(position),
        event_type: new.event_type,
        schema_version: new.schema_version,
        data: new.data,
        metadata: new.metadata,
        recorded_at: at(position as i64),
    }
}

fn created(order: &str, customer: &str, minute: i64) -> OrderEvent {
    OrderEvent::Created(OrderCreated {
        order_id: order.into(),
        customer_id: customer.into(),
        created_at: at(minute),
    })
}

fn added(order: &str, sku: &str, cents: i64) -> OrderEvent {
    OrderEvent::ItemAdded(OrderItemAdded {
        order_id: order.into(),
        sku: sku.into(),
        quantity: 2,
        unit_price: Money::from_cents(cents),
    })
}

/// An index of orders: o1 (red-shirt, shipped with a tracking number), o2 (blue-mug,
/// cancelled with a reason), o3 (red-mug, then its line removed and a green-cap added), each
/// created a minute after the one before, o3 for another customer.
struct Orders {
    _dir: tempfile::TempDir,
    store: SearchStore,
}

impl Orders {
    async fn new() -> Self {
        let dir = projector_testkit::temp_dir();
        let store = SearchStore::open(dir.path().join("search")).expect("store");
        let target = SearchTarget::typed(store.clone(), OrderSearchProjection);
        let generation = target.create_generation().await.expect("generation");
        target.activate(generation, None).await.expect("activate");
        let history = [
            created("o1", "alice", 1),
            added("o1", "RED-SHIRT", 1_500),
            created("o2", "alice", 2),
            added("o2", "BLUE-MUG", 800),
            OrderEvent::Confirmed(OrderConfirmed {
                order_id: "o1".into(),
                confirmed_at: at(3),
            }),
            OrderEvent::Shipped(OrderShipped {
                order_id: "o1".into(),
                tracking: "1Z999AA10123456784".into(),
                shipped_at: at(4),
            }),
            OrderEvent::Cancelled(OrderCancelled {
                order_id: "o2".into(),
                reason: "Damaged in transit".into(),
                cancelled_at: at(5),
            }),
            created("o3", "bob-smith", 6),
            added("o3", "RED-MUG", 700),
            OrderEvent::ItemRemoved(OrderItemRemoved {
                order_id: "o3".into(),
                sku: "RED-MUG".into(),
                quantity: 2,
                unit_price: Money::from_cents(700),
            }),
            added("o3", "GREEN-CAP", 1_200),
        ];
        let events: Vec<RecordedEvent> = history
            .iter()
            .zip(1..)
            .map(|(event, position)| recorded(position, event))
            .collect();
        // In two batches: the second changes documents the first committed.
        let (first, second) = events.split_at(4);
        for (from, batch) in [(0, first), (4, second)] {
            let to = Checkpoint::after(batch.last().expect("events"));
            target
                .apply(
                    generation,
                    Arc::from(batch.to_vec()),
                    GlobalPosition::new(from),
                    to,
                )
                .await
                .expect("batch");
        }
        Self { _dir: dir, store }
    }

    /// The ids `text` finds (with `adjust` applied to the search), in the order found.
    fn find(&self, text: Option<&str>, adjust: impl FnOnce(&mut OrderSearch)) -> Vec<String> {
        let mut search = OrderSearch {
            text: text.map(str::to_owned),
            status: None,
            customer_id: None,
            limit: 20,
            order: SearchOrder::Newest,
        };
        adjust(&mut search);
        let read = self.store.read(&ORDER_SEARCH).expect("read");
        search_orders(&read, &search)
            .expect("search")
            .into_iter()
            .map(|hit| hit.order.order_id)
            .collect()
    }
}

#[tokio::test]
async fn every_field_is_found_by_its_words() {
    let orders = Orders::new().await;
    let none = |_: &mut OrderSearch| {};
    assert_eq!(orders.find(Some("o2"), none), ["o2"], "by order id");
    assert_eq!(
        orders.find(Some("alice"), none),
        ["o2", "o1"],
        "by customer"
    );
    assert_eq!(
        orders.find(Some("bob"), none),
        ["o3"],
        "by a word of the customer's id"
    );
    assert_eq!(orders.find(Some("red"), none), ["o1"], "by a word of a SKU");
    assert_eq!(
        orders.find(Some("blue-mug"), none),
        ["o2"],
        "by a whole SKU"
    );
    assert_eq!(orders.find(Some("green-cap"), none), ["o3"]);
    assert_eq!(
        orders.find(Some("1z999aa10123456784"), none),
        ["o1"],
        "by tracking number, whatever its case"
    );
    assert_eq!(
        orders.find(Some("damaged"), none),
        ["o2"],
        "by a word of the reason"
    );
    assert_eq!(
        orders.find(Some("\"damaged in transit\""), none),
        ["o2"],
        "by the reason's phrase"
    );
    assert_eq!(
        orders.find(Some("mug"), none),
        ["o2"],
        "a removed line is not found"
    );
}

#[tokio::test]
async fn filters_and_orders() {
    let orders = Orders::new().await;
    assert_eq!(
        orders.find(None, |_| {}),
        ["o3", "o2", "o1"],
        "newest first"
    );
    assert_eq!(
        orders.find(None, |s| s.status = Some(OrderStatus::Shipped)),
        ["o1"]
    );
    assert_eq!(
        orders.find(None, |s| s.status = Some(OrderStatus::Pending)),
        ["o3"]
    );
    assert_eq!(
        orders.find(None, |s| s.customer_id = Some("alice".into())),
        ["o2", "o1"]
    );
    assert_eq!(
        orders.find(None, |s| s.customer_id = Some("bob".into())),
        Vec::<String>::new(),
        "the customer filter takes the whole id"
    );
    assert_eq!(
        orders.find(Some("red OR alice"), |s| {
            s.customer_id = Some("alice".into());
            s.status = Some(OrderStatus::Cancelled);
        }),
        ["o2"],
        "the text and every filter"
    );
    assert_eq!(orders.find(None, |s| s.limit = 2), ["o3", "o2"]);
    let by_relevance = orders.find(Some("red shirt alice"), |s| {
        s.order = SearchOrder::Relevance
    });
    assert_eq!(
        by_relevance.first().map(String::as_str),
        Some("o1"),
        "{by_relevance:?}"
    );
}

#[tokio::test]
async fn a_hit_is_the_order_as_its_events_left_it() {
    let orders = Orders::new().await;
    let read = orders.store.read(&ORDER_SEARCH).expect("read");
    let search = OrderSearch {
        text: Some("o1".into()),
        status: None,
        customer_id: None,
        limit: 1,
        order: SearchOrder::Relevance,
    };
    let hits = search_orders(&read, &search).expect("search");
    let [hit] = hits.as_slice() else {
        panic!("one hit: {hits:?}");
    };
    let order = &hit.order;
    assert_eq!(order.status, OrderStatus::Shipped);
    assert_eq!(order.tracking.as_deref(), Some("1Z999AA10123456784"));
    assert_eq!((order.item_count, order.total_cents), (2, 3_000));
    assert_eq!(order.skus.iter().collect::<Vec<_>>(), ["RED-SHIRT"]);
    assert_eq!(order.created_at, at(1));
    assert!(hit.score.is_some_and(|s| s > 0.0));
    let o3 = read
        .get::<crate::projections::OrderDocument>("o3")
        .expect("get")
        .expect("o3");
    assert_eq!(o3.skus.iter().collect::<Vec<_>>(), ["GREEN-CAP"]);
    assert_eq!((o3.item_count, o3.total_cents), (2, 2_400));
}

#[tokio::test]
async fn text_the_parser_cannot_read_is_searched_not_refused() {
    let orders = Orders::new().await;
    for text in [
        "\"damaged in",
        "red AND",
        "(alice",
        "nofield:red",
        "sku:",
        "*",
        ":::",
        "created_at:[1 TO",
        "/re.*/",
        "",
        "\u{1F600} émoji",
    ] {
        let read = orders.store.read(&ORDER_SEARCH).expect("read");
        let search = OrderSearch {
            text: Some(text.to_owned()),
            status: None,
            customer_id: None,
            limit: 5,
            order: SearchOrder::Relevance,
        };
        assert!(
            search_orders(&read, &search).is_ok(),
            "{text:?} was refused"
        );
    }
    assert_eq!(
        orders.find(Some("\"damaged in"), |_| {}),
        ["o2"],
        "an open quote still finds its words"
    );
}
