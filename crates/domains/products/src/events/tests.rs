//! The stored form of product events: type names, category, schema versions and payloads, which
//! stay readable for as long as the store holds them.

use chrono::TimeZone;
use projector_core::{
    EventMetadata, EventSet, EventType, GlobalPosition, JsonPayload, RecordedEvent, StreamId,
    StreamVersion,
};

use super::*;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, minute, 0)
        .single()
        .expect("valid time")
}

fn price(cents: i64) -> Price {
    Price::from_cents(cents).expect("a price")
}

/// One event of each type and its payload as stored.
fn stored() -> Vec<(ProductEvent, &'static str, &'static str)> {
    vec![
        (
            ProductEvent::Created(ProductCreated {
                product_id: "lamp-1".into(),
                name: "Desk lamp".into(),
                description: "Warm light.\nTwo settings.".into(),
                category: "lighting".into(),
                price_cents: price(2599),
                tags: vec!["led".into(), "desk".into()],
                created_at: at(0),
            }),
            "ProductCreated",
            r#"{"product_id":"lamp-1","name":"Desk lamp","description":"Warm light.\nTwo settings.","category":"lighting","price_cents":2599,"tags":["led","desk"],"created_at":"2026-06-01T09:00:00Z"}"#,
        ),
        (
            ProductEvent::Updated(ProductUpdated {
                product_id: "lamp-1".into(),
                name: Some("Desk lamp XL".into()),
                description: None,
                category: None,
                tags: Some(vec![]),
                updated_at: at(1),
            }),
            "ProductUpdated",
            r#"{"product_id":"lamp-1","name":"Desk lamp XL","tags":[],"updated_at":"2026-06-01T09:01:00Z"}"#,
        ),
        (
            ProductEvent::PriceChanged(ProductPriceChanged {
                product_id: "lamp-1".into(),
                from_cents: price(2599),
                to_cents: price(1999),
                changed_at: at(2),
            }),
            "ProductPriceChanged",
            r#"{"product_id":"lamp-1","from_cents":2599,"to_cents":1999,"changed_at":"2026-06-01T09:02:00Z"}"#,
        ),
        (
            ProductEvent::Deleted(ProductDeleted {
                product_id: "lamp-1".into(),
                deleted_at: at(3),
            }),
            "ProductDeleted",
            r#"{"product_id":"lamp-1","deleted_at":"2026-06-01T09:03:00Z"}"#,
        ),
    ]
}

#[test]
fn events_are_stored_under_their_names_in_the_product_category() {
    assert_eq!(ProductEvent::CATEGORY, Some("product"));
    let types: Vec<(&str, u32)> = ProductEvent::TYPES
        .iter()
        .map(|t| (t.name, t.schema_version))
        .collect();
    assert_eq!(
        types,
        [
            ("ProductCreated", 1),
            ("ProductUpdated", 1),
            ("ProductPriceChanged", 1),
            ("ProductDeleted", 1)
        ]
    );
    for (event, name, payload) in stored() {
        assert_eq!(event.event_type().as_str(), name);
        assert_eq!(event.schema_version(), 1, "{name}");
        assert_eq!(event.product_id(), "lamp-1", "{name}");
        assert_eq!(event.encode().expect("encodes").as_str(), payload, "{name}");
    }
}

#[test]
fn stored_payloads_decode_to_the_same_events() {
    for (event, name, payload) in stored() {
        let recorded = RecordedEvent {
            event_id: Default::default(),
            position: GlobalPosition::new(1),
            stream_id: StreamId::from_static("product-lamp-1"),
            stream_version: StreamVersion::new(1),
            event_type: EventType::parse(name).expect("a type"),
            schema_version: 1,
            data: JsonPayload::from_json(payload).expect("json"),
            metadata: EventMetadata::default(),
            recorded_at: at(0),
        };
        assert_eq!(
            ProductEvent::decode(&recorded).expect("decodes"),
            event,
            "{name}"
        );
    }
}
