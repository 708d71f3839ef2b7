//! The `customers` read model over customer and order events together: a customer's summary
//! is the same whichever arrives first, their registration or their orders; profile changes,
//! tiers and reviews land in their tables; a profile event of a customer who never registered
//! stops the projection at that event.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use projector_core::{DomainEvent, EventAppender, EventStore, ExpectedVersion, NewEvent};
use projector_customers::events::CustomerMoved;
use projector_customers::{CustomerCommand, CustomerEvent, Tier, customer_stream};
use projector_orders::projections::{self, CUSTOMERS};
use projector_orders::queries::{self, customers::CustomerView};
use projector_orders::{Money, OrderCommand};
use projector_runtime::{Projector, ProjectorOptions, RetryPolicy, WaitError};
use projector_sql::{SqlReadStore, SqlTarget, SqlValue};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Service, at, item, patience, place, text};

fn minute(m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 20, 12, m, 0)
        .single()
        .expect("valid time")
}

fn register(customer: &str, region: &str) -> CustomerCommand {
    CustomerCommand::Register {
        customer_id: customer.into(),
        email: format!("{customer}@example.com"),
        name: format!("Customer {customer}"),
        region: region.into(),
        at: minute(30),
    }
}

fn review(product: &str, rating: u8, at: DateTime<Utc>) -> CustomerCommand {
    CustomerCommand::SubmitReview {
        product_id: product.into(),
        rating,
        text: format!("{product}: {rating} stars"),
        at,
    }
}

/// Places and completes order `order` of `customer` (25.00), and places `order`-open (5.00).
async fn two_orders(service: &Service, customer: &str, order: &str) {
    service
        .run(
            order,
            place(order, customer, vec![item("a", 2, 1250)], minute(10)),
        )
        .await;
    service
        .run(
            order,
            OrderCommand::Ship {
                tracking: "T1".into(),
                at: minute(11),
            },
        )
        .await;
    service
        .run(order, OrderCommand::Complete { at: minute(12) })
        .await;
    let open = format!("{order}-open");
    service
        .run(
            &open,
            place(&open, customer, vec![item("b", 1, 500)], minute(40)),
        )
        .await;
}

