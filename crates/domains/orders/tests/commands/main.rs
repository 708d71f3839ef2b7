//! Commands through `projector_core::execute` on a real store: retries on conflict, `If-Match`
//! preconditions, and commands recognised by their id so a retry never runs twice.

use std::sync::Arc;

use chrono::Utc;
use projector_core::{
    CausationId, CommandError, CommandOptions, EventMetadata, EventStore, StreamVersion, execute,
};
use projector_orders::{
    Money, NewItem, OrderCommand, OrderDecider, OrderError, OrderLimit, order_stream,
};
use projector_sqlite::SqliteEventStore;

fn store() -> (Arc<SqliteEventStore>, tempfile::TempDir) {
    let dir = projector_testkit::temp_dir();
    let store = projector_testkit::sqlite::event_store(dir.path());
    (Arc::new(store), dir)
}

fn place(id: &str) -> OrderCommand {
    let items = vec![NewItem::new("a", 1, Money::from_cents(100))];
    OrderCommand::place(id, "c", items, Utc::now())
}

fn with_command_id(id: &str) -> CommandOptions {
    CommandOptions {
        metadata: EventMetadata {
            causation_id: Some(CausationId::parse(id).expect("valid")),
            ..EventMetadata::default()
        },
        ..CommandOptions::default()
    }
}

#[tokio::test]
async fn a_command_that_already_ran_is_answered_from_its_events() {
    let (store, _dir) = store();
    let stream = order_stream("o1").expect("valid");
    let store: &dyn EventStore = store.as_ref();
    let first = execute(
        &OrderDecider,
        store,
        &stream,
        &place("o1"),
        &with_command_id("cmd-1"),
    )
    .await
    .expect("first");
    assert!(!first.replayed);
    assert_eq!(first.events.len(), 3);
    // The same command again (a retry whose answer was lost): not run, not refused.
    let again = execute(
        &OrderDecider,
        store,
        &stream,
        &place("o1"),
        &with_command_id("cmd-1"),
    )
    .await
    .expect("again");
    assert!(again.replayed);
    assert!(again.events.is_empty());
    assert_eq!(again.position, first.position);
    assert_eq!(
        store.stream_version(&stream).await.expect("version"),
        StreamVersion::new(3)
    );
    // Another command with the same content is a new command, and the domain refuses it.
    let other = execute(
        &OrderDecider,
        store,
        &stream,
        &place("o1"),
        &with_command_id("cmd-2"),
    )
    .await;
    assert!(matches!(
        other,
        Err(CommandError::Rejected(OrderError::AlreadyExists))
    ));
}

#[tokio::test]
async fn if_version_is_a_precondition_and_conflicts_are_retried_without_it() {
    let (store, _dir) = store();
    let stream = order_stream("o2").expect("valid");
    let store: &dyn EventStore = store.as_ref();
    execute(
        &OrderDecider,
        store,
        &stream,
        &place("o2"),
        &CommandOptions::default(),
    )
    .await
    .expect("placed");
    let add = |sku: &str| OrderCommand::AddItem {
        item: NewItem {
            sku: sku.into(),
            quantity: 1,
            unit_price: Money::from_cents(5),
        },
        at: Utc::now(),
    };
    let stale = CommandOptions {
        if_version: Some(StreamVersion::new(2)),
        ..CommandOptions::default()
    };
    match execute(&OrderDecider, store, &stream, &add("x"), &stale).await {
        Err(CommandError::PreconditionFailed {
            expected, actual, ..
        }) => {
            assert_eq!((expected.get(), actual.get()), (2, 3));
        }
        other => panic!("expected a failed precondition, got {other:?}"),
    }
    // Many concurrent writers without a version: each retries on conflict and all succeed.
    let adds = (0..12).map(|i| {
        let stream = stream.clone();
        let command = add(&format!("s{i}"));
        async move {
            execute(
                &OrderDecider,
                store,
                &stream,
                &command,
                &CommandOptions {
                    max_attempts: 50,
                    ..CommandOptions::default()
                },
            )
            .await
        }
    });
    for result in futures::future::join_all(adds).await {
        result.expect("every concurrent add succeeds after retries");
    }
    assert_eq!(
        store.stream_version(&stream).await.expect("version"),
        StreamVersion::new(15)
    );
}

#[tokio::test]
async fn orders_past_their_limits_are_refused_and_append_nothing() {
    let (store, _dir) = store();
    let store: &dyn EventStore = store.as_ref();
    let line = |sku: String, quantity: u32, unit_price: Money| NewItem {
        sku,
        quantity,
        unit_price,
    };
    // The order: 100 lines of 10 000 at the largest price, 10^18 in all.
    let big = order_stream("big").expect("valid");
    let command = OrderCommand::Place {
        order_id: "big".into(),
        customer_id: "c".into(),
        items: (0..100)
            .map(|i| line(format!("sku-{i}"), 10_000, Money::MAX))
            .collect(),
        at: Utc::now(),
    };
    match execute(
        &OrderDecider,
        store,
        &big,
        &command,
        &CommandOptions::default(),
    )
    .await
    {
        Err(CommandError::Rejected(OrderError::LimitExceeded { field, limit })) => {
            assert_eq!(field, "items");
            assert_eq!(limit, OrderLimit::Total { total: None });
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(done) => panic!("accepted: {} events recorded", done.events.len()),
    }
    assert_eq!(
        store.stream_version(&big).await.expect("version"),
        StreamVersion::NONE
    );

    // A line grown past 10 000 units by a later addition.
    let stream = order_stream("o3").expect("valid");
    execute(
        &OrderDecider,
        store,
        &stream,
        &place("o3"),
        &CommandOptions::default(),
    )
    .await
    .expect("placed");
    let more = OrderCommand::AddItem {
        item: line("a".into(), 10_000, Money::from_cents(100)),
        at: Utc::now(),
    };
    match execute(
        &OrderDecider,
        store,
        &stream,
        &more,
        &CommandOptions::default(),
    )
    .await
    {
        Err(CommandError::Rejected(OrderError::LimitExceeded { field, limit })) => {
            assert_eq!(field, "quantity");
            assert_eq!(
                limit,
                OrderLimit::LineQuantity {
                    sku: "a".into(),
                    quantity: 10_001
                }
            );
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(done) => panic!("accepted: {:?}", done.events),
    }
    assert_eq!(
        store.stream_version(&stream).await.expect("version"),
        StreamVersion::new(3)
    );
}
