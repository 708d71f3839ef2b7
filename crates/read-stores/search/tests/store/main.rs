//! The search store on its own: batches of partial updates, commits that survive a reopen and
//! a crash, swaps under a reader, and one process per directory.

#[path = "../common/notes.rs"]
mod notes;

use std::sync::Arc;

use notes::{NOTES, Note, Notes, recorded, search};
use projector_core::{
    ApplyError, Checkpoint, Generation, GlobalPosition, ProjectionTarget, ReadStoreError,
    RecordedEvent, ServingAt,
};
use projector_search::tantivy::{Index, TantivyDocument, Term};
use projector_search::{ID_FIELD, SOURCE_FIELD, SearchError, SearchStore, SearchTarget};
use serde_json::json;

/// A store in a temporary directory, with the notes target over it.
struct Fixture {
    dir: tempfile::TempDir,
    store: SearchStore,
    target: SearchTarget,
}

impl Fixture {
    fn new() -> Self {
        Self::open(projector_testkit::temp_dir())
    }

    fn open(dir: tempfile::TempDir) -> Self {
        let store = SearchStore::open(dir.path().join("search")).expect("store");
        let target = SearchTarget::new(store.clone(), Notes);
        Self { dir, store, target }
    }

    /// The same directory opened again, as a restarted process would (this one dropped first:
    /// the lock is its until then).
    fn reopen(self) -> Self {
        let Self { dir, store, target } = self;
        drop(target);
        drop(store);
        Self::open(dir)
    }

    fn note(&self, id: &str) -> Option<Note> {
        self.store
            .read(&NOTES)
            .expect("read")
            .get(id)
            .expect("note")
    }
}

/// A generation created and made to serve.
async fn serving(target: &SearchTarget) -> Generation {
    let generation = target.create_generation().await.expect("generation");
    target.activate(generation, None).await.expect("activate");
    generation
}

/// Applies `events` to `generation` from `from`; returns the checkpoint after them.
async fn apply(
    target: &SearchTarget,
    generation: Generation,
    from: u64,
    events: Vec<RecordedEvent>,
) -> Result<Checkpoint, ApplyError> {
    let to = Checkpoint::after(events.last().expect("events"));
    target
        .apply(generation, Arc::from(events), GlobalPosition::new(from), to)
        .await
        .map(|()| to)
}

fn noted(position: u64, id: &str, text: &str) -> RecordedEvent {
    recorded(position, "Noted", json!({"id": id, "text": text}))
}

fn tagged(position: u64, id: &str, tag: &str) -> RecordedEvent {
    recorded(position, "Tagged", json!({"id": id, "tag": tag}))
}

fn erased(position: u64, id: &str) -> RecordedEvent {
    recorded(position, "Erased", json!({"id": id}))
}

#[tokio::test]
async fn a_batch_gets_puts_and_deletes_seeing_its_own_changes() {
    let fixture = Fixture::new();
    let generation = serving(&fixture.target).await;
    apply(
        &fixture.target,
        generation,
        0,
        vec![
            noted(1, "a", "hello world"),
            // Reads the note put two events before, in the same batch.
            tagged(2, "a", "greeting"),
            noted(3, "b", "short lived"),
            erased(4, "b"),
            noted(5, "c", "hello again"),
            tagged(6, "c", "greeting"),
        ],
    )
    .await
    .expect("first batch");
    assert_eq!(
        fixture.note("a"),
        Some(Note {
            text: "hello world".into(),
            tags: vec!["greeting".into()],
        })
    );
    assert_eq!(fixture.note("b"), None, "put then deleted in one batch");
    let read = fixture.store.read(&NOTES).expect("read");
    assert_eq!(read.checkpoint().position, GlobalPosition::new(6));
    assert_eq!(search(&read, "hello"), ["a", "c"]);
    assert_eq!(search(&read, "tags:greeting"), ["a", "c"]);

    // A later batch changes committed notes in part, and deletes one.
    apply(
        &fixture.target,
        generation,
        6,
        vec![tagged(7, "a", "second"), erased(8, "c")],
    )
    .await
    .expect("second batch");
    assert_eq!(
        fixture.note("a").expect("a").tags,
        ["greeting", "second"],
        "the tag joined the note as it was"
    );
    let read = fixture.store.read(&NOTES).expect("read");
    assert_eq!(search(&read, "hello"), ["a"], "one document per key");
    assert_eq!(search(&read, "tags:second"), ["a"]);
    assert_eq!(read.searcher().num_docs(), 1);

    // A batch whose event fails changes nothing, not even the notes before the failure.
    match apply(
        &fixture.target,
        generation,
        8,
        vec![noted(9, "d", "never seen"), tagged(10, "missing", "x")],
    )
    .await
    {
        Err(ApplyError::Projection(error)) => {
            assert_eq!(error.position, Some(GlobalPosition::new(10)));
        }
        other => panic!("expected the projection's error, got {other:?}"),
    }
    assert_eq!(fixture.note("d"), None);
    assert_eq!(
        fixture
            .target
            .checkpoint(generation)
            .await
            .expect("checkpoint")
            .position,
        GlobalPosition::new(8)
    );
}

