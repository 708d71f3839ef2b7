//! Given/when/then for each limit of an order: the lines it holds, each line's units however
//! they were added, and its total, for every command that grows an order.

use super::*;
use crate::limits::{LINE_QUANTITY_MAX, LINES_MAX, OrderLimit};

fn place(items: Vec<NewItem>) -> OrderCommand {
    OrderCommand::Place {
        order_id: "order-1001".into(),
        customer_id: "cust-42".into(),
        items,
        at: at(0),
    }
}

fn add(sku: &str, quantity: u32, price: i64) -> OrderCommand {
    OrderCommand::AddItem {
        item: item(sku, quantity, price),
        at: at(1),
    }
}

fn limit_exceeded(field: &str, limit: OrderLimit) -> OrderError {
    OrderError::LimitExceeded {
        field: field.into(),
        limit,
    }
}

/// `count` lines of `quantity` units at `price` cents each.
fn lines(count: usize, quantity: u32, price: i64) -> Vec<NewItem> {
    (0..count)
        .map(|i| item(&format!("sku-{i:03}"), quantity, price))
        .collect()
}

/// The events of placing `items`.
fn placing(items: &[NewItem]) -> Vec<OrderEvent> {
    let mut events = vec![created()];
    events.extend(
        items
            .iter()
            .map(|i| added(&i.sku, i.quantity, i.unit_price.cents())),
    );
    events.push(confirmed());
    events
}

#[test]
fn an_order_comes_to_at_most_the_largest_amount() {
    // 100 lines of 10 000 units at 1 000 000.00: exactly the limit.
    let largest = lines(100, 10_000, 100_000_000);
    given(&OrderDecider, [])
        .when(&place(largest.clone()))
        .then(placing(&largest));
    let past = vec![item("a", 1, Money::MAX.cents()), item("b", 1, 1)];
    let error = given(&OrderDecider, [])
        .when(&place(past))
        .then_refused(|e| {
            *e == limit_exceeded(
                "items",
                OrderLimit::Total {
                    total: Some(cents(Money::MAX.cents() + 1)),
                },
            )
        });
    assert_eq!(
        error.to_string(),
        "items would bring the order's total to 1000000000000.01; an order comes to at most 1000000000000.00"
    );
    // The order: 100 lines of 10 000 at the largest price, past even i64::MAX cents.
    let error = given(&OrderDecider, [])
        .when(&place(lines(100, 10_000, Money::MAX.cents())))
        .then_refused(|e| *e == limit_exceeded("items", OrderLimit::Total { total: None }));
    assert!(
        error.to_string().contains("at most 1000000000000.00"),
        "{error}"
    );
}

#[test]
fn adding_items_keeps_the_total_within_the_largest_amount() {
    // The README's order comes to 45.50.
    let room = Money::MAX.cents() - 4550;
    given(&OrderDecider, placed())
        .when(&add("big", 1, room))
        .then([added("big", 1, room)]);
    given(&OrderDecider, placed())
        .when(&add("big", 1, room + 1))
        .then_refused(|e| {
            *e == limit_exceeded(
                "quantity",
                OrderLimit::Total {
                    total: Some(cents(Money::MAX.cents() + 1)),
                },
            )
        });
    // 10 000 units at the largest price.
    given(&OrderDecider, placed())
        .when(&add("big", 10_000, Money::MAX.cents()))
        .then_refused(|e| {
            *e == limit_exceeded(
                "quantity",
                OrderLimit::Total {
                    total: Some(cents(Money::MAX.cents() * 10_000 + 4550)),
                },
            )
        });
}

