//! The derived codec against what the event store already holds: the type names written
//! before `#[derive(DomainEvent)]`, payloads recorded at schema version 1 (literal JSON with
//! decimal amounts, appended to a real SQLite store) decoding to the same events, and those
//! events written at the current versions, amounts in whole cents.

use chrono::{DateTime, TimeZone, Utc};
use projector_core::{
    DomainEvent, EventAppender, EventSet, EventType, ExpectedVersion, JsonPayload, NewEvent,
    ReadDirection, RecordedEvent, StreamId, StreamReader, StreamVersion,
};

use super::*;

#[test]
fn the_derived_types_are_the_stored_ones() {
    let derived: Vec<(&str, u32)> = OrderEvent::TYPES
        .iter()
        .map(|t| (t.name, t.schema_version))
        .collect();
    // The events that hold an amount keep it in cents from schema version 2.
    let version = |name: &str| {
        let holds_amount = amounts::AMOUNT_FIELDS.iter().any(|(ty, _)| *ty == name);
        if holds_amount {
            amounts::AMOUNTS_IN_CENTS
        } else {
            1
        }
    };
    let stored: Vec<(&str, u32)> = types::ALL
        .iter()
        .map(|name| (*name, version(name)))
        .collect();
    assert_eq!(derived, stored);
    assert_eq!(OrderEvent::CATEGORY, Some("order"));
    for (event, payload) in recorded_before().iter().zip(CURRENT) {
        let ty = event.event_type();
        assert!(types::ALL.contains(&ty.as_str()), "{ty} is a stored type");
        assert_eq!(event.schema_version(), version(ty.as_str()), "{ty}");
        assert_eq!(event.encode().expect("encodes").as_str(), payload, "{ty}");
    }
    assert_eq!(
        crate::order_stream("1001").expect("stream"),
        OrderEvent::stream("1001").expect("stream")
    );
}

/// Payloads as the event store holds them, written before the derive: one of each type.
const PAYLOADS: [(&str, &str); 8] = [
    (
        "OrderCreated",
        r#"{"order_id":"1001","customer_id":"cust-42","created_at":"2026-04-01T09:00:00.123456Z"}"#,
    ),
    (
        "OrderItemAdded",
        r#"{"order_id":"1001","sku":"book","quantity":2,"unit_price":10.25}"#,
    ),
    (
        "OrderItemRemoved",
        r#"{"order_id":"1001","sku":"pen","quantity":1,"unit_price":0.3}"#,
    ),
    (
        "OrderConfirmed",
        r#"{"order_id":"1001","confirmed_at":"2026-04-01T09:00:01Z"}"#,
    ),
    (
        "OrderShipped",
        r#"{"order_id":"1001","tracking":"TRK-1","shipped_at":"2026-04-02T10:00:00Z"}"#,
    ),
    (
        "OrderCompleted",
        r#"{"order_id":"1001","completed_at":"2026-04-03T11:00:00Z","total_amount":20.5,"item_count":2}"#,
    ),
    (
        "OrderRefunded",
        r#"{"order_id":"1001","amount":5.25,"refunded_at":"2026-04-04T12:00:00Z","original_completed_at":"2026-04-03T11:00:00Z"}"#,
    ),
    (
        "OrderCancelled",
        r#"{"order_id":"1001","reason":"changed my mind","cancelled_at":"2026-04-05T13:00:00Z"}"#,
    ),
];

/// [`PAYLOADS`] as they are written now: amounts in whole cents.
const CURRENT: [&str; 8] = [
    r#"{"order_id":"1001","customer_id":"cust-42","created_at":"2026-04-01T09:00:00.123456Z"}"#,
    r#"{"order_id":"1001","sku":"book","quantity":2,"unit_price":1025}"#,
    r#"{"order_id":"1001","sku":"pen","quantity":1,"unit_price":30}"#,
    r#"{"order_id":"1001","confirmed_at":"2026-04-01T09:00:01Z"}"#,
    r#"{"order_id":"1001","tracking":"TRK-1","shipped_at":"2026-04-02T10:00:00Z"}"#,
    r#"{"order_id":"1001","completed_at":"2026-04-03T11:00:00Z","total_amount":2050,"item_count":2}"#,
    r#"{"order_id":"1001","amount":525,"refunded_at":"2026-04-04T12:00:00Z","original_completed_at":"2026-04-03T11:00:00Z"}"#,
    r#"{"order_id":"1001","reason":"changed my mind","cancelled_at":"2026-04-05T13:00:00Z"}"#,
];

/// What [`PAYLOADS`] decode to.
fn recorded_before() -> Vec<OrderEvent> {
    let order_id = || "1001".to_owned();
    vec![
        OrderEvent::Created(OrderCreated {
            order_id: order_id(),
            customer_id: "cust-42".into(),
            created_at: at(1, 9, 0) + chrono::Duration::microseconds(123_456),
        }),
        OrderEvent::ItemAdded(OrderItemAdded {
            order_id: order_id(),
            sku: "book".into(),
            quantity: 2,
            unit_price: Money::from_cents(1025),
        }),
        OrderEvent::ItemRemoved(OrderItemRemoved {
            order_id: order_id(),
            sku: "pen".into(),
            quantity: 1,
            unit_price: Money::from_cents(30),
        }),
        OrderEvent::Confirmed(OrderConfirmed {
            order_id: order_id(),
            confirmed_at: at(1, 9, 1),
        }),
        OrderEvent::Shipped(OrderShipped {
            order_id: order_id(),
            tracking: "TRK-1".into(),
            shipped_at: at(2, 10, 0),
        }),
        OrderEvent::Completed(OrderCompleted {
            order_id: order_id(),
            completed_at: at(3, 11, 0),
            total_amount: Money::from_cents(2050),
            item_count: 2,
        }),
        OrderEvent::Refunded(OrderRefunded {
            order_id: order_id(),
            amount: Money::from_cents(525),
            refunded_at: at(4, 12, 0),
            original_completed_at: at(3, 11, 0),
        }),
        OrderEvent::Cancelled(OrderCancelled {
            order_id: order_id(),
            reason: "changed my mind".into(),
            cancelled_at: at(5, 13, 0),
        }),
    ]
}

