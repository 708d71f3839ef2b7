//! Inline projections on PostgreSQL: the read model commits in the events' transaction, a
//! failing inline projection refuses its append alone, a checkpoint left behind is caught up
//! first, and one ahead of the events is left alone. A fresh database per test.

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    AppendOutcome, Checkpoint, EventAppender, EventFeed, EventFilter, EventType, ExpectedVersion,
    GlobalPosition, JsonPayload, NewEvent, Projection, ProjectionError, ProjectionName,
    RecordedEvent, ServingAt, ServingGeneration, StoreError, StreamId,
};
use projector_postgres::{
    PgEventStore, PgEventStoreOptions, PgInlineProjections, PgReadStore, PgReadStoreOptions,
};
use projector_sql::{SqlProjection, SqlReadStore, SqlTransaction, SqlValue};
use projector_testkit::postgres::TestDatabase;

const NAME: ProjectionName = ProjectionName::from_static("notes");

/// Counts each stream's events; fails on an event whose payload says `"fail": true`.
struct Notes;

impl Projection for Notes {
    fn name(&self) -> ProjectionName {
        NAME
    }

    fn handles(&self) -> EventFilter {
        EventFilter::Types(vec![EventType::from_static("noted")])
    }
}

#[async_trait]
impl SqlProjection for Notes {
    fn schema(&self) -> &[&str] {
        &["CREATE TABLE notes (stream TEXT PRIMARY KEY, n BIGINT NOT NULL, last BIGINT NOT NULL)"]
    }

    fn inline(&self) -> bool {
        true
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            if event.data.as_str().contains("\"fail\":true") {
                return Err(ProjectionError {
                    position: Some(event.position),
                    transient: false,
                    message: "this note cannot be taken".into(),
                });
            }
            tx.execute(
                "INSERT INTO notes (stream, n, last) VALUES ($1, 1, $2) \
                 ON CONFLICT (stream) DO UPDATE SET n = notes.n + 1, last = $2",
                projector_sql::params![
                    event.stream_id.as_str(),
                    i64::try_from(event.position.get()).unwrap_or(0)
                ],
            )
            .await
            .map_err(|e| ProjectionError {
                position: Some(event.position),
                transient: false,
                message: e.to_string(),
            })?;
        }
        Ok(())
    }
}

fn note(fail: bool) -> NewEvent {
    NewEvent::new(
        EventType::from_static("noted"),
        JsonPayload::from_json(format!("{{\"fail\":{fail}}}")).expect("json"),
    )
}

/// An event the notes do not take.
fn aside() -> NewEvent {
    NewEvent::new(
        EventType::from_static("set-aside"),
        JsonPayload::from_json("{}".to_owned()).expect("json"),
    )
}

/// Appends `event` to `stream`, whatever its version.
async fn append(setup: &Setup, stream: &'static str, event: NewEvent) -> AppendOutcome {
    setup
        .events
        .append(
            &StreamId::from_static(stream),
            ExpectedVersion::Any,
            vec![event],
        )
        .await
        .expect("append")
}

struct Setup {
    _db: TestDatabase,
    events: Arc<PgEventStore>,
    reads: PgReadStore,
}

/// An event store and a read store on a fresh database where `notes` serves from an empty
/// generation; `None` (the test skips) when PostgreSQL is away outside CI.
async fn setup() -> Option<Setup> {
    let db = TestDatabase::create().await?;
    let events = Arc::new(
        PgEventStore::connect(db.url(), PgEventStoreOptions::default())
            .await
            .expect("event store"),
    );
    let reads = PgReadStore::connect(db.url(), PgReadStoreOptions::default())
        .await
        .expect("read store");
    let generation = reads.create_generation(&Notes).await.expect("generation");
    reads
        .activate(&NAME, generation, None)
        .await
        .expect("activate");
    Some(Setup {
        _db: db,
        events,
        reads,
    })
}

fn enable(setup: &Setup) {
    let inline = PgInlineProjections::new([Arc::new(Notes) as Arc<dyn SqlProjection>]);
    assert_eq!(inline.names(), vec![NAME]);
    setup.events.set_inline(inline);
}