#[test]
fn a_line_holds_at_most_10000_units_however_it_grows() {
    assert_eq!(LINE_QUANTITY_MAX, 10_000);
    given(&OrderDecider, [])
        .when(&place(vec![item("a", 1, 100), item("b", 10_001, 100)]))
        .then_refused(|e| {
            *e == limit_exceeded(
                "items[1].quantity",
                OrderLimit::LineQuantity {
                    sku: "b".into(),
                    quantity: 10_001,
                },
            )
        });
    // The README's order holds one sku-1; 9 999 more fill its line, one more is too many.
    given(&OrderDecider, placed())
        .when(&add("sku-1", 9_999, 2000))
        .then([added("sku-1", 9_999, 2000)]);
    let mut history = placed();
    history.push(added("sku-1", 9_999, 2000));
    let error = given(&OrderDecider, history)
        .when(&add("sku-1", 1, 2000))
        .then_refused(|e| {
            *e == limit_exceeded(
                "quantity",
                OrderLimit::LineQuantity {
                    sku: "sku-1".into(),
                    quantity: 10_001,
                },
            )
        });
    assert_eq!(
        error.to_string(),
        "quantity would bring item sku-1 to 10001 units; a line holds at most 10000"
    );
    // A line recorded past u32 before the limits clamps instead of overflowing, and is refused.
    let mut history = placed();
    history.extend([added("sku-1", u32::MAX, 0), added("sku-1", u32::MAX, 0)]);
    given(&OrderDecider, history)
        .when(&add("sku-1", 1, 2000))
        .then_refused(|e| {
            *e == limit_exceeded(
                "quantity",
                OrderLimit::LineQuantity {
                    sku: "sku-1".into(),
                    quantity: u32::MAX,
                },
            )
        });
}

#[test]
fn an_order_holds_at_most_100_items() {
    assert_eq!(LINES_MAX, 100);
    given(&OrderDecider, [])
        .when(&place(lines(101, 1, 100)))
        .then_refused(|e| *e == limit_exceeded("items", OrderLimit::Lines { lines: 101 }));
    let full = placing(&lines(100, 1, 100));
    given(&OrderDecider, full.clone())
        .when(&add("one-more", 1, 100))
        .then_refused(|e| *e == limit_exceeded("sku", OrderLimit::Lines { lines: 101 }));
    // More of a line it already holds is no new line.
    given(&OrderDecider, full)
        .when(&add("sku-000", 1, 100))
        .then([added("sku-000", 1, 100)]);
}

#[test]
fn an_order_past_the_total_from_before_the_limits_cannot_complete() {
    // Recorded before the limits: 10 000 units at the largest price, 10^16 in all.
    let mut history = placing(&[item("a", 10_000, Money::MAX.cents())]);
    history.push(shipped());
    given(&OrderDecider, history.clone())
        .when(&OrderCommand::Complete { at: at(9) })
        .then_refused(|e| {
            *e == limit_exceeded(
                "items",
                OrderLimit::Total {
                    total: Some(cents(Money::MAX.cents() * 10_000)),
                },
            )
        });
    // Removing the line brings it back within the limits, and then it completes.
    let removed = OrderEvent::ItemRemoved(OrderItemRemoved {
        order_id: "order-1001".into(),
        sku: "a".into(),
        quantity: 10_000,
        unit_price: Money::MAX,
    });
    let mut history = placing(&[item("a", 10_000, Money::MAX.cents()), item("b", 1, 4550)]);
    history.extend([removed, shipped()]);
    let mut done = completed();
    if let OrderEvent::Completed(e) = &mut done {
        e.item_count = 1;
    }
    given(&OrderDecider, history)
        .when(&OrderCommand::Complete { at: at(9) })
        .then([done]);
}

#[test]
fn an_order_takes_a_bounded_number_of_changes() {
    use crate::limits::EVENTS_MAX;
    // Placed, then the same item added again and again: each command one event.
    let placed = placing(&lines(1, 1, 100));
    let grown = |count: u32| -> Vec<OrderEvent> {
        let extra = count as usize - placed.len();
        placed
            .iter()
            .cloned()
            .chain(std::iter::repeat_n(added("sku-000", 1, 100), extra))
            .collect()
    };
    let remove = OrderCommand::RemoveItem {
        sku: "sku-000".into(),
        at: at(2),
    };
    let almost = grown(EVENTS_MAX - 1)
        .iter()
        .fold(Order::default(), |order, event| {
            OrderDecider.evolve(order, event)
        });
    assert!(
        OrderDecider.decide(&almost, &remove).is_ok(),
        "one change short of the cap is taken"
    );
    given(&OrderDecider, grown(EVENTS_MAX))
        .when(&OrderCommand::RemoveItem {
            sku: "sku-000".into(),
            at: at(2),
        })
        .then_refused(|e| *e == limit_exceeded("path.id", OrderLimit::Events));
}
