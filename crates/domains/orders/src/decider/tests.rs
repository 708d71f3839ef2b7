//! Given/when/then tests of the order decider: no store, no I/O.

use chrono::{DateTime, TimeZone, Utc};
use projector_testkit::harness::given;

use super::*;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 17, 0, minute, 0)
        .single()
        .expect("valid time")
}

fn cents(c: i64) -> Money {
    Money::from_cents(c)
}

fn item(sku: &str, quantity: u32, price: i64) -> NewItem {
    NewItem {
        sku: sku.into(),
        quantity,
        unit_price: cents(price),
    }
}

fn created() -> OrderEvent {
    OrderEvent::Created(OrderCreated {
        order_id: "order-1001".into(),
        customer_id: "cust-42".into(),
        created_at: at(0),
    })
}

fn added(sku: &str, quantity: u32, price: i64) -> OrderEvent {
    OrderEvent::ItemAdded(OrderItemAdded {
        order_id: "order-1001".into(),
        sku: sku.into(),
        quantity,
        unit_price: cents(price),
    })
}

fn confirmed() -> OrderEvent {
    OrderEvent::Confirmed(OrderConfirmed {
        order_id: "order-1001".into(),
        confirmed_at: at(0),
    })
}

fn shipped() -> OrderEvent {
    OrderEvent::Shipped(OrderShipped {
        order_id: "order-1001".into(),
        tracking: "UPS123".into(),
        shipped_at: at(5),
    })
}

fn completed() -> OrderEvent {
    OrderEvent::Completed(OrderCompleted {
        order_id: "order-1001".into(),
        completed_at: at(9),
        total_amount: cents(4550),
        item_count: 2,
    })
}

/// The README's order: two items totalling 45.5, confirmed.
fn placed() -> Vec<OrderEvent> {
    vec![
        created(),
        added("sku-1", 1, 2000),
        added("sku-2", 1, 2550),
        confirmed(),
    ]
}

#[test]
fn placing_an_order_records_created_items_and_confirmed() {
    given(&OrderDecider, [])
        .when(&OrderCommand::Place {
            order_id: "order-1001".into(),
            customer_id: "cust-42".into(),
            items: vec![item("sku-1", 1, 2000), item("sku-2", 1, 2550)],
            at: at(0),
        })
        .then(placed());
}

#[test]
fn placing_twice_is_refused() {
    given(&OrderDecider, placed())
        .when(&OrderCommand::Place {
            order_id: "order-1001".into(),
            customer_id: "cust-42".into(),
            items: vec![item("sku-1", 1, 100)],
            at: at(1),
        })
        .then_refused(|e| *e == OrderError::AlreadyExists);
}

#[test]
fn an_order_needs_distinct_items_with_quantities() {
    let place = |items| OrderCommand::Place {
        order_id: "o".into(),
        customer_id: "c".into(),
        items,
        at: at(0),
    };
    given(&OrderDecider, [])
        .when(&place(vec![]))
        .then_refused(|e| matches!(e, OrderError::Invalid(_)));
    given(&OrderDecider, [])
        .when(&place(vec![item("a", 1, 1), item("a", 2, 1)]))
        .then_refused(|e| matches!(e, OrderError::Invalid(m) if m.contains("listed twice")));
    given(&OrderDecider, [])
        .when(&place(vec![item("a", 0, 1)]))
        .then_refused(|e| matches!(e, OrderError::Invalid(m) if m.contains("at least 1")));
}

#[test]
fn commands_on_a_missing_order_are_not_found() {
    given(&OrderDecider, [])
        .when(&OrderCommand::Complete { at: at(1) })
        .then_refused(|e| *e == OrderError::NotFound);
}

