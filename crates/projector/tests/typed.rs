//! Typed projections on real stores: they read only their event set's streams when another
//! domain shares a type name, a failing statement reached through `?` stops the projection at
//! its own event inside a larger batch, and a Redis read model receives decoded events too.

use std::time::Duration;

use projector::prelude::*;
use projector::runtime::WorkerState;
use projector::testkit::redis::TestRedis;
use serde::{Deserialize, Serialize};

fn patience() -> Duration {
    projector_testkit::wait::deadline()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(category = "counter")]
enum CounterEvent {
    Incremented { by: u32 },
}

/// Another domain that also names an event `Incremented`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(category = "gauge")]
enum GaugeEvent {
    Incremented { by: u32 },
}

/// Records what it is given; an increment of 13 runs a statement on a missing table.
struct Seen;

impl TypedSqlProjection for Seen {
    type Event = CounterEvent;
    const NAME: ProjectionName = ProjectionName::from_static("seen");
    const SCHEMA: &[&str] =
        &["CREATE TABLE seen (position BIGINT PRIMARY KEY, stream TEXT, n BIGINT)"];

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        e: &Envelope<'_, CounterEvent>,
    ) -> Result<(), ProjectionError> {
        let CounterEvent::Incremented { by } = e.event;
        let table = if by == 13 { "missing" } else { "seen" };
        let sql = format!("INSERT INTO {table} VALUES ($1, $2, $3)");
        tx.execute(&sql, params![e.position, e.stream_id, by])
            .await?;
        Ok(())
    }
}

/// An event set without a category: its filter names types only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, DomainEvent)]
enum Uncategorized {
    Incremented { by: u32 },
}

struct Loose;

impl TypedSqlProjection for Loose {
    type Event = Uncategorized;
    const NAME: ProjectionName = ProjectionName::from_static("loose");
    const SCHEMA: &[&str] = &[];

    async fn apply(
        &self,
        _tx: &mut dyn SqlTransaction,
        _e: &Envelope<'_, Uncategorized>,
    ) -> Result<(), ProjectionError> {
        Ok(())
    }
}

async fn append<E: DomainEvent>(
    events: &dyn EventStore,
    stream: &StreamId,
    event: E,
) -> GlobalPosition {
    let new = event
        .to_new_event(&EventMetadata::default())
        .expect("encodes");
    events
        .append(stream, projector::ExpectedVersion::Any, vec![new])
        .await
        .expect("append")
        .last_position
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_projection_reads_its_category_only_and_stops_at_its_own_failing_event() {
    let dir = projector_testkit::temp_dir();
    let (events, reads) = projector::sqlite::open_dir(dir.path()).expect("stores");
    let (counter, gauge) = (
        CounterEvent::stream(1).expect("id"),
        GaugeEvent::stream(1).expect("id"),
    );
    for by in [1, 2] {
        append(&*events, &counter, CounterEvent::Incremented { by }).await;
        append(&*events, &gauge, GaugeEvent::Incremented { by: 100 }).await;
    }
    let poison = append(&*events, &counter, CounterEvent::Incremented { by: 13 }).await;
    append(&*events, &counter, CounterEvent::Incremented { by: 3 }).await;

    let careless = Projector::new(events.clone(), ProjectorOptions::default())
        .with_target(SqlTarget::typed(reads.clone(), Seen))
        .with_target(SqlTarget::typed(reads.clone(), Loose));
    assert_eq!(
        careless.type_name_collisions(),
        [
            "event type Incremented: projection seen reads it from counter streams, projection loose from every stream"
        ]
    );
    let projector = Projector::new(events.clone(), ProjectorOptions::default())
        .with_target(SqlTarget::typed(reads.clone(), Seen));
    assert!(projector.type_name_collisions().is_empty());
    let handle = projector.spawn().expect("start");

    let mut status = handle.watch(&Seen::NAME).expect("watch");
    let stopped = tokio::time::timeout(
        projector::testkit::wait::deadline(),
        status.wait_for(|s| matches!(s.state, WorkerState::Stopped { .. })),
    )
    .await
    .expect("stops in time")
    .expect("worker alive")
    .clone();
    let WorkerState::Stopped { position, .. } = stopped.state else {
        unreachable!("waited for Stopped")
    };
    assert_eq!(
        position, poison,
        "stopped at the failing event, found inside its batch"
    );

    let rows = reads
        .query(
            &Seen::NAME,
            "SELECT stream, n FROM seen ORDER BY position",
            params![],
        )
        .await
        .expect("query");
    let seen: Vec<(String, i64)> = rows
        .iter()
        .map(|r| (r.get("stream").expect("stream"), r.get("n").expect("n")))
        .collect();
    assert_eq!(
        seen,
        [("counter-1".to_owned(), 1), ("counter-1".to_owned(), 2)]
    );
    handle.stop().await;
}

/// Each counter's latest increment, as a Redis string.
struct LastIncrement;

impl TypedRedisProjection for LastIncrement {
    type Event = CounterEvent;
    const NAME: ProjectionName = ProjectionName::from_static("last_increment");

    async fn apply(
        &self,
        batch: &mut RedisBatch,
        e: &Envelope<'_, CounterEvent>,
    ) -> Result<(), ProjectionError> {
        let CounterEvent::Incremented { by } = e.event;
        batch.set(format!("last:{}", e.stream_id), by.to_string()); // one write, buffered
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_redis_projection_receives_decoded_events_of_its_category() {
    let Some(redis) = TestRedis::create().await else {
        return;
    };
    let dir = projector_testkit::temp_dir();
    let (events, _reads) = projector::sqlite::open_dir(dir.path()).expect("stores");
    let counter = CounterEvent::stream(7).expect("id");
    append(&*events, &counter, CounterEvent::Incremented { by: 4 }).await;
    append(
        &*events,
        &GaugeEvent::stream(7).expect("id"),
        GaugeEvent::Incremented { by: 9 },
    )
    .await;
    let last = append(&*events, &counter, CounterEvent::Incremented { by: 5 }).await;

    let namespace = Namespace::parse(redis.namespace()).expect("namespace");
    let store = RedisStore::connect(redis.url(), namespace)
        .await
        .expect("redis");
    let target = std::sync::Arc::new(RedisTarget::typed(store, LastIncrement));
    let handle = Projector::new(events.clone(), ProjectorOptions::default())
        .with_target(std::sync::Arc::clone(&target))
        .spawn()
        .expect("start");
    handle
        .wait_for(&LastIncrement::NAME, last, patience())
        .await
        .expect("applied");
    let read = target.read().await.expect("read");
    assert_eq!(
        read.get("last:counter-7").await.expect("get"),
        Some("5".to_owned())
    );
    assert_eq!(read.get("last:gauge-7").await.expect("get"), None);
    handle.stop().await;
}
