//! A property over random orders, refunds and cancellations: every report the read models
//! answer (daily sales and their totals, each customer's activity and orders, each order's
//! summary) equals the sum of its orders to the cent, with commands run through the decider and
//! events through the projector into real SQLite read models.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use projector_orders::queries::{self, SalesTotals};
use projector_orders::{Money, OrderCommand};
use proptest::prelude::*;

use crate::helpers::{Service, at, item, place};

/// What happens to an order after it is placed.
#[derive(Clone, Debug)]
enum Fate {
    /// Left confirmed.
    Open,
    /// Cancelled before shipping.
    Cancelled,
    /// Shipped and completed on `day` of April, then refunded: each refund is that many
    /// thousandths of what is left to refund (at least a cent).
    Completed { day: u32, refunds: Vec<u16> },
}

/// One random order.
#[derive(Clone, Debug)]
struct Plan {
    customer: u8,
    /// (quantity, unit price in cents) of lines `s0`, `s1`, ...
    lines: Vec<(u32, i64)>,
    /// A line added after placing, if any.
    added: Option<(u32, i64)>,
    /// Whether line `s0` is removed again (when it is not the only line).
    remove_first: bool,
    fate: Fate,
}

/// Prices that sum to binary fractions as floats (0.1 + 0.2), odd cents, and larger amounts.
fn price() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(10_i64),
        Just(20),
        Just(1),
        Just(99),
        Just(1999),
        1_i64..=100_000,
        Just(100_000_000),
    ]
}

fn plan() -> impl Strategy<Value = Plan> {
    let fate = prop_oneof![
        Just(Fate::Open),
        Just(Fate::Cancelled),
        (2_u32..=4, prop::collection::vec(1_u16..=1000, 0..3))
            .prop_map(|(day, refunds)| Fate::Completed { day, refunds }),
    ];
    (
        0_u8..3,
        prop::collection::vec((1_u32..=5, price()), 1..4),
        prop::option::of((1_u32..=3, price())),
        any::<bool>(),
        fate,
    )
        .prop_map(|(customer, lines, added, remove_first, fate)| Plan {
            customer,
            lines,
            added,
            remove_first,
            fate,
        })
}

/// An order as the test expects the read models to show it, computed from its plan alone.
#[derive(Debug, Default)]
struct Expected {
    customer: String,
    status: &'static str,
    items: i64,
    total: i64,
    refunded: i64,
    completed_on: Option<u32>,
}

/// Runs `plan` as order `id` and returns what it should come to.
async fn run(service: &Service, id: &str, plan: &Plan) -> Expected {
    let customer = format!("c{}", plan.customer);
    let mut lines: BTreeMap<String, (u32, i64)> = BTreeMap::new();
    let items = plan
        .lines
        .iter()
        .enumerate()
        .map(|(i, &(quantity, cents))| {
            lines.insert(format!("s{i}"), (quantity, cents));
            item(&format!("s{i}"), quantity, cents)
        })
        .collect();
    service.run(id, place(id, &customer, items, at(1, 9))).await;
    if let Some((quantity, cents)) = plan.added {
        lines.insert("extra".into(), (quantity, cents));
        let item = item("extra", quantity, cents);
        let command = OrderCommand::AddItem {
            item,
            at: at(1, 10),
        };
        service.run(id, command).await;
    }
    if plan.remove_first && lines.len() > 1 {
        lines.remove("s0");
        let command = OrderCommand::RemoveItem {
            sku: "s0".into(),
            at: at(1, 11),
        };
        service.run(id, command).await;
    }
    let mut expected = Expected {
        customer,
        status: "confirmed",
        items: lines.values().map(|&(q, _)| i64::from(q)).sum(),
        total: lines.values().map(|&(q, c)| i64::from(q) * c).sum(),
        ..Expected::default()
    };
    match &plan.fate {
        Fate::Open => {}
        Fate::Cancelled => {
            let command = OrderCommand::Cancel {
                reason: "changed my mind".into(),
                at: at(1, 12),
            };
            service.run(id, command).await;
            expected.status = "cancelled";
        }
        Fate::Completed { day, refunds } => {
            let ship = OrderCommand::Ship {
                tracking: "T".into(),
                at: at(1, 12),
            };
            service.run(id, ship).await;
            service
                .run(id, OrderCommand::Complete { at: at(*day, 10) })
                .await;
            expected.status = "completed";
            expected.completed_on = Some(*day);
            for (i, &thousandths) in refunds.iter().enumerate() {
                let left = expected.total - expected.refunded;
                if left == 0 {
                    break;
                }
                let cents = (left * i64::from(thousandths) / 1000).max(1);
                let hour = u32::try_from(i).expect("a few refunds");
                let command = OrderCommand::Refund {
                    amount: Money::from_cents(cents),
                    at: at(10, hour),
                };
                service.run(id, command).await;
                expected.refunded += cents;
            }
        }
    }
    expected
}

