//! Appends: atomic, guarded by the expected version, and complete in what they record.

use std::sync::Arc;

use projector_core::{
    CausationId, CorrelationId, EventMetadata, EventStore, ExpectedVersion, GlobalPosition,
    MAX_EVENTS_PER_APPEND, ReadDirection, StoreError, StreamId, StreamVersion, UserId,
};

use crate::events::{event, numbered};

fn stream(name: &str) -> StreamId {
    StreamId::parse(name).expect("valid test stream id")
}

#[track_caller]
fn assert_conflict(result: Result<projector_core::AppendOutcome, StoreError>, actual: u64) {
    match result {
        Err(StoreError::Conflict(conflict)) => {
            assert_eq!(conflict.actual, StreamVersion::new(actual))
        }
        other => panic!("expected a conflict at version {actual}, got {other:?}"),
    }
}

/// Every field given at append time comes back, and the store fills in version, position and
/// time.
pub async fn append_and_read_back(store: Arc<dyn EventStore>) {
    let s = stream("order-1");
    let metadata = EventMetadata {
        correlation_id: Some(CorrelationId::parse("corr-1").expect("valid")),
        causation_id: Some(CausationId::parse("cmd-1").expect("valid")),
        user_id: Some(UserId::parse("alice@example.com").expect("valid")),
    };
    let events: Vec<_> = (0..3)
        .map(|i| {
            event(
                "OrderTested",
                serde_json::json!({"i": i, "text": "żółw \"quoted\""}),
            )
            .with_schema_version(2)
            .with_metadata(metadata.clone())
        })
        .collect();
    let before = chrono::Utc::now();
    let outcome = store
        .append(&s, ExpectedVersion::NoStream, events.clone())
        .await
        .expect("append to a new stream");
    assert_eq!(outcome.stream_version, StreamVersion::new(3));
    assert_eq!(outcome.first_position, GlobalPosition::new(1));
    assert_eq!(outcome.last_position, GlobalPosition::new(3));
    assert_eq!(store.head().await.expect("head"), GlobalPosition::new(3));
    assert_eq!(
        store.stream_version(&s).await.expect("version"),
        StreamVersion::new(3)
    );

    let read = store
        .read_stream(&s, StreamVersion::new(1), ReadDirection::Forwards, 100)
        .await
        .expect("read");
    assert_eq!(read.len(), 3);
    for (i, (recorded, sent)) in read.iter().zip(&events).enumerate() {
        assert_eq!(recorded.event_id, sent.event_id);
        assert_eq!(recorded.stream_id, s);
        assert_eq!(recorded.stream_version, StreamVersion::new(i as u64 + 1));
        assert_eq!(recorded.position, GlobalPosition::new(i as u64 + 1));
        assert_eq!(recorded.event_type, sent.event_type);
        assert_eq!(recorded.schema_version, 2);
        assert_eq!(
            recorded.data.to_value().expect("json"),
            sent.data.to_value().expect("json")
        );
        assert_eq!(recorded.metadata, metadata);
        let age = recorded.recorded_at - before;
        assert!(
            age >= chrono::Duration::seconds(-1) && age < chrono::Duration::seconds(60),
            "recorded_at {} is not close to now",
            recorded.recorded_at
        );
    }

    let next = store
        .append(
            &s,
            ExpectedVersion::Exact(StreamVersion::new(3)),
            numbered(2),
        )
        .await
        .expect("append at the current version");
    assert_eq!(next.stream_version, StreamVersion::new(5));
    assert_eq!(next.first_position, GlobalPosition::new(4));
    assert_eq!(next.last_position, GlobalPosition::new(5));
}