fn at(day: u32, hour: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, day, hour, 0, second)
        .single()
        .expect("valid time")
}

/// Appends `payloads` to `stream` as they were stored (type name, schema version 1, the
/// JSON text) and reads them back from the store.
async fn record(stream: &str, payloads: &[(&str, &str)]) -> Vec<RecordedEvent> {
    let dir = projector_testkit::temp_dir();
    let store = projector_testkit::sqlite::event_store(dir.path());
    let stream = StreamId::parse(stream).expect("stream");
    let events = payloads
        .iter()
        .map(|(ty, json)| {
            NewEvent::new(
                EventType::parse(*ty).expect("type"),
                JsonPayload::from_json(*json).expect("json"),
            )
            .with_schema_version(1)
        })
        .collect();
    store
        .append(&stream, ExpectedVersion::Any, events)
        .await
        .expect("append");
    store
        .read_stream(&stream, StreamVersion::new(1), ReadDirection::Forwards, 100)
        .await
        .expect("read")
}

#[tokio::test]
async fn events_recorded_at_version_1_decode_and_show_their_decimals_at_the_http_edge() {
    let recorded = record("order-1001", &PAYLOADS).await;
    assert_eq!(recorded.len(), PAYLOADS.len());
    let written = recorded_before().into_iter().zip(PAYLOADS).zip(CURRENT);
    for (stored, ((expected, (ty, v1)), current)) in recorded.iter().zip(written) {
        let decoded = OrderEvent::decode(stored).unwrap_or_else(|e| panic!("{ty}: {e}"));
        assert_eq!(decoded, expected, "{ty}");
        assert_eq!(decoded.event_type().as_str(), ty);
        // Either version reads as the decimals v1 stored, at the HTTP edge.
        let shown = |version, json: &str| {
            let payload = serde_json::from_str(json).expect("json");
            amounts::with_decimal_amounts(ty, version, payload)
        };
        let v1_value: serde_json::Value = serde_json::from_str(v1).expect("json");
        assert_eq!(shown(1, v1), v1_value, "{ty}");
        assert_eq!(shown(decoded.schema_version(), current), v1_value, "{ty}");
    }
}

#[tokio::test]
async fn an_amount_of_version_1_finer_than_a_cent_is_refused() {
    let recorded = record(
        "order-8",
        &[(
            "OrderRefunded",
            r#"{"order_id":"8","amount":0.001,"refunded_at":"2026-04-04T12:00:00Z","original_completed_at":"2026-04-03T11:00:00Z"}"#,
        )],
    )
    .await;
    let error = OrderEvent::decode(&recorded[0]).expect_err("finer than a cent");
    assert!(error.to_string().contains("amount"), "{error}");
}

#[tokio::test]
async fn an_item_added_with_the_benchmark_workloads_price_field_decodes() {
    let recorded = record(
        "order-7",
        &[(
            "OrderItemAdded",
            r#"{"order_id":"7","sku":"sku-3","quantity":3,"price":19.99}"#,
        )],
    )
    .await;
    let OrderEvent::ItemAdded(added) = OrderEvent::decode(&recorded[0]).expect("decodes") else {
        panic!("not an OrderItemAdded");
    };
    assert_eq!(added.unit_price, Money::from_cents(1999));
    assert_eq!(added.quantity, 3);
}

#[tokio::test]
async fn an_item_added_of_version_1_with_both_price_names_reads_unit_price_and_without_either_is_refused()
 {
    let recorded = record(
        "order-9",
        &[
            (
                "OrderItemAdded",
                r#"{"order_id":"9","sku":"a","quantity":1,"price":1.5,"unit_price":2.25,"note":"x"}"#,
            ),
            ("OrderItemAdded", r#"{"order_id":"9","sku":"b","quantity":1}"#),
        ],
    )
    .await;
    let OrderEvent::ItemAdded(added) = OrderEvent::decode(&recorded[0]).expect("decodes") else {
        panic!("not an OrderItemAdded");
    };
    assert_eq!(added.unit_price, Money::from_cents(225));
    let refused = OrderEvent::decode(&recorded[1]).expect_err("no price");
    assert!(
        refused
            .to_string()
            .contains("upcasting from v1: no unit_price"),
        "{refused}"
    );
}

#[tokio::test]
async fn an_order_event_in_another_categorys_stream_is_refused() {
    let recorded = record("customer-42", &PAYLOADS[..1]).await;
    let error = OrderEvent::decode(&recorded[0]).expect_err("not an order stream");
    assert!(
        error.to_string().contains("is not in category order"),
        "{error}"
    );
}
