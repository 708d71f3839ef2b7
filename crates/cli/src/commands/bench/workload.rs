//! The `orders-v1` workload (docs/benchmarks.md): order `i` is stream `order-{i}` with
//! four events appended together to a new stream.
//!
//! The workload calls the item event `ItemAdded`; projector's order service calls it
//! `OrderItemAdded` and reads the workload's `price` field as its `unit_price`, so the same
//! `order_summary` projection that serves the API runs the benchmark unchanged.

use projector_core::{EventType, JsonPayload, NewEvent, StreamId};
use projector_orders::events::types;

/// The stream of order `i`.
pub(crate) fn stream(i: u64) -> StreamId {
    StreamId::parse(format!("order-{i}")).unwrap_or_else(|_| StreamId::from_static("order-invalid"))
}

/// How many customers the workload's orders belong to.
pub(crate) const CUSTOMERS: u64 = 1000;

/// The customer of order `i` (and the name of customer `i`, for `i` below [`CUSTOMERS`]).
pub(crate) fn customer(i: u64) -> String {
    format!("cust-{}", i % CUSTOMERS)
}

/// The four events of order `i`, as (type, JSON payload).
pub(crate) fn payloads(i: u64) -> [(EventType, String); 4] {
    let order = format!("order-{i}");
    [
        (
            types::ORDER_CREATED,
            format!(
                r#"{{"order_id":"{order}","customer_id":"{}","created_at":"2026-01-01T00:00:00Z"}}"#,
                customer(i)
            ),
        ),
        (
            types::ORDER_ITEM_ADDED,
            format!(
                r#"{{"order_id":"{order}","sku":"sku-{}","quantity":{},"price":10.25}}"#,
                i % 97,
                1 + i % 3
            ),
        ),
        (
            types::ORDER_ITEM_ADDED,
            format!(
                r#"{{"order_id":"{order}","sku":"sku-{}","quantity":2,"price":12.50}}"#,
                (i + 1) % 97
            ),
        ),
        (
            types::ORDER_CONFIRMED,
            format!(r#"{{"order_id":"{order}","confirmed_at":"2026-01-01T00:05:00Z"}}"#),
        ),
    ]
}

/// The four events of order `i`, ready to append.
pub(crate) fn events(i: u64) -> Vec<NewEvent> {
    payloads(i)
        .into_iter()
        .filter_map(|(event_type, json)| {
            JsonPayload::from_json(json)
                .ok()
                .map(|data| NewEvent::new(event_type, data))
        })
        .collect()
}

/// What the workload's check query must return for `orders` orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Expected {
    pub(crate) orders: i64,
    pub(crate) items: i64,
    pub(crate) total_cents: i64,
}

impl Expected {
    pub(crate) fn for_orders(orders: u64) -> Self {
        let mut items = 0i64;
        let mut total_cents = 0i64;
        for i in 0..orders {
            let first = 1 + (i % 3) as i64;
            items += first + 2;
            total_cents += first * 1025 + 2500;
        }
        Self {
            orders: orders as i64,
            items,
            total_cents,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_valid_and_expected_sums_match_the_formula() {
        assert_eq!(events(7).len(), 4);
        let e = Expected::for_orders(3);
        // i = 0, 1, 2: quantities 1, 2, 3 plus 2 each.
        assert_eq!(e.items, 1 + 2 + 3 + 6);
        assert_eq!(e.total_cents, (1 + 2 + 3) * 1025 + 3 * 2500);
    }
}