/// (stream, count) of every row, by stream.
async fn notes(reads: &PgReadStore) -> Vec<(String, i64)> {
    reads
        .query(&NAME, "SELECT stream, n FROM notes ORDER BY stream", &[])
        .await
        .expect("query")
        .into_iter()
        .map(
            |row| match (row.values()[0].clone(), row.values()[1].clone()) {
                (SqlValue::Text(s), SqlValue::Int(n)) => (s, n),
                other => panic!("unexpected row {other:?}"),
            },
        )
        .collect()
}

/// The generation serving the notes.
async fn serving_now(reads: &PgReadStore) -> ServingGeneration {
    reads
        .serving(&NAME)
        .await
        .expect("serving")
        .expect("serves")
}

async fn checkpoint(reads: &PgReadStore) -> GlobalPosition {
    let serving = serving_now(reads).await;
    reads
        .checkpoint(&NAME, serving.generation)
        .await
        .expect("checkpoint")
        .position
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_is_in_the_read_model_when_it_is_answered() {
    let Some(setup) = setup().await else { return };
    enable(&setup);
    for i in 1..=20u64 {
        let stream = StreamId::parse(format!("note-{}", i % 3)).expect("stream");
        let outcome = setup
            .events
            .append(&stream, ExpectedVersion::Any, vec![note(false)])
            .await
            .expect("append");
        // No waiting: the read model committed before the answer.
        assert_eq!(checkpoint(&setup.reads).await, outcome.last_position);
        let total: i64 = notes(&setup.reads).await.iter().map(|(_, n)| n).sum();
        assert_eq!(total, i as i64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_inline_projection_refuses_its_append_alone() {
    let Some(setup) = setup().await else { return };
    enable(&setup);
    let mut appends = Vec::new();
    for i in 0..12 {
        let events = Arc::clone(&setup.events);
        appends.push(tokio::spawn(async move {
            let stream = StreamId::parse(format!("note-{i}")).expect("stream");
            let result = events
                .append(&stream, ExpectedVersion::NoStream, vec![note(i % 4 == 1)])
                .await;
            (i, result)
        }));
    }
    for append in appends {
        let (i, result) = append.await.expect("task");
        match result {
            Err(StoreError::InlineProjection {
                projection,
                message,
            }) => {
                assert_eq!(i % 4, 1, "append {i} refused: {message}");
                assert_eq!(projection, "notes");
                assert!(message.contains("cannot be taken"), "{message}");
            }
            Ok(_) => assert_ne!(i % 4, 1, "append {i} should have been refused"),
            Err(other) => panic!("append {i}: {other}"),
        }
    }
    let stored = setup
        .events
        .read_all(GlobalPosition::ZERO, 100)
        .await
        .expect("read");
    assert_eq!(stored.len(), 9, "the refused appends wrote nothing");
    assert!(stored.iter().all(|e| !e.data.as_str().contains("true")));
    assert_eq!(notes(&setup.reads).await.len(), 9);
    assert_eq!(
        checkpoint(&setup.reads).await,
        stored.last().expect("events").position
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_left_behind_is_caught_up_by_the_next_append() {
    let Some(setup) = setup().await else { return };
    let stream = StreamId::from_static("note-a");
    for _ in 0..5 {
        setup
            .events
            .append(&stream, ExpectedVersion::Any, vec![note(false)])
            .await
            .expect("append");
    }
    assert_eq!(checkpoint(&setup.reads).await, GlobalPosition::ZERO);
    enable(&setup);
    let outcome = setup
        .events
        .append(
            &StreamId::from_static("note-b"),
            ExpectedVersion::Any,
            vec![note(false)],
        )
        .await
        .expect("append");
    assert_eq!(checkpoint(&setup.reads).await, outcome.last_position);
    assert_eq!(
        notes(&setup.reads).await,
        vec![("note-a".to_owned(), 5), ("note-b".to_owned(), 1)]
    );
}

/// An append the read model takes nothing of moves its checkpoint to the new head and writes
/// no row; the first after a checkpoint left behind catches up the events missed first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_the_read_model_takes_nothing_of_moves_its_checkpoint() {
    let Some(setup) = setup().await else { return };
    append(&setup, "note-a", note(false)).await;
    append(&setup, "note-a", note(false)).await;
    assert_eq!(checkpoint(&setup.reads).await, GlobalPosition::ZERO);
    enable(&setup);
    for _ in 0..3 {
        let last = append(&setup, "other-a", aside()).await.last_position;
        assert_eq!(checkpoint(&setup.reads).await, last);
        assert_eq!(notes(&setup.reads).await, vec![("note-a".to_owned(), 2)]);
    }
    let last = append(&setup, "note-b", note(false)).await.last_position;
    assert_eq!(checkpoint(&setup.reads).await, last);
    assert_eq!(
        notes(&setup.reads).await,
        vec![("note-a".to_owned(), 2), ("note-b".to_owned(), 1)]
    );
}

/// A read model whose checkpoint is past the event store's head (restored from another copy)
/// is never written inline: the append goes through and the read model is left for a rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_model_ahead_of_the_events_is_left_alone() {
    let Some(setup) = setup().await else { return };
    enable(&setup);
    let serving = serving_now(&setup.reads).await;
    let schema = setup
        .reads
        .serving_schema(&NAME)
        .await
        .expect("catalog")
        .expect("a serving schema");
    assert!(
        schema.ends_with(&serving.generation.to_string()),
        "{schema}"
    );
    setup
        .events
        .pool()
        .get()
        .await
        .expect("connection")
        .batch_execute(&format!(
            "UPDATE \"{schema}\"._projector_checkpoint SET position = 100 WHERE id = 1"
        ))
        .await
        .expect("move the checkpoint ahead");
    setup
        .events
        .append(
            &StreamId::from_static("note-a"),
            ExpectedVersion::Any,
            vec![note(false)],
        )
        .await
        .expect("the append goes through");
    assert_eq!(checkpoint(&setup.reads).await, GlobalPosition::new(100));
    assert!(notes(&setup.reads).await.is_empty());
}

/// A rebuilt generation swaps in although appends moved the serving checkpoint since the
/// rebuild last looked at it: under the appends' head lock the new generation is caught up to
/// the head, so the swap never waits for a moment without writes, and the new generation holds
/// every event the serving one does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_swaps_in_while_appends_move_the_serving_checkpoint() {
    let Some(setup) = setup().await else { return };
    enable(&setup);
    for _ in 0..3 {
        append(&setup, "note-a", note(false)).await;
    }
    let serving = serving_now(&setup.reads).await;
    let seen = ServingAt {
        generation: serving.generation,
        checkpoint: checkpoint(&setup.reads).await,
    };
    // The rebuild builds what it has read so far; the appends then move the serving
    // checkpoint past what it saw.
    let rebuilt = setup
        .reads
        .create_generation(&Notes)
        .await
        .expect("a generation");
    let history = setup
        .events
        .read_all(GlobalPosition::ZERO, 100)
        .await
        .expect("the feed");
    setup
        .reads
        .apply(
            Arc::new(Notes),
            rebuilt,
            history.into(),
            GlobalPosition::ZERO,
            Checkpoint {
                position: seen.checkpoint,
                last_event_at: None,
            },
        )
        .await
        .expect("the rebuild's batch");
    append(&setup, "note-b", note(false)).await;
    let head = append(&setup, "note-a", note(false)).await.last_position;
    assert!(checkpoint(&setup.reads).await > seen.checkpoint);

    setup
        .reads
        .activate_inline(Arc::new(Notes), rebuilt, Some(seen))
        .await
        .expect("the rebuild swaps in");
    let now = serving_now(&setup.reads).await;
    assert_eq!(now.generation, rebuilt);
    assert_eq!(checkpoint(&setup.reads).await, head);
    assert_eq!(
        notes(&setup.reads).await,
        vec![("note-a".to_owned(), 4), ("note-b".to_owned(), 1)]
    );
    // The next append lands in the new generation.
    append(&setup, "note-b", note(false)).await;
    assert_eq!(
        notes(&setup.reads).await,
        vec![("note-a".to_owned(), 4), ("note-b".to_owned(), 2)]
    );
}