/// `money` as JSON is the decimal of its cents: no binary fraction, never `-0.0`.
fn assert_decimal(money: Money, what: &str) {
    let json = serde_json::to_string(&money).expect("json");
    let cents = money.cents();
    let decimal = format!("{}.{:02}", cents / 100, cents % 100);
    let trimmed = decimal.trim_end_matches('0');
    let wanted = if trimmed.ends_with('.') {
        format!("{trimmed}0")
    } else {
        trimmed.to_owned()
    };
    assert_eq!(json, wanted, "{what}");
}

/// Runs every plan, then checks each report against the sums of its orders; the service, for
/// more checks.
async fn check_reports(plans: Vec<Plan>) -> Service {
    let service = Service::start();
    let mut orders = BTreeMap::new();
    for (i, plan) in plans.iter().enumerate() {
        let id = format!("o{i}");
        let expected = run(&service, &id, plan).await;
        orders.insert(id, expected);
    }
    service
        .projector
        .wait_caught_up(crate::helpers::patience())
        .await
        .expect("caught up");
    let reads = service.reads.as_ref();
    let cents = Money::from_cents;

    // Each order's summary.
    for (id, expected) in &orders {
        let summary = queries::order_summary(reads, id)
            .await
            .expect("query")
            .expect("projected");
        assert_eq!(summary.status, expected.status, "{id}");
        assert_eq!(summary.item_count, expected.items, "{id}");
        assert_eq!(summary.total_amount, cents(expected.total), "{id}");
        let refunded = (expected.refunded > 0).then(|| cents(expected.refunded));
        assert_eq!(summary.refunded_amount, refunded, "{id}");
        assert_decimal(summary.total_amount, id);
    }

    // Daily sales: each day is the sum of the orders completed that day, the totals the sum
    // of every completed order.
    let day = |d| NaiveDate::from_ymd_opt(2026, 4, d).expect("a day");
    let days = queries::daily_sales(reads, day(1), day(30))
        .await
        .expect("query");
    let completed: Vec<&Expected> = orders
        .values()
        .filter(|o| o.completed_on.is_some())
        .collect();
    let mut wanted_days: BTreeMap<u32, (i64, i64, i64, i64)> = BTreeMap::new();
    for order in &completed {
        let sums = wanted_days
            .entry(order.completed_on.expect("completed"))
            .or_default();
        *sums = (
            sums.0 + 1,
            sums.1 + order.items,
            sums.2 + order.total,
            sums.3 + order.refunded,
        );
    }
    let found: Vec<_> = days
        .iter()
        .map(|d| {
            (
                d.date,
                d.orders_completed,
                d.items_sold,
                d.gross_revenue,
                d.refunded_amount,
                d.net_revenue,
            )
        })
        .collect();
    let wanted: Vec<_> = wanted_days
        .iter()
        .map(|(&d, &(n, items, gross, refunded))| {
            (
                day(d),
                n,
                items,
                cents(gross),
                cents(refunded),
                cents(gross - refunded),
            )
        })
        .collect();
    assert_eq!(found, wanted, "daily sales");
    let totals = SalesTotals::of(&days).expect("in range");
    let gross: i64 = completed.iter().map(|o| o.total).sum();
    let refunded: i64 = completed.iter().map(|o| o.refunded).sum();
    assert_eq!(
        totals,
        SalesTotals {
            orders_completed: i64::try_from(completed.len()).expect("a few"),
            gross_revenue: cents(gross),
            refunded_amount: cents(refunded),
            net_revenue: cents(gross - refunded),
        },
        "the report's totals"
    );
    for money in [
        totals.gross_revenue,
        totals.refunded_amount,
        totals.net_revenue,
    ] {
        assert_decimal(money, "a report total");
    }

    // Each customer's activity and "my orders".
    for customer in ["c0", "c1", "c2"] {
        let theirs: Vec<(&String, &Expected)> = orders
            .iter()
            .filter(|(_, o)| o.customer == customer)
            .collect();
        let activity = queries::customer_activity(reads, customer)
            .await
            .expect("query");
        let Some(activity) = activity else {
            assert!(theirs.is_empty(), "{customer} has orders but no activity");
            continue;
        };
        let count = |status| {
            i64::try_from(theirs.iter().filter(|(_, o)| o.status == status).count()).expect("a few")
        };
        let spent: i64 = theirs
            .iter()
            .filter(|(_, o)| o.status == "completed")
            .map(|(_, o)| o.total)
            .sum();
        let refunded: i64 = theirs.iter().map(|(_, o)| o.refunded).sum();
        assert_eq!(
            (
                activity.orders_placed,
                activity.orders_completed,
                activity.orders_cancelled,
                activity.total_spent,
                activity.total_refunded
            ),
            (
                i64::try_from(theirs.len()).expect("a few"),
                count("completed"),
                count("cancelled"),
                cents(spent),
                cents(refunded)
            ),
            "{customer}'s activity"
        );
        let page = queries::customer_orders(reads, customer, 100, None)
            .await
            .expect("query");
        let listed: BTreeMap<&str, Money> = page
            .orders
            .iter()
            .map(|o| (o.order_id.as_str(), o.total_amount))
            .collect();
        let wanted: BTreeMap<&str, Money> = theirs
            .iter()
            .map(|(id, o)| (id.as_str(), cents(o.total)))
            .collect();
        assert_eq!(listed, wanted, "{customer}'s orders");
    }
    service
}

