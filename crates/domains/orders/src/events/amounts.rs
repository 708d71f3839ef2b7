//! Amounts in stored order events. Schema version 1 kept them as decimals (`10.25`); version 2
//! keeps whole cents (`1025`), so no stored amount passes through a binary fraction. Stored
//! events are never rewritten: the upcasters read version 1 as version 2, and the HTTP edge
//! shows either as decimals.

use chrono::{DateTime, Utc};
use projector_core::{JsonPayload, PayloadUpcaster, Upcasters};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{OrderCompleted, OrderItemAdded, OrderItemRemoved, OrderRefunded};
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
///
/// Each step decodes a struct of version 1 and encodes the event as it is now, without a JSON
/// tree in between: `OrderItemAdded` v1 is most of the benchmark workload's history, so this
/// runs for half the events a rebuild reads. Fields version 1 did not define are dropped, as
/// decoding ignores them anyway.
pub static UPCASTERS: Upcasters = Upcasters::from_payloads(&[
    PayloadUpcaster {
        event_type: "OrderItemAdded",
        from_version: 1,
        upcast: |v1| upcast::<ItemAddedV1, _>(v1, ItemAddedV1::into_current),
    },
    PayloadUpcaster {
        event_type: "OrderItemRemoved",
        from_version: 1,
        upcast: |v1| upcast::<ItemRemovedV1, _>(v1, ItemRemovedV1::into_current),
    },
    PayloadUpcaster {
        event_type: "OrderCompleted",
        from_version: 1,
        upcast: |v1| upcast::<CompletedV1, _>(v1, CompletedV1::into_current),
    },
    PayloadUpcaster {
        event_type: "OrderRefunded",
        from_version: 1,
        upcast: |v1| upcast::<RefundedV1, _>(v1, RefundedV1::into_current),
    },
]);

/// Decodes `payload` as `V1`, turns it into the current struct and encodes that.
fn upcast<V1: DeserializeOwned, Current: Serialize>(
    payload: &JsonPayload,
    into_current: fn(V1) -> Result<Current, String>,
) -> Result<JsonPayload, String> {
    let v1: V1 = payload.decode().map_err(|e| e.to_string())?;
    JsonPayload::encode(&into_current(v1)?).map_err(|e| e.to_string())
}

/// `decimal`, an amount of version 1, as money; a refusal names `field`.
fn cents(field: &str, decimal: f64) -> Result<Money, String> {
    Money::from_decimal(decimal).map_err(|e| format!("{field}: {e}"))
}

/// `OrderItemAdded` v1: the price a decimal, also written under the benchmark workload's name
/// for it, `price` (`unit_price` wins when both are there).
#[derive(Deserialize)]
struct ItemAddedV1 {
    order_id: String,
    sku: String,
    quantity: u32,
    unit_price: Option<f64>,
    price: Option<f64>,
}

impl ItemAddedV1 {
    fn into_current(self) -> Result<OrderItemAdded, String> {
        Ok(OrderItemAdded {
            order_id: self.order_id,
            sku: self.sku,
            quantity: self.quantity,
            unit_price: cents(
                "unit_price",
                self.unit_price.or(self.price).ok_or("no unit_price")?,
            )?,
        })
    }
}

/// `OrderItemRemoved` v1: the price a decimal.
#[derive(Deserialize)]
struct ItemRemovedV1 {
    order_id: String,
    sku: String,
    quantity: u32,
    unit_price: f64,
}

impl ItemRemovedV1 {
    fn into_current(self) -> Result<OrderItemRemoved, String> {
        Ok(OrderItemRemoved {
            order_id: self.order_id,
            sku: self.sku,
            quantity: self.quantity,
            unit_price: cents("unit_price", self.unit_price)?,
        })
    }
}

/// `OrderCompleted` v1: the total a decimal.
#[derive(Deserialize)]
struct CompletedV1 {
    order_id: String,
    completed_at: DateTime<Utc>,
    total_amount: f64,
    item_count: u32,
}

impl CompletedV1 {
    fn into_current(self) -> Result<OrderCompleted, String> {
        Ok(OrderCompleted {
            order_id: self.order_id,
            completed_at: self.completed_at,
            total_amount: cents("total_amount", self.total_amount)?,
            item_count: self.item_count,
        })
    }
}

/// `OrderRefunded` v1: the amount a decimal.
#[derive(Deserialize)]
struct RefundedV1 {
    order_id: String,
    amount: f64,
    refunded_at: DateTime<Utc>,
    original_completed_at: DateTime<Utc>,
}

impl RefundedV1 {
    fn into_current(self) -> Result<OrderRefunded, String> {
        Ok(OrderRefunded {
            order_id: self.order_id,
            amount: cents("amount", self.amount)?,
            refunded_at: self.refunded_at,
            original_completed_at: self.original_completed_at,
        })
    }
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
