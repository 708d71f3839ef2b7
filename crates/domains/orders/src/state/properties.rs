//! The order fold against a naive model: after every command the decider accepts, the folded
//! state equals what a recount over all the order's events gives (lines, totals in exact
//! arithmetic, refunds, status), and what the decider let through keeps the order's rules.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use projector_core::Decider;
use proptest::prelude::*;

use super::{Order, OrderStatus};
use crate::decider::{NewItem, OrderCommand, OrderDecider};
use crate::events::OrderEvent;
use crate::money::Money;

/// A command without its time (given in order when it runs).
#[derive(Clone, Debug)]
enum Step {
    Place(Vec<(u8, u32, i64)>),
    Add(u8, u32, i64),
    Remove(u8),
    Ship,
    Complete,
    Cancel,
    Refund(i64),
}

fn price() -> impl Strategy<Value = i64> + Clone {
    prop_oneof![0i64..2_000, Just(Money::MAX.cents())]
}

fn step() -> impl Strategy<Value = Step> {
    let line = (0u8..3, 1u32..5, price());
    prop_oneof![
        2 => prop::collection::vec(line.clone(), 1..4).prop_map(Step::Place),
        3 => line.prop_map(|(sku, quantity, price)| Step::Add(sku, quantity, price)),
        1 => (0u8..3).prop_map(Step::Remove),
        1 => Just(Step::Ship),
        1 => Just(Step::Complete),
        1 => Just(Step::Cancel),
        2 => (1i64..5_000).prop_map(Step::Refund),
    ]
}

fn sku(n: u8) -> String {
    ["a", "b", "c"][usize::from(n % 3)].to_owned()
}

fn command(step: &Step, n: i64) -> OrderCommand {
    let at = Utc
        .with_ymd_and_hms(2026, 4, 1, 9, 0, 0)
        .single()
        .expect("valid time")
        + Duration::minutes(n);
    let item = |(s, quantity, price): &(u8, u32, i64)| NewItem {
        sku: sku(*s),
        quantity: *quantity,
        unit_price: Money::from_cents(*price),
    };
    match step {
        Step::Place(lines) => OrderCommand::Place {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            items: lines.iter().map(item).collect(),
            at,
        },
        Step::Add(s, quantity, price) => OrderCommand::AddItem {
            item: item(&(*s, *quantity, *price)),
            at,
        },
        Step::Remove(s) => OrderCommand::RemoveItem { sku: sku(*s), at },
        Step::Ship => OrderCommand::Ship {
            tracking: "T".into(),
            at,
        },
        Step::Complete => OrderCommand::Complete { at },
        Step::Cancel => OrderCommand::Cancel {
            reason: "r".into(),
            at,
        },
        Step::Refund(cents) => OrderCommand::Refund {
            amount: Money::from_cents(*cents),
            at,
        },
    }
}

/// What a recount over every event gives, in exact arithmetic.
#[derive(Debug, PartialEq)]
struct Recount {
    status: Option<OrderStatus>,
    /// Each line's quantity and price: the price of its first addition since its removal.
    lines: BTreeMap<String, (u64, i64)>,
    total: i128,
    refunded: i128,
}

fn recount(events: &[OrderEvent]) -> Recount {
    let mut status = None;
    let mut lines: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    let mut refunded = 0i128;
    for event in events {
        match event {
            OrderEvent::Created(_) => status = Some(OrderStatus::Pending),
            OrderEvent::ItemAdded(e) => {
                lines
                    .entry(e.sku.clone())
                    .or_insert((0, e.unit_price.cents()))
                    .0 += u64::from(e.quantity);
            }
            OrderEvent::ItemRemoved(e) => {
                lines.remove(&e.sku);
            }
            OrderEvent::Confirmed(_) => status = Some(OrderStatus::Confirmed),
            OrderEvent::Shipped(_) => status = Some(OrderStatus::Shipped),
            OrderEvent::Completed(_) => status = Some(OrderStatus::Completed),
            OrderEvent::Cancelled(_) => status = Some(OrderStatus::Cancelled),
            OrderEvent::Refunded(e) => refunded += i128::from(e.amount.cents()),
        }
    }
    let total = lines
        .values()
        .map(|(quantity, price)| i128::from(*quantity) * i128::from(*price))
        .sum();
    Recount {
        status,
        lines,
        total,
        refunded,
    }
}

fn as_recount(order: &Order) -> Recount {
    Recount {
        status: order.status,
        lines: order
            .lines
            .iter()
            .map(|(sku, line)| {
                (
                    sku.clone(),
                    (u64::from(line.quantity), line.unit_price.cents()),
                )
            })
            .collect(),
        total: order.total().map_or(-1, |t| i128::from(t.cents())),
        refunded: i128::from(order.refunded.cents()),
    }
}

proptest! {
    // Each case folds a few dozen events: 256 here, more in CI (see `projector_testkit::property`).
    #![proptest_config(projector_testkit::property::config(256))]

    #[test]
    fn the_fold_matches_a_recount_of_every_event(steps in prop::collection::vec(step(), 1..30)) {
        let decider = OrderDecider;
        let mut order = Order::default();
        let mut events: Vec<OrderEvent> = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            let before = order.status;
            let Ok(decided) = decider.decide(&order, &command(step, n as i64)) else {
                continue;
            };
            for event in &decided {
                order = decider.evolve(order, event);
            }
            events.extend(decided);
            let recounted = recount(&events);
            prop_assert_eq!(as_recount(&order), recounted, "after {:?}", step);
            prop_assert_eq!(order.events as usize, events.len());
            // What the decider let through keeps the order's rules.
            prop_assert!(
                order.refunded.cents() == 0 || order.status == Some(OrderStatus::Completed),
                "refunded while {:?}", order.status
            );
            prop_assert!(order.total().is_some(), "a total past the range was accepted");
            prop_assert!(
                i128::from(order.refunded.cents()) <= i128::from(order.total().map_or(0, Money::cents)),
                "refunded more than the total"
            );
            if matches!(before, Some(OrderStatus::Completed | OrderStatus::Cancelled)) {
                prop_assert_eq!(order.status, before, "a closed order changed status");
            }
            prop_assert_eq!(
                order.item_count() as u64,
                order.lines.values().map(|l| u64::from(l.quantity)).sum::<u64>()
            );
        }
    }
}