/// Each kind of expected version accepts exactly the states it names.
pub async fn expected_version_rules(store: Arc<dyn EventStore>) {
    let s = stream("rules-1");
    assert_conflict(
        store
            .append(&s, ExpectedVersion::StreamExists, numbered(1))
            .await,
        0,
    );
    assert_conflict(
        store
            .append(
                &s,
                ExpectedVersion::Exact(StreamVersion::new(1)),
                numbered(1),
            )
            .await,
        0,
    );
    store
        .append(&s, ExpectedVersion::Exact(StreamVersion::NONE), numbered(2))
        .await
        .expect("Exact(0) is no stream");
    assert_conflict(
        store
            .append(&s, ExpectedVersion::NoStream, numbered(1))
            .await,
        2,
    );
    assert_conflict(
        store
            .append(
                &s,
                ExpectedVersion::Exact(StreamVersion::new(1)),
                numbered(1),
            )
            .await,
        2,
    );
    assert_conflict(
        store
            .append(
                &s,
                ExpectedVersion::Exact(StreamVersion::new(3)),
                numbered(1),
            )
            .await,
        2,
    );
    store
        .append(&s, ExpectedVersion::StreamExists, numbered(1))
        .await
        .expect("stream exists");
    store
        .append(&s, ExpectedVersion::Any, numbered(1))
        .await
        .expect("any");
    store
        .append(&stream("rules-2"), ExpectedVersion::Any, numbered(1))
        .await
        .expect("any on a new stream");
    assert_eq!(
        store.stream_version(&s).await.expect("version"),
        StreamVersion::new(4)
    );
    assert_eq!(store.head().await.expect("head"), GlobalPosition::new(5));
}

/// A refused append, whether by version or by a duplicate event id, leaves no trace.
pub async fn conflicts_write_nothing(store: Arc<dyn EventStore>) {
    let s = stream("atomic-1");
    let first = numbered(2);
    let stored_id = first[1].event_id;
    store
        .append(&s, ExpectedVersion::NoStream, first)
        .await
        .expect("first append");

    assert_conflict(
        store
            .append(&s, ExpectedVersion::NoStream, numbered(3))
            .await,
        2,
    );

    // The third of four events reuses a stored id: none of the four may land.
    let mut batch = numbered(4);
    batch[2] = batch[2].clone().with_event_id(stored_id);
    match store
        .append(&stream("atomic-2"), ExpectedVersion::Any, batch)
        .await
    {
        Err(StoreError::DuplicateEvent { event_id }) => assert_eq!(event_id, stored_id),
        other => panic!("expected a duplicate event error, got {other:?}"),
    }

    // The same id twice within one append is refused too.
    let mut twice = numbered(2);
    twice[1] = twice[1].clone().with_event_id(twice[0].event_id);
    assert!(matches!(
        store
            .append(&stream("atomic-3"), ExpectedVersion::Any, twice)
            .await,
        Err(StoreError::DuplicateEvent { .. })
    ));

    assert_eq!(store.head().await.expect("head"), GlobalPosition::new(2));
    for name in ["atomic-2", "atomic-3"] {
        assert_eq!(
            store.stream_version(&stream(name)).await.expect("version"),
            StreamVersion::NONE
        );
    }
    let feed = store
        .read_all(GlobalPosition::ZERO, 100)
        .await
        .expect("feed");
    assert_eq!(feed.len(), 2);

    // The store still takes appends after refusals, with no gap.
    let next = store
        .append(&stream("atomic-2"), ExpectedVersion::NoStream, numbered(1))
        .await;
    assert_eq!(next.expect("append").first_position, GlobalPosition::new(3));
}

/// Empty and oversized appends are caller errors, not storage errors.
pub async fn invalid_appends_are_refused(store: Arc<dyn EventStore>) {
    let s = stream("invalid-1");
    assert!(matches!(
        store.append(&s, ExpectedVersion::Any, Vec::new()).await,
        Err(StoreError::InvalidRequest(_))
    ));
    assert!(matches!(
        store
            .append(
                &s,
                ExpectedVersion::Any,
                numbered(MAX_EVENTS_PER_APPEND + 1)
            )
            .await,
        Err(StoreError::InvalidRequest(_))
    ));
    assert_eq!(store.head().await.expect("head"), GlobalPosition::ZERO);
    let big = store
        .append(&s, ExpectedVersion::Any, numbered(MAX_EVENTS_PER_APPEND))
        .await
        .expect("the largest allowed append");
    assert_eq!(
        big.last_position,
        GlobalPosition::new(MAX_EVENTS_PER_APPEND as u64)
    );
}
