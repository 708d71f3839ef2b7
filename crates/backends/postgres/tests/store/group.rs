//! Group commit: the append statement decides each append of a group against its stream's
//! stored version, writes nothing when another process moved the head first, and the writer
//! then appends again holding the head lock. The single-append statement answers as a group of
//! one would. Many concurrent appends through one store, to one stream or with one event id,
//! end as if they had come one after another.

use futures::future::join_all;
use projector_core::{
    EventAppender, EventFeed, ExpectedVersion, GlobalPosition, ReadDirection, StoreError, StreamId,
    StreamReader, StreamVersion,
};
use projector_postgres::{PgEventStore, PgEventStoreOptions};
use projector_testkit::events::numbered;
use projector_testkit::postgres::TestDatabase;
use projector_testkit::wait::eventually;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, NoTls};
use uuid::Uuid;

const APPEND_GROUP: &str = include_str!("../../src/sql/append_group.sql");
const APPEND_ONE: &str = include_str!("../../src/sql/append_one.sql");

/// One append's answer: accepted, stored version, first position.
type Answer = (bool, i64, Option<i64>);

/// A migrated database and a plain connection to it.
async fn database() -> Option<(TestDatabase, tokio_postgres::Client)> {
    let database = TestDatabase::create().await?;
    // Connecting runs the migrations.
    PgEventStore::connect(database.url(), PgEventStoreOptions::default())
        .await
        .expect("connect")
        .close()
        .await;
    let client = connect(&database).await;
    Some((database, client))
}