proptest! {
    // Each case starts a projector over fresh SQLite files: 32 cases take a few seconds (more
    // in CI, see `projector_testkit::property`).
    #![proptest_config(projector_testkit::property::config(32))]

    #[test]
    fn every_report_is_the_sum_of_its_orders_to_the_cent(
        plans in prop::collection::vec(plan(), 1..8)
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let _service = runtime.block_on(check_reports(plans));
    }
}

/// The case the property is named after, always run: 0.1 + 0.2 is 0.3 in every report, and a
/// range without sales totals zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dime_and_two_make_thirty_cents_everywhere() {
    let plans = vec![Plan {
        customer: 0,
        lines: vec![(1, 10), (1, 20)],
        added: None,
        remove_first: false,
        fate: Fate::Completed {
            day: 2,
            refunds: vec![],
        },
    }];
    let service = check_reports(plans).await;
    let day = |d| NaiveDate::from_ymd_opt(2026, 4, d).expect("a day");
    let days = queries::daily_sales(service.reads.as_ref(), day(20), day(30))
        .await
        .expect("query");
    assert!(days.is_empty());
    let totals = SalesTotals::of(&days).expect("in range");
    assert_eq!(totals, SalesTotals::default());
    assert_decimal(totals.net_revenue, "an empty report");
}
