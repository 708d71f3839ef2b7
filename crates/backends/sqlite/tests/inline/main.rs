//! Inline projections on SQLite: the read model commits with the events, a failing inline
//! projection refuses its append alone, a checkpoint left behind is caught up first, and
//! appends of events it ignores leave its file alone.

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    EventAppender, EventFeed, EventFilter, EventType, ExpectedVersion, GlobalPosition, JsonPayload,
    NewEvent, Projection, ProjectionError, ProjectionName, RecordedEvent, StoreError, StreamId,
};
use projector_sql::{SqlProjection, SqlReadStore, SqlTransaction, SqlValue};
use projector_sqlite::{InlineProjections, SqliteEventStore, SqliteReadStore};

const NAME: ProjectionName = ProjectionName::from_static("notes");

/// Counts each stream's `noted` events; fails on one whose payload says `"fail": true`.
struct Notes;

impl Projection for Notes {
    fn name(&self) -> ProjectionName {
        NAME
    }

    fn handles(&self) -> EventFilter {
        EventFilter::types(&["noted"])
    }
}

#[async_trait]
impl SqlProjection for Notes {
    fn schema(&self) -> &[&str] {
        &["CREATE TABLE notes (stream TEXT PRIMARY KEY, n INTEGER NOT NULL, last INTEGER NOT NULL)"]
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

struct Setup {
    _dir: tempfile::TempDir,
    events: Arc<SqliteEventStore>,
    reads: SqliteReadStore,
}

/// An event store and a read store where `notes` serves from an empty generation.
async fn setup() -> Setup {
    let dir = projector_testkit::temp_dir();
    let events = Arc::new(projector_testkit::sqlite::event_store(dir.path()));
    let reads = projector_testkit::sqlite::read_store(dir.path());
    let generation = reads.create_generation(&Notes).await.expect("generation");
    reads
        .activate(&NAME, generation, None)
        .await
        .expect("activate");
    Setup {
        _dir: dir,
        events,
        reads,
    }
}

fn enable(setup: &Setup) {
    let inline = InlineProjections::new(
        setup.reads.clone(),
        [Arc::new(Notes) as Arc<dyn SqlProjection>],
    )
    .expect("inline");
    assert_eq!(inline.names(), vec![NAME]);
    setup.events.set_inline(inline);
}

/// (stream, count) of every row, by stream.
async fn notes(reads: &SqliteReadStore) -> Vec<(String, i64)> {
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

async fn checkpoint(reads: &SqliteReadStore) -> GlobalPosition {
    let serving = reads
        .serving(&NAME)
        .await
        .expect("serving")
        .expect("serves");
    reads
        .checkpoint(&NAME, serving.generation)
        .await
        .expect("checkpoint")
        .position
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_is_in_the_read_model_when_it_is_answered() {
    let setup = setup().await;
    enable(&setup);
    for i in 1..=20u64 {
        let position = append_note(&setup, &format!("note-{}", i % 3)).await;
        // No waiting: the read model committed before the answer.
        assert_eq!(checkpoint(&setup.reads).await, position);
        let total: i64 = notes(&setup.reads).await.iter().map(|(_, n)| n).sum();
        assert_eq!(total, i as i64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_inline_projection_refuses_its_append_alone() {
    let setup = setup().await;
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
    let setup = setup().await;
    for _ in 0..5 {
        append_note(&setup, "note-a").await;
    }
    assert_eq!(checkpoint(&setup.reads).await, GlobalPosition::ZERO);
    enable(&setup);
    let position = append_note(&setup, "note-b").await;
    assert_eq!(checkpoint(&setup.reads).await, position);
    assert_eq!(
        notes(&setup.reads).await,
        vec![("note-a".to_owned(), 5), ("note-b".to_owned(), 1)]
    );
}

/// A read model whose checkpoint is past the event store's head (restored from another copy)
/// is never written inline: the append goes through and the read model is left for a rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_model_ahead_of_the_events_is_left_alone() {
    let setup = setup().await;
    enable(&setup);
    let serving = setup
        .reads
        .serving(&NAME)
        .await
        .expect("serving")
        .expect("serves");
    let file = setup.reads.serving_file(&NAME).expect("a serving file");
    assert!(file.ends_with(format!("notes.{}.db", serving.generation)));
    rusqlite::Connection::open(&file)
        .expect("open the read model")
        .execute_batch("UPDATE _projector_checkpoint SET position = 100 WHERE id = 1")
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

/// A group of events the read model ignores commits without it: its file is not written, and
/// the next append it takes moves its checkpoint past them all, inline, however many came
/// between (more than a catch-up inside an append reads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_the_read_model_ignores_leave_its_file_alone() {
    let setup = setup().await;
    enable(&setup);
    let noted = append_note(&setup, "note-a").await;
    assert_eq!(checkpoint(&setup.reads).await, noted);
    // Changes when another connection commits to the file, and only then.
    let file = setup.reads.serving_file(&NAME).expect("a serving file");
    let watcher = rusqlite::Connection::open(&file).expect("open the read model");
    let version = || {
        watcher
            .query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))
            .expect("data version")
    };
    let before = version();
    let mut last = noted;
    for _ in 0..21 {
        last = append_ignored(&setup, 500).await;
    }
    assert!(last.get() - noted.get() > 10_000);
    assert_eq!(
        version(),
        before,
        "no group of ignored events wrote the read model"
    );
    assert_eq!(checkpoint(&setup.reads).await, noted);
    let again = append_note(&setup, "note-a").await;
    assert_eq!(
        checkpoint(&setup.reads).await,
        again,
        "the append it takes moved the checkpoint past the ignored events, inline"
    );
    assert_eq!(notes(&setup.reads).await, vec![("note-a".to_owned(), 2)]);
}

/// A process starting afresh does not know how current the read model is: its first group
/// reads the checkpoint left behind the ignored events and catches up from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_start_catches_up_from_the_checkpoint_left_behind() {
    let setup = setup().await;
    enable(&setup);
    let noted = append_note(&setup, "note-a").await;
    append_ignored(&setup, 3).await;
    assert_eq!(checkpoint(&setup.reads).await, noted);
    // As a restart would: inline projections that know nothing yet.
    enable(&setup);
    let last = append_ignored(&setup, 1).await;
    assert_eq!(
        checkpoint(&setup.reads).await,
        last,
        "the first group read the checkpoint and caught up"
    );
    let again = append_note(&setup, "note-a").await;
    assert_eq!(checkpoint(&setup.reads).await, again);
    assert_eq!(notes(&setup.reads).await, vec![("note-a".to_owned(), 2)]);
}

/// Appends a note to `stream`; its position.
async fn append_note(setup: &Setup, stream: &str) -> GlobalPosition {
    setup
        .events
        .append(
            &StreamId::parse(stream).expect("stream"),
            ExpectedVersion::Any,
            vec![note(false)],
        )
        .await
        .expect("append")
        .last_position
}

/// Appends `count` events `notes` ignores to a stream of their own; the last one's position.
async fn append_ignored(setup: &Setup, count: usize) -> GlobalPosition {
    let events = (0..count)
        .map(|_| {
            NewEvent::new(
                EventType::from_static("other"),
                JsonPayload::from_json("{}").expect("json"),
            )
        })
        .collect();
    setup
        .events
        .append(
            &StreamId::from_static("other-1"),
            ExpectedVersion::Any,
            events,
        )
        .await
        .expect("append")
        .last_position
}
