//! Amounts in stored order events. Schema version 1 kept them as decimals (`10.25`); version 2
//! keeps whole cents (`1025`), so no stored amount passes through a binary fraction. Stored
//! events are never rewritten: the upcasters read version 1 as version 2, and the HTTP edge
//! shows either as decimals.

use projector_core::{Upcaster, Upcasters};
use serde_json::Value;

use crate::money::Money;

/// The schema version whose amounts are whole cents.
pub const AMOUNTS_IN_CENTS: u32 = 2;

/// Each event type that holds an amount, and the field that holds it.
pub const AMOUNT_FIELDS: [(&str, &str); 4] = [
    ("OrderItemAdded", "unit_price"),
    ("OrderItemRemoved", "unit_price"),
    ("OrderCompleted", "total_amount"),
    ("OrderRefunded", "amount"),
];

/// How stored order events of older schemas are brought to the current one.
pub static UPCASTERS: Upcasters = Upcasters::new(&[
    Upcaster {
        event_type: "OrderItemAdded",
        from_version: 1,
        upcast: item_added_v1_to_v2,
    },
    Upcaster {
        event_type: "OrderItemRemoved",
        from_version: 1,
        upcast: |v1| decimal_to_cents(v1, "unit_price"),
    },
    Upcaster {
        event_type: "OrderCompleted",
        from_version: 1,
        upcast: |v1| decimal_to_cents(v1, "total_amount"),
    },
    Upcaster {
        event_type: "OrderRefunded",
        from_version: 1,
        upcast: |v1| decimal_to_cents(v1, "amount"),
    },
]);

/// v1 was also written with the benchmark workload's name for the price, `price`.
fn item_added_v1_to_v2(mut v1: Value) -> Result<Value, String> {
    let object = v1
        .as_object_mut()
        .ok_or("OrderItemAdded v1 is not an object")?;
    if let Some(price) = object.remove("price") {
        object.entry("unit_price").or_insert(price);
    }
    decimal_to_cents(v1, "unit_price")
}

/// `field` of `payload`, a decimal read as v1 read it, as whole cents.
fn decimal_to_cents(mut payload: Value, field: &str) -> Result<Value, String> {
    let object = payload
        .as_object_mut()
        .ok_or("the payload is not an object")?;
    let decimal = object.remove(field).ok_or_else(|| format!("no {field}"))?;
    let money: Money = serde_json::from_value(decimal).map_err(|e| format!("{field}: {e}"))?;
    object.insert(field.to_owned(), money.cents().into());
    Ok(payload)
}

/// A stored payload of `event_type` at `schema_version` with its amount as a decimal, as the
/// HTTP API shows every amount, whichever schema stored it.
pub fn with_decimal_amounts(event_type: &str, schema_version: u32, mut payload: Value) -> Value {
    if schema_version < AMOUNTS_IN_CENTS {
        return payload;
    }
    let field = AMOUNT_FIELDS.iter().find(|(ty, _)| *ty == event_type);
    if let (Some((_, field)), Some(object)) = (field, payload.as_object_mut())
        && let Some(cents) = object.get(*field).and_then(Value::as_i64)
        && let Ok(decimal) = serde_json::to_value(Money::from_cents(cents))
    {
        object.insert((*field).to_owned(), decimal);
    }
    payload
}
