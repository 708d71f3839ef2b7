use chrono::{DateTime, Duration, TimeZone, Utc};

use super::OrderView;
use crate::events::{
    OrderCancelled, OrderCompleted, OrderConfirmed, OrderCreated, OrderEvent, OrderItemAdded,
    OrderItemRemoved, OrderRefunded, OrderShipped,
};
use crate::money::Money;
use crate::state::OrderStatus;
use crate::sum::OutOfRange;

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
        .single()
        .expect("time")
        + Duration::minutes(minute)
}

fn created() -> OrderEvent {
    OrderEvent::Created(OrderCreated {
        order_id: "o-1".into(),
        customer_id: "c-1".into(),
        created_at: at(0),
    })
}

fn added(sku: &str, quantity: u32, cents: i64) -> OrderEvent {
    OrderEvent::ItemAdded(OrderItemAdded {
        order_id: "o-1".into(),
        sku: sku.into(),
        quantity,
        unit_price: Money::from_cents(cents),
    })
}

fn fold(events: &[OrderEvent]) -> Option<OrderView> {
    OrderView::fold(events.iter().zip(0..).map(|(e, minute)| (e, at(minute)))).expect("in range")
}

#[test]
fn a_sum_past_what_a_column_holds_is_an_error_not_a_clamp() {
    let huge = added("a", 10_000, i64::MAX / 10_000);
    let folded = OrderView::fold([(&created(), at(0)), (&huge, at(1)), (&huge, at(2))]);
    assert_eq!(folded, Err(OutOfRange("the order total")));
    let removed = OrderEvent::ItemRemoved(OrderItemRemoved {
        order_id: "o-1".into(),
        sku: "a".into(),
        quantity: 2,
        unit_price: Money::from_cents(100),
    });
    let folded = OrderView::fold([(&created(), at(0)), (&removed, at(1))]);
    assert_eq!(folded, Err(OutOfRange("the item count")));
}

#[test]
fn an_order_is_nothing_until_it_is_created() {
    assert_eq!(fold(&[added("a", 1, 100)]), None);
    let view = fold(&[added("a", 1, 100), created()]).expect("created");
    assert_eq!((view.item_count, view.total), (0, Money::ZERO));
}

#[test]
fn items_add_up_and_come_off() {
    let view = fold(&[
        created(),
        added("a", 2, 1_050),
        added("b", 1, 999),
        OrderEvent::ItemRemoved(OrderItemRemoved {
            order_id: "o-1".into(),
            sku: "a".into(),
            quantity: 2,
            unit_price: Money::from_cents(1_050),
        }),
    ])
    .expect("created");
    assert_eq!(view.item_count, 1);
    assert_eq!(view.total, Money::from_cents(999));
    assert_eq!(view.status, OrderStatus::Pending);
    assert_eq!(view.created_at, at(0));
    assert_eq!(view.updated_at, at(3), "the last event's time");
}

#[test]
fn the_life_of_an_order_shows_in_its_view() {
    let view = fold(&[
        created(),
        added("a", 1, 4_550),
        OrderEvent::Confirmed(OrderConfirmed {
            order_id: "o-1".into(),
            confirmed_at: at(2),
        }),
        OrderEvent::Shipped(OrderShipped {
            order_id: "o-1".into(),
            tracking: "TRK-1".into(),
            shipped_at: at(3),
        }),
        OrderEvent::Completed(OrderCompleted {
            order_id: "o-1".into(),
            completed_at: at(4),
            total_amount: Money::from_cents(4_550),
            item_count: 1,
        }),
        OrderEvent::Refunded(OrderRefunded {
            order_id: "o-1".into(),
            amount: Money::from_cents(1_000),
            refunded_at: at(5),
            original_completed_at: at(4),
        }),
    ])
    .expect("created");
    assert_eq!(view.status, OrderStatus::Completed);
    assert_eq!(view.tracking.as_deref(), Some("TRK-1"));
    assert_eq!(view.shipped_at, Some(at(3)));
    assert_eq!(view.completed_at, Some(at(4)));
    assert_eq!(view.refunded, Money::from_cents(1_000));
    assert_eq!(
        view.total,
        Money::from_cents(4_550),
        "a refund leaves the total"
    );
    assert_eq!(view.updated_at, at(5), "a refund is a change of the order");
}

#[test]
fn a_cancellation_keeps_its_reason() {
    let view = fold(&[
        created(),
        OrderEvent::Cancelled(OrderCancelled {
            order_id: "o-1".into(),
            reason: "changed my mind".into(),
            cancelled_at: at(1),
        }),
    ])
    .expect("created");
    assert_eq!(view.status, OrderStatus::Cancelled);
    assert_eq!(view.cancelled_at, Some(at(1)));
    assert_eq!(view.cancellation_reason.as_deref(), Some("changed my mind"));
}

#[test]
fn folding_in_steps_equals_folding_at_once() {
    let events = [created(), added("a", 3, 700), added("b", 2, 50)];
    let whole = fold(&events).expect("created");
    let mut stepped = fold(&events[..1]).expect("created");
    for (event, minute) in events[1..].iter().zip(1..) {
        stepped.apply(event, at(minute)).expect("in range");
    }
    assert_eq!(stepped, whole);
}