#[test]
fn items_can_change_until_shipping() {
    given(&OrderDecider, placed())
        .when(&OrderCommand::AddItem {
            item: item("sku-1", 2, 2000),
            at: at(1),
        })
        .then([added("sku-1", 2, 2000)]);
    given(&OrderDecider, placed())
        .when(&OrderCommand::AddItem {
            item: item("sku-1", 1, 1999),
            at: at(1),
        })
        .then_refused(|e| matches!(e, OrderError::PriceMismatch { .. }));
    given(&OrderDecider, placed())
        .when(&OrderCommand::RemoveItem {
            sku: "sku-2".into(),
            at: at(1),
        })
        .then([OrderEvent::ItemRemoved(OrderItemRemoved {
            order_id: "order-1001".into(),
            sku: "sku-2".into(),
            quantity: 1,
            unit_price: cents(2550),
        })]);
    given(&OrderDecider, placed())
        .when(&OrderCommand::RemoveItem {
            sku: "nope".into(),
            at: at(1),
        })
        .then_refused(|e| matches!(e, OrderError::NoSuchItem { .. }));
    let mut history = placed();
    history.push(shipped());
    given(&OrderDecider, history)
        .when(&OrderCommand::AddItem {
            item: item("sku-3", 1, 100),
            at: at(6),
        })
        .then_refused(|e| {
            *e == OrderError::InvalidTransition {
                action: "add items to",
                status: OrderStatus::Shipped,
            }
        });
}

#[test]
fn the_lifecycle_runs_confirmed_shipped_completed() {
    given(&OrderDecider, placed())
        .when(&OrderCommand::Ship {
            tracking: "UPS123".into(),
            at: at(5),
        })
        .then([shipped()]);
    let mut history = placed();
    history.push(shipped());
    given(&OrderDecider, history.clone())
        .when(&OrderCommand::Complete { at: at(9) })
        .then([completed()]);
    given(&OrderDecider, placed())
        .when(&OrderCommand::Complete { at: at(9) })
        .then_refused(|e| {
            matches!(
                e,
                OrderError::InvalidTransition {
                    action: "complete",
                    ..
                }
            )
        });
    given(&OrderDecider, history)
        .when(&OrderCommand::Cancel {
            reason: "late".into(),
            at: at(6),
        })
        .then_refused(|e| {
            matches!(
                e,
                OrderError::InvalidTransition {
                    action: "cancel",
                    ..
                }
            )
        });
}

#[test]
fn a_cancelled_order_cannot_ship() {
    let mut history = placed();
    history.push(OrderEvent::Cancelled(OrderCancelled {
        order_id: "order-1001".into(),
        reason: "changed my mind".into(),
        cancelled_at: at(2),
    }));
    given(&OrderDecider, history)
        .when(&OrderCommand::Ship {
            tracking: "X".into(),
            at: at(3),
        })
        .then_refused(|e| {
            *e == OrderError::InvalidTransition {
                action: "ship",
                status: OrderStatus::Cancelled,
            }
        });
}

#[test]
fn an_empty_order_cannot_ship() {
    given(&OrderDecider, [created(), confirmed()])
        .when(&OrderCommand::Ship {
            tracking: "X".into(),
            at: at(3),
        })
        .then_refused(|e| *e == OrderError::Empty);
}

#[test]
fn refunds_are_capped_at_what_was_paid() {
    let mut history = placed();
    history.extend([shipped(), completed()]);
    let refund = |c| OrderCommand::Refund {
        amount: cents(c),
        at: at(30),
    };
    let refunded = |c| {
        OrderEvent::Refunded(OrderRefunded {
            order_id: "order-1001".into(),
            amount: cents(c),
            refunded_at: at(30),
            original_completed_at: at(9),
        })
    };
    given(&OrderDecider, history.clone())
        .when(&refund(1000))
        .then([refunded(1000)]);
    history.push(refunded(1000));
    given(&OrderDecider, history.clone())
        .when(&refund(3551))
        .then_refused(|e| {
            *e == OrderError::RefundExceedsPaid {
                requested: cents(3551),
                refundable: cents(3550),
            }
        });
    given(&OrderDecider, history.clone())
        .when(&refund(3550))
        .then([refunded(3550)]);
    given(&OrderDecider, history)
        .when(&refund(0))
        .then_refused(|e| matches!(e, OrderError::Invalid(_)));
    given(&OrderDecider, placed())
        .when(&refund(100))
        .then_refused(|e| {
            matches!(
                e,
                OrderError::InvalidTransition {
                    action: "refund",
                    ..
                }
            )
        });
}

mod limits;
