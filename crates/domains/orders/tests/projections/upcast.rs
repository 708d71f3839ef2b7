//! Events stored at schema version 1 (amounts as decimals, an item's price sometimes under
//! `price`) are upcast when read: a read model serving them, and a rebuild of it into a new
//! generation beside the old, hold exactly what the same orders at the current schema make.

use std::collections::HashMap;

use projector_core::{EventAppender, EventFeed, ExpectedVersion, GlobalPosition, NewEvent};
use projector_core::{JsonPayload, RecordedEvent};
use projector_orders::OrderCommand;
use projector_orders::events::amounts::{AMOUNT_FIELDS, with_decimal_amounts};
use projector_orders::projections::{self, CUSTOMERS, DAILY_SALES, ORDER_SUMMARY};
use projector_sql::{SqlProjection, SqlValue};
use projector_testkit::dump::{Dump, masked, read_models};
use serde_json::Value;

use crate::helpers::{Service, at, item, patience, place};

/// Orders whose amounts need their cents: 10.25, a cent, 0.10 + 0.20, a refund, a removal.
fn script() -> Vec<(&'static str, OrderCommand)> {
    vec![
        (
            "u1",
            place(
                "u1",
                "c1",
                vec![item("a", 3, 1025), item("b", 1, 1)],
                at(1, 9),
            ),
        ),
        (
            "u2",
            place(
                "u2",
                "c2",
                vec![item("a", 1, 10), item("c", 1, 20)],
                at(1, 10),
            ),
        ),
        (
            "u2",
            OrderCommand::RemoveItem {
                sku: "c".into(),
                at: at(1, 11),
            },
        ),
        (
            "u1",
            OrderCommand::Ship {
                tracking: "T-1".into(),
                at: at(2, 9),
            },
        ),
        ("u1", OrderCommand::Complete { at: at(3, 9) }),
        (
            "u1",
            OrderCommand::Refund {
                amount: projector_orders::Money::from_cents(1026),
                at: at(4, 9),
            },
        ),
    ]
}

/// `event` as schema version 1 stored it, if it holds an amount: a decimal, and every other
/// added item's price under version 1's other name, `price`.
fn as_version_1(event: &RecordedEvent, nth: usize) -> (NewEvent, bool) {
    let payload = event.data.to_value().expect("json");
    let typed = event.event_type.as_str();
    let holds_amount = AMOUNT_FIELDS.iter().any(|(ty, _)| *ty == typed);
    let (schema_version, payload) = if holds_amount {
        let mut decimal = with_decimal_amounts(typed, event.schema_version, payload);
        if typed == "OrderItemAdded"
            && nth.is_multiple_of(2)
            && let Some(object) = decimal.as_object_mut()
            && let Some(price) = object.remove("unit_price")
        {
            object.insert("price".into(), price);
        }
        (1, decimal)
    } else {
        (event.schema_version, payload)
    };
    let stored = NewEvent::new(
        event.event_type.clone(),
        JsonPayload::encode(&payload).expect("encode"),
    )
    .with_schema_version(schema_version)
    .with_metadata(event.metadata.clone());
    (stored, holds_amount)
}

/// Every table of the order projections, once caught up, with each time the store recorded
/// (as `updated_at` columns hold) named by its event's position instead, so two stores that
/// recorded the same feed at other moments compare equal.
async fn dump(service: &Service) -> Dump {
    let recorded: HashMap<String, String> = service
        .events
        .read_all(GlobalPosition::ZERO, 1_000)
        .await
        .expect("the feed")
        .iter()
        .map(|e| {
            (
                e.recorded_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                format!("recorded at position {}", e.position.get()),
            )
        })
        .collect();
    service
        .projector
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    let all = projections::all();
    let all: Vec<&dyn SqlProjection> = all.iter().map(|p| p.as_ref()).collect();
    masked(
        read_models(service.reads.as_ref(), &all).await,
        |_, value| match value {
            SqlValue::Text(text) if recorded.contains_key(&text) => {
                SqlValue::Text(recorded[&text].clone())
            }
            other => other,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_beside_a_serving_read_model_reads_version_1_events_upcast() {
    let current = Service::start();
    for (order, command) in script() {
        current.run(order, command).await;
    }
    let expected = dump(&current).await;

    let legacy = Service::start();
    let feed = current
        .events
        .read_all(GlobalPosition::ZERO, 1_000)
        .await
        .expect("the current feed");
    let mut old = 0;
    for (nth, event) in feed.iter().enumerate() {
        let (stored, holds_amount) = as_version_1(event, nth);
        old += usize::from(holds_amount);
        legacy
            .events
            .append(&event.stream_id, ExpectedVersion::Any, vec![stored])
            .await
            .expect("append a version 1 event");
    }
    assert!(old >= 6, "only {old} events at version 1");
    let stored: Vec<(String, u32, Value)> = legacy
        .events
        .read_all(GlobalPosition::ZERO, 1_000)
        .await
        .expect("the legacy feed")
        .iter()
        .filter(|e| e.event_type.as_str() == "OrderItemAdded")
        .map(|e| {
            (
                e.event_type.as_str().to_owned(),
                e.schema_version,
                e.data.to_value().expect("json"),
            )
        })
        .collect();
    // Both of version 1's spellings are stored, as decimals.
    for (field, decimal) in [("unit_price", 10.25), ("price", 0.01)] {
        assert!(
            stored
                .iter()
                .any(|(_, v, data)| *v == 1 && data.get(field) == Some(&Value::from(decimal))),
            "{stored:?}"
        );
    }

    // The read models serving the version 1 events already hold the upcast amounts.
    assert_eq!(dump(&legacy).await, expected);
    // A rebuild of each into a new generation beside the serving one reads them upcast too.
    for name in [ORDER_SUMMARY, DAILY_SALES, CUSTOMERS] {
        let serving = legacy
            .projector
            .watch(&name)
            .expect("watch")
            .borrow()
            .generation;
        let generation = legacy
            .projector
            .rebuild_and_swap(&name, patience())
            .await
            .expect("rebuild");
        assert!(
            Some(generation) > serving,
            "{name}: {serving:?} -> {generation:?}"
        );
    }
    assert_eq!(dump(&legacy).await, expected);
}