#[tokio::test]
async fn a_reopened_store_reads_the_committed_checkpoint() {
    let fixture = Fixture::new();
    let generation = serving(&fixture.target).await;
    let reached = apply(
        &fixture.target,
        generation,
        0,
        vec![noted(1, "a", "kept"), tagged(2, "a", "x")],
    )
    .await
    .expect("batch");

    let fixture = fixture.reopen();
    assert_eq!(
        fixture.target.serving().await.expect("serving"),
        Some((generation, 1))
    );
    assert_eq!(
        fixture
            .target
            .checkpoint(generation)
            .await
            .expect("checkpoint"),
        reached
    );
    let read = fixture.store.read(&NOTES).expect("read");
    assert_eq!(read.checkpoint(), reached);
    assert_eq!(search(&read, "kept"), ["a"]);
    // The projector carries on from there.
    apply(&fixture.target, generation, 2, vec![tagged(3, "a", "y")])
        .await
        .expect("the next batch");
    assert_eq!(fixture.note("a").expect("a").tags, ["x", "y"]);
}

#[tokio::test]
async fn a_crash_before_the_commit_leaves_the_previous_commit() {
    let fixture = Fixture::new();
    let generation = serving(&fixture.target).await;
    let reached = apply(
        &fixture.target,
        generation,
        0,
        vec![noted(1, "a", "committed"), noted(2, "b", "committed too")],
    )
    .await
    .expect("batch");
    let dir = fixture.store.generation_dir(&NOTES, generation);
    let Fixture {
        dir: root,
        store,
        target,
    } = fixture;
    drop(target);
    drop(store);
    // A process that wrote the next batch's documents and died before its commit.
    let index = Index::open_in_dir(&dir).expect("index");
    let schema = index.schema();
    let id = schema.get_field(ID_FIELD).expect("id");
    let source = schema.get_field(SOURCE_FIELD).expect("source");
    let writer = index.writer::<TantivyDocument>(15_000_000).expect("writer");
    writer.delete_term(Term::from_field_text(id, "a"));
    let mut half = TantivyDocument::default();
    half.add_text(id, "c");
    half.add_text(source, r#"{"text":"half written","tags":[]}"#);
    writer.add_document(half).expect("add");
    drop(writer);

    let fixture = Fixture::open(root);
    assert_eq!(
        fixture
            .target
            .checkpoint(generation)
            .await
            .expect("checkpoint"),
        reached
    );
    assert!(
        fixture.note("a").is_some(),
        "the uncommitted delete is gone"
    );
    assert_eq!(fixture.note("c"), None, "the uncommitted document is gone");
    apply(&fixture.target, generation, 2, vec![noted(3, "d", "after")])
        .await
        .expect("the batch applied again after the crash");
    let read = fixture.store.read(&NOTES).expect("read");
    assert_eq!(search(&read, "committed after half"), ["a", "b", "d"]);
}

#[tokio::test]
async fn a_reader_keeps_its_generation_through_a_swap() {
    let fixture = Fixture::new();
    let first = serving(&fixture.target).await;
    let first_at = apply(
        &fixture.target,
        first,
        0,
        vec![noted(1, "old", "before the swap")],
    )
    .await
    .expect("batch");
    let before = fixture.store.read(&NOTES).expect("read");

    let rebuild = fixture
        .target
        .create_generation()
        .await
        .expect("generation");
    apply(
        &fixture.target,
        rebuild,
        0,
        vec![noted(1, "new", "after the swap")],
    )
    .await
    .expect("rebuild batch");
    fixture
        .target
        .activate(
            rebuild,
            Some(ServingAt {
                generation: first,
                checkpoint: first_at.position,
            }),
        )
        .await
        .expect("swap");
    assert!(
        !fixture.store.generation_dir(&NOTES, first).exists(),
        "the replaced generation's directory is removed"
    );

    // The handle taken before the swap still reads the old generation, whole.
    assert_eq!(before.generation(), first);
    assert_eq!(search(&before, "swap"), ["old"]);
    assert_eq!(
        before.get::<Note>("old").expect("note").map(|n| n.text),
        Some("before the swap".to_owned())
    );
    let after = fixture.store.read(&NOTES).expect("read");
    assert_eq!(after.generation(), rebuild);
    assert_eq!(search(&after, "swap"), ["new"]);
}

#[tokio::test]
async fn one_process_at_a_time_and_reports_beside_it() {
    let fixture = Fixture::new();
    let root = fixture.store.root().to_path_buf();
    match SearchStore::open(&root) {
        Err(error @ SearchError::Locked { .. }) => {
            assert!(
                error.to_string().contains(&root.display().to_string()),
                "{error}"
            );
        }
        other => panic!("a second store on the same directory: {other:?}"),
    }
    let generation = serving(&fixture.target).await;
    let reached = apply(&fixture.target, generation, 0, vec![noted(1, "a", "seen")])
        .await
        .expect("batch");

    // A report reads beside the writer, and cannot write.
    let report = SearchTarget::new(SearchStore::open_read_only(&root), Notes);
    assert_eq!(
        report.serving().await.expect("serving"),
        Some((generation, 1))
    );
    assert_eq!(
        report.checkpoint(generation).await.expect("checkpoint"),
        reached
    );
    match report.create_generation().await {
        Err(ReadStoreError::Query {
            transient: false, ..
        }) => {}
        other => panic!("a write to a read-only store: {other:?}"),
    }

    let fixture = fixture.reopen();
    assert_eq!(fixture.note("a").map(|n| n.text), Some("seen".to_owned()));
}

/// The index's own threads (indexing, merging) run at a lower CPU priority than the process,
/// those the writer starts with it and those it starts again at each commit alike: under CPU
/// pressure the write path and the other read models come first.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_index_writes_at_a_lower_cpu_priority() {
    let fixture = Fixture::new();
    let generation = serving(&fixture.target).await;
    apply(&fixture.target, generation, 0, vec![noted(1, "a", "one")])
        .await
        .expect("first batch");
    apply(&fixture.target, generation, 1, vec![noted(2, "b", "two")])
        .await
        .expect("second batch");
    let own = nice_of("self");
    let index_threads: Vec<(String, i32)> = std::fs::read_dir("/proc/self/task")
        .expect("threads")
        .filter_map(|entry| {
            let tid = entry.ok()?.file_name().into_string().ok()?;
            let name = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
            let name = name.trim().to_owned();
            let index = ["thrd-tantivy", "merge_thread", "segment_updater"]
                .iter()
                .any(|prefix| name.starts_with(prefix));
            index.then(|| (name, nice_of(&format!("self/task/{tid}"))))
        })
        .collect();
    assert!(
        index_threads
            .iter()
            .any(|(name, _)| name.starts_with("merge_thread")),
        "the writer's threads are running: {index_threads:?}"
    );
    for (name, nice) in &index_threads {
        assert_eq!(
            *nice,
            (own + 10).min(19),
            "{name} runs lower than the process"
        );
    }
    assert_eq!(fixture.note("b").expect("b").text, "two");
}

/// The nice value of the process or thread at `/proc/{of}`.
#[cfg(target_os = "linux")]
fn nice_of(of: &str) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{of}/stat")).expect("stat");
    // The fields after the name, which is in parentheses and may hold spaces: state is the
    // third field of the line and nice the nineteenth.
    let after_name = &stat[stat.rfind(')').expect("name") + 2..];
    after_name
        .split(' ')
        .nth(16)
        .expect("nice")
        .parse()
        .expect("a number")
}
