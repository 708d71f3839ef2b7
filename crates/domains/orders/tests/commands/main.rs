//! Commands through `projector_core::execute` on a real store: retries on conflict, `If-Match`
//! preconditions, and commands recognised by their id so a retry never runs twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::Utc;
use projector_core::{
    AppendOutcome, CausationId, CommandError, CommandOptions, EventAppender, EventFeed,
    EventMetadata, EventStore, ExpectedVersion, GlobalPosition, HeadWatch, NewEvent, ReadDirection,
    RecordedEvent, StoreError, StreamId, StreamReader, StreamVersion, execute,
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

/// A store that counts the streams read through it, to see which commands read before they
/// append.
struct CountingReads {
    store: Arc<SqliteEventStore>,
    stream_reads: AtomicUsize,
}

#[async_trait]
impl EventFeed for CountingReads {
    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.store.read_all(after, limit).await
    }

    async fn head(&self) -> Result<GlobalPosition, StoreError> {
        self.store.head().await
    }

    fn watch_head(&self) -> HeadWatch {
        self.store.watch_head()
    }
}

#[async_trait]
impl StreamReader for CountingReads {
    async fn read_stream(
        &self,
        stream: &StreamId,
        from: StreamVersion,
        direction: ReadDirection,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.stream_reads.fetch_add(1, Ordering::SeqCst);
        self.store.read_stream(stream, from, direction, limit).await
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<StreamVersion, StoreError> {
        self.store.stream_version(stream).await
    }
}

#[async_trait]
impl EventAppender for CountingReads {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        self.store.append(stream, expected, events).await
    }
}

/// Placing an order only ever starts its stream, so it is appended without reading the stream;
/// a second place of the same order reads it, and is refused or answered from its events just
/// as if it had been read first.
#[tokio::test]
async fn placing_an_order_appends_without_reading_its_stream() {
    let (store, _dir) = store();
    let counting = CountingReads {
        store,
        stream_reads: AtomicUsize::new(0),
    };
    let stream = order_stream("o9").expect("valid");
    let placed = execute(
        &OrderDecider,
        &counting,
        &stream,
        &place("o9"),
        &with_command_id("cmd-9"),
    )
    .await
    .expect("placed");
    assert_eq!(counting.stream_reads.load(Ordering::SeqCst), 0, "no read");
    assert_eq!(placed.stream_version, StreamVersion::new(3));
    assert_eq!(placed.state.id.as_deref(), Some("o9"));

    let again = execute(
        &OrderDecider,
        &counting,
        &stream,
        &place("o9"),
        &with_command_id("cmd-9"),
    )
    .await
    .expect("the same command again");
    assert!(again.replayed, "answered from its events");
    assert_eq!(again.position, placed.position);
    let other = execute(
        &OrderDecider,
        &counting,
        &stream,
        &place("o9"),
        &with_command_id("cmd-10"),
    )
    .await;
    assert!(matches!(
        other,
        Err(CommandError::Rejected(OrderError::AlreadyExists))
    ));
    assert_eq!(
        counting.stream_reads.load(Ordering::SeqCst),
        2,
        "one read each"
    );

    // A command that changes an order reads it first, as before.
    let add = OrderCommand::AddItem {
        item: NewItem::new("b", 1, Money::from_cents(100)),
        at: Utc::now(),
    };
    let added = execute(
        &OrderDecider,
        &counting,
        &stream,
        &add,
        &CommandOptions::default(),
    )
    .await
    .expect("added");
    assert_eq!(added.stream_version, StreamVersion::new(4));
    assert_eq!(counting.stream_reads.load(Ordering::SeqCst), 3);
}