async fn connect(database: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(database.url(), NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

/// The event columns these tests do not vary, for `n` events: type, schema version, data and
/// the three metadata ids.
struct FixedColumns {
    types: Vec<&'static str>,
    schema_versions: Vec<i32>,
    data: Vec<&'static str>,
    metadata: Vec<Option<&'static str>>,
}

impl FixedColumns {
    fn new(n: usize) -> Self {
        Self {
            types: vec!["E"; n],
            schema_versions: vec![1; n],
            data: vec!["{}"; n],
            metadata: vec![None; n],
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.types,
            &self.schema_versions,
            &self.data,
            &self.metadata,
            &self.metadata,
            &self.metadata,
        ]
    }
}

/// Runs the group statement for appends of (stream, kind, expected, events).
async fn append_group(
    client: &impl GenericClient,
    appends: &[(&str, i16, i64, &[Uuid])],
) -> Vec<Answer> {
    let streams: Vec<&str> = appends.iter().map(|a| a.0).collect();
    let kinds: Vec<i16> = appends.iter().map(|a| a.1).collect();
    let versions: Vec<i64> = appends.iter().map(|a| a.2).collect();
    let counts: Vec<i32> = appends.iter().map(|a| a.3.len() as i32).collect();
    let mut owners = Vec::new();
    let mut places = Vec::new();
    let mut ids = Vec::new();
    for (index, append) in (1i32..).zip(appends) {
        for (place, id) in (1i64..).zip(append.3) {
            owners.push(index);
            places.push(place);
            ids.push(*id);
        }
    }
    let fixed = FixedColumns::new(ids.len());
    let mut params: Vec<&(dyn ToSql + Sync)> =
        vec![&streams, &kinds, &versions, &counts, &owners, &places, &ids];
    params.extend(fixed.params());
    client
        .query(APPEND_GROUP, &params)
        .await
        .expect("append group")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// Runs the single-append statement for an append of (stream, kind, expected, events).
async fn append_one(
    client: &impl GenericClient,
    (stream, kind, expected, ids): (&str, i16, i64, &[Uuid]),
) -> Answer {
    let n = ids.len();
    let count = n as i32;
    let places: Vec<i64> = (1..=n as i64).collect();
    let fixed = FixedColumns::new(n);
    let mut params: Vec<&(dyn ToSql + Sync)> =
        vec![&stream, &kind, &expected, &count, &places, &ids];
    params.extend(fixed.params());
    let row = client
        .query_one(APPEND_ONE, &params)
        .await
        .expect("append one");
    (row.get(0), row.get(1), row.get(2))
}

/// Which append statement a test runs.
#[derive(Clone, Copy, Debug)]
enum Statement {
    Group,
    One,
}

impl Statement {
    async fn append(
        self,
        client: &impl GenericClient,
        append: (&str, i16, i64, &[Uuid]),
    ) -> Answer {
        match self {
            Statement::Group => append_group(client, &[append]).await.remove(0),
            Statement::One => append_one(client, append).await,
        }
    }
}

async fn feed(client: &impl GenericClient) -> Vec<(i64, String, i64, Uuid)> {
    client
        .query(
            "SELECT position, stream_id, stream_version, event_id FROM projector.events ORDER BY position",
            &[],
        )
        .await
        .expect("feed")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

async fn head(client: &impl GenericClient) -> i64 {
    client
        .query_one("SELECT head FROM projector.feed_head", &[])
        .await
        .expect("head")
        .get(0)
}

/// Waits until a session of `database` waits for a lock: the append under test has taken its
/// snapshot and queued on the head row. Sleeping instead would race a slow machine.
async fn wait_for_a_lock_wait(database: &TestDatabase) {
    let watcher = connect(database).await;
    eventually("a session waiting for the head row", || async {
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .expect("pg_stat_activity")
            .get(0);
        waiting > 0
    })
    .await;
}

fn ids(n: usize) -> Vec<Uuid> {
    (0..n).map(|_| Uuid::now_v7()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_append_of_a_group_is_decided_against_its_streams_stored_version() {
    let Some((_database, client)) = database().await else {
        return;
    };
    let first = ids(2);
    assert_eq!(
        append_group(&client, &[("s", 1, 0, &first)]).await,
        [(true, 0, Some(1))]
    );
    let e = ids(5);
    // s (at 2): no stream -> conflict; t: exact 0 -> appended at 1..2; u: stream exists ->
    // conflict at 0; s is not repeated; v: any -> appended after t.
    let answers = append_group(
        &client,
        &[
            ("s", 1, 0, &e[0..1]),
            ("t", 3, 0, &e[1..3]),
            ("u", 2, 0, &e[3..4]),
            ("v", 0, 0, &e[4..5]),
        ],
    )
    .await;
    assert_eq!(
        answers,
        [
            (false, 2, Some(3)),
            (true, 0, Some(3)),
            (false, 0, Some(5)),
            (true, 0, Some(5)),
        ]
    );
    assert_eq!(
        feed(&client).await,
        [
            (1, "s".to_owned(), 1, first[0]),
            (2, "s".to_owned(), 2, first[1]),
            (3, "t".to_owned(), 1, e[1]),
            (4, "t".to_owned(), 2, e[2]),
            (5, "v".to_owned(), 1, e[4]),
        ]
    );
    assert_eq!(head(&client).await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_loses_the_race_for_the_head_writes_nothing() {
    loses_the_race_and_writes_nothing(Statement::Group).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_append_that_loses_the_race_for_the_head_writes_nothing() {
    loses_the_race_and_writes_nothing(Statement::One).await;
}

async fn loses_the_race_and_writes_nothing(statement: Statement) {
    let Some((database, client)) = database().await else {
        return;
    };
    // Another process is mid-append: it holds the head row.
    let mut other = connect(&database).await;
    let tx = other.transaction().await.expect("begin");
    let theirs = Uuid::now_v7();
    tx.execute(
        "INSERT INTO projector.events VALUES (1, $1, 'theirs', 1, 'E', 1, '{}', NULL, NULL, NULL, now())",
        &[&theirs],
    )
    .await
    .expect("their event");
    tx.execute("UPDATE projector.feed_head SET head = 1", &[])
        .await
        .expect("their head");

    // Ours takes its snapshot now and waits on the head row; theirs then commits.
    let ours = ids(1);
    let racing = {
        let ours = ours.clone();
        tokio::spawn(async move { statement.append(&client, ("ours", 0, 0, &ours)).await })
    };
    wait_for_a_lock_wait(&database).await;
    assert!(!racing.is_finished(), "the append waits for the head row");
    tx.commit().await.expect("their commit");
    let answers = racing.await.expect("append task");
    assert_eq!(answers, (true, 0, None), "lost the race: no position");

    let check = connect(&database).await;
    assert_eq!(
        feed(&check).await,
        [(1, "theirs".to_owned(), 1, theirs)],
        "nothing of ours was written"
    );
    assert_eq!(head(&check).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_single_append_statement_answers_and_writes_as_a_group_of_one() {
    let Some((_database, mut client)) = database().await else {
        return;
    };
    append_group(&client, &[("s", 1, 0, &ids(2))]).await;
    // Every kind of expected version, against a stream at 2 and one that does not exist.
    let cases = [
        ("s", 0, 0),
        ("s", 1, 0),
        ("s", 2, 0),
        ("s", 3, 2),
        ("s", 3, 1),
        ("s", 3, 0),
        ("new", 0, 0),
        ("new", 1, 0),
        ("new", 2, 0),
        ("new", 3, 0),
        ("new", 3, 1),
    ];
    let mut accepted = 0;
    for (stream, kind, expected) in cases {
        let events = ids(3);
        let mut written = Vec::new();
        for statement in [Statement::Group, Statement::One] {
            let tx = client.transaction().await.expect("begin");
            let answer = statement
                .append(&tx, (stream, kind, expected, &events))
                .await;
            written.push((answer, feed(&tx).await.len(), head(&tx).await));
            tx.rollback().await.expect("rollback");
        }
        assert_eq!(
            written[1], written[0],
            "{stream}, kind {kind}, expected {expected}"
        );
        if (stream, kind, expected) == ("s", 3, 2) {
            assert_eq!(written[1], ((true, 2, Some(3)), 5, 5));
        }
        accepted += usize::from(written[1].0.0);
    }
    // 3 of the 6 cases on `s` and 3 of the 5 on `new` append.
    assert_eq!(accepted, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_that_lost_the_race_is_appended_again_holding_the_head_lock() {
    let Some((database, _client)) = database().await else {
        return;
    };
    let store = PgEventStore::connect(database.url(), PgEventStoreOptions::default())
        .await
        .expect("connect");
    let mut other = connect(&database).await;
    let tx = other.transaction().await.expect("begin");
    tx.execute(
        "INSERT INTO projector.events VALUES (1, $1, 'ours', 1, 'E', 1, '{}', NULL, NULL, NULL, now())",
        &[&Uuid::now_v7()],
    )
    .await
    .expect("their event");
    tx.execute("UPDATE projector.feed_head SET head = 1", &[])
        .await
        .expect("their head");

    let s = StreamId::from_static("ours");
    let append = {
        let store = store.clone();
        let s = s.clone();
        tokio::spawn(async move {
            store
                .append(
                    &s,
                    ExpectedVersion::Exact(StreamVersion::new(1)),
                    numbered(2),
                )
                .await
        })
    };
    wait_for_a_lock_wait(&database).await;
    tx.commit().await.expect("their commit");
    // Decided on a snapshot taken after their commit: the stream is at 1, as expected.
    let outcome = append
        .await
        .expect("task")
        .expect("appended after the retry");
    assert_eq!(outcome.first_position, GlobalPosition::new(2));
    assert_eq!(outcome.stream_version, StreamVersion::new(3));
    let versions: Vec<u64> = store
        .read_stream(&s, StreamVersion::new(0), ReadDirection::Forwards, 10)
        .await
        .expect("read")
        .iter()
        .map(|e| e.stream_version.get())
        .collect();
    assert_eq!(versions, [1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_to_one_stream_and_with_one_event_id_end_as_if_one_after_another() {
    let Some((database, _client)) = database().await else {
        return;
    };
    let store = PgEventStore::connect(database.url(), PgEventStoreOptions::default())
        .await
        .expect("connect");
    let s = StreamId::from_static("crowded");
    // Many appends to one stream at once: each group takes the stream once, the rest wait.
    let outcomes =
        join_all((0..40).map(|_| store.append(&s, ExpectedVersion::Any, numbered(2)))).await;
    let mut versions: Vec<u64> = outcomes
        .iter()
        .map(|o| o.as_ref().expect("appended").stream_version.get())
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=40).map(|i| i * 2).collect::<Vec<_>>());

    // The same new stream from many callers at once: exactly one creates it.
    let fresh = StreamId::from_static("fresh");
    let outcomes =
        join_all((0..20).map(|_| store.append(&fresh, ExpectedVersion::NoStream, numbered(1))))
            .await;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    assert!(
        outcomes
            .iter()
            .filter_map(|o| o.as_ref().err())
            .all(|e| matches!(e, StoreError::Conflict(c) if c.actual == StreamVersion::new(1)))
    );

    // One event id given by many callers at once, each to its own stream: stored once.
    let event = numbered(1).remove(0);
    let outcomes = join_all((0..20).map(|i| {
        let stream = StreamId::parse(format!("dup-{i}")).expect("stream");
        let event = event.clone();
        let store = store.clone();
        async move {
            store
                .append(&stream, ExpectedVersion::Any, vec![event])
                .await
        }
    }))
    .await;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    assert!(outcomes.iter().filter_map(|o| o.as_ref().err()).all(
        |e| matches!(e, StoreError::DuplicateEvent { event_id } if *event_id == event.event_id)
    ));

    // Positions stayed gap-free through all of it.
    let head = store.head().await.expect("head").get();
    let feed = store
        .read_all(GlobalPosition::ZERO, 1_000)
        .await
        .expect("feed");
    let positions: Vec<u64> = feed.iter().map(|e| e.position.get()).collect();
    assert_eq!(positions, (1..=head).collect::<Vec<_>>());
    assert_eq!(head, 80 + 1 + 1);
}