async fn customer(service: &Service, id: &str) -> Option<CustomerView> {
    service
        .projector
        .wait_caught_up(patience())
        .await
        .expect("caught up");
    queries::customers::customer(service.reads.as_ref(), id)
        .await
        .expect("query")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_is_the_same_whichever_arrives_first() {
    // Orders first: they count before the customer exists, and registration fills the profile.
    let orders_first = Service::start();
    two_orders(&orders_first, "cust-1", "o1").await;
    assert_eq!(customer(&orders_first, "cust-1").await, None);
    let activity = queries::customer_activity(orders_first.reads.as_ref(), "cust-1")
        .await
        .expect("query")
        .expect("orders make activity before registration");
    assert_eq!((activity.orders_placed, activity.reviews_written), (2, 0));
    orders_first
        .run_customer("cust-1", register("cust-1", "Ontario"))
        .await;
    orders_first
        .run_customer("cust-1", review("p-1", 4, minute(50)))
        .await;
    let late = customer(&orders_first, "cust-1").await.expect("registered");

    // Registration first: the same summary.
    let registered_first = Service::start();
    registered_first
        .run_customer("cust-1", register("cust-1", "Ontario"))
        .await;
    let fresh = customer(&registered_first, "cust-1")
        .await
        .expect("registered");
    assert_eq!(fresh.activity, Default::default(), "nothing done yet");
    registered_first
        .run_customer("cust-1", review("p-1", 4, minute(50)))
        .await;
    two_orders(&registered_first, "cust-1", "o1").await;
    let early = customer(&registered_first, "cust-1")
        .await
        .expect("registered");

    assert_eq!(late, early);
    assert_eq!(
        (
            late.email.as_str(),
            late.region.as_str(),
            late.tier,
            late.registered_at
        ),
        ("cust-1@example.com", "Ontario", Tier::Bronze, minute(30))
    );
    let summary = late.activity;
    assert_eq!(
        (
            summary.orders_placed,
            summary.orders_completed,
            summary.total_spent,
            summary.reviews_written
        ),
        (2, 1, Money::from_cents(2500), 1)
    );
    assert_eq!(summary.last_order_at, Some(minute(40)));
    assert_eq!(summary.last_review_at, Some(minute(50)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_changes_tiers_and_reviews_land_in_their_tables() {
    let service = Service::start();
    service.run_customer("c1", register("c1", "Ontario")).await;
    service
        .run_customer(
            "c1",
            CustomerCommand::Update {
                name: Some("Ada".into()),
                email: Some("ada@example.org".into()),
                region: Some("Quebec".into()),
                at: minute(31),
            },
        )
        .await;
    service
        .run_customer(
            "c1",
            CustomerCommand::ChangeTier {
                tier: Tier::Gold,
                at: minute(32),
            },
        )
        .await;
    service
        .run_customer("c1", review("p-2", 2, minute(34)))
        .await;
    service
        .run_customer("c1", review("p-1", 5, minute(33)))
        .await;
    service.run_customer("c2", register("c2", "Yukon")).await;

    let profiles = service
        .rows(
            &CUSTOMERS,
            "SELECT customer_id, email, name, region, tier, substr(updated_at, 1, 16) \
             FROM customer_profiles ORDER BY customer_id",
        )
        .await;
    assert_eq!(
        profiles,
        [
            vec![
                text("c1"),
                text("ada@example.org"),
                text("Ada"),
                text("Quebec"),
                text("gold"),
                text("2026-04-20T12:32")
            ],
            vec![
                text("c2"),
                text("c2@example.com"),
                text("Customer c2"),
                text("Yukon"),
                text("bronze"),
                text("2026-04-20T12:30")
            ],
        ]
    );
    let reviews = service
        .rows(
            &CUSTOMERS,
            "SELECT customer_id, product_id, rating, text FROM customer_reviews \
             ORDER BY customer_id, product_id",
        )
        .await;
    assert_eq!(
        reviews,
        [
            vec![
                text("c1"),
                text("p-1"),
                SqlValue::Int(5),
                text("p-1: 5 stars")
            ],
            vec![
                text("c1"),
                text("p-2"),
                SqlValue::Int(2),
                text("p-2: 2 stars")
            ],
        ]
    );
    let c1 = customer(&service, "c1").await.expect("registered");
    assert_eq!(c1.activity.reviews_written, 2);
    // The latest review by when it was written, not by when it was recorded.
    assert_eq!(c1.activity.last_review_at, Some(minute(34)));
    assert_eq!(c1.activity.orders_placed, 0);
    assert_eq!(c1.activity.last_order_at, None);
    let activity = queries::customer_activity(service.reads.as_ref(), "c1")
        .await
        .expect("query")
        .expect("reviews make activity");
    assert_eq!((activity.orders_placed, activity.first_order_at), (0, None));
    assert_eq!(
        queries::customer_activity(service.reads.as_ref(), "c2")
            .await
            .expect("query"),
        None,
        "registering alone is no activity"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_event_of_a_customer_who_never_registered_stops_the_projection_there() {
    let (_dir, events, reads) = projector_testkit::sqlite::stores();
    let store = events.as_ref() as &dyn EventStore;
    let order = |id: &'static str| async move {
        projector_core::execute(
            &projector_orders::OrderDecider,
            store,
            &projector_orders::order_stream(id).expect("stream"),
            &place(id, "ghost", vec![item("a", 1, 100)], at(1, 9)),
            &projector_core::CommandOptions::default(),
        )
        .await
        .expect("placed");
    };
    order("before").await;
    // A move of a customer who never registered (written around the decider).
    let ghost = CustomerEvent::Moved(CustomerMoved {
        customer_id: "ghost".into(),
        from: "Ontario".into(),
        region: "Quebec".into(),
        moved_at: minute(1),
    });
    let ghost_at = events
        .append(
            &customer_stream("ghost").expect("stream"),
            ExpectedVersion::NoStream,
            vec![NewEvent::new(
                ghost.event_type(),
                ghost.encode().expect("encode"),
            )],
        )
        .await
        .expect("append the ghost")
        .first_position;
    order("after").await;

    let options = ProjectorOptions {
        retry: RetryPolicy {
            max_attempts: 1,
            initial_backoff: std::time::Duration::from_millis(10),
            max_backoff: std::time::Duration::from_millis(10),
        },
        ..ProjectorOptions::default()
    };
    let projector = Projector::new(events.clone(), options)
        .with_target(SqlTarget::typed(
            reads.clone() as Arc<dyn SqlReadStore>,
            projections::CustomersProjection,
        ))
        .start(CancellationToken::new())
        .expect("start");
    let Err(WaitError::Stopped {
        stopped_at, error, ..
    }) = projector.wait_for(&CUSTOMERS, ghost_at, patience()).await
    else {
        panic!("customers did not stop at the ghost");
    };
    assert_eq!(stopped_at, ghost_at);
    assert!(
        error.ends_with("CustomerMoved for customer ghost, who has not registered"),
        "{error}"
    );
    let orders = reads
        .query(&CUSTOMERS, "SELECT order_id FROM customer_orders", &[])
        .await
        .expect("query");
    let ids: Vec<SqlValue> = orders.iter().map(|row| row.values()[0].clone()).collect();
    assert_eq!(ids, [text("before")], "only what came first");
}
