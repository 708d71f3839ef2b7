//! The counter example, compiled into this test so `cargo test` runs it start to end, its
//! decider tested given/when/then with the testkit, and the guide's other steps on the same
//! `CounterEvent`: commands with options, a rebuild by generation, a Redis read model.

include!("../examples/counter.rs");

#[test]
fn the_example_runs_to_its_end() {
    main().expect("the counter example runs");
}

use projector::testkit::harness::given;

#[test]
fn increments_add_up_and_a_reset_starts_again() {
    given(
        &Counter,
        [CounterEvent::Incremented { by: 2 }, CounterEvent::Reset],
    )
    .when(&Command::Increment(4))
    .then([CounterEvent::Incremented { by: 4 }]);
}

#[test]
fn an_increment_by_zero_is_refused() {
    let refusal = given(&Counter, [])
        .when(&Command::Increment(0))
        .then_refused(|_| true);
    assert_eq!(refusal.to_string(), "increment by at least 1");
}

/// The guide's steps that the example leaves out: options on a command, a refusal, reading
/// one's writes by position, a rebuild awaited by its generation, shutdown by a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_with_options_reads_of_ones_writes_and_a_rebuild_by_generation()
-> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let (events, reads) = projector::sqlite::open_dir(dir.path())?;
    let shutdown = projector::CancellationToken::new();
    let handle = Projector::new(events.clone(), ProjectorOptions::default())
        .with_target(SqlTarget::typed(reads.clone(), Totals))
        .start(shutdown.clone())?;
    let id = CounterEvent::stream(9)?;

    let options = CommandOptions {
        if_version: Some(StreamVersion::NONE), // the version the caller last saw
        metadata: EventMetadata {
            user_id: Some(projector::UserId::parse("ann")?),
            ..EventMetadata::default()
        },
        ..CommandOptions::default()
    };
    let done = execute(&Counter, &*events, &id, &Command::Increment(2), &options).await?;
    match events.execute(&Counter, &id, &Command::Increment(0)).await {
        Err(CommandError::Rejected(refused)) => assert_eq!(refused.0, "increment by at least 1"),
        other => panic!("expected a refusal, got success: {}", other.is_ok()),
    }
    let stale = execute(&Counter, &*events, &id, &Command::Reset, &options).await;
    assert!(matches!(
        stale,
        Err(CommandError::PreconditionFailed { .. })
    ));

    let position = done.position.ok_or("nothing recorded")?;
    handle
        .wait_for(&Totals::NAME, position, Duration::from_secs(10))
        .await?;
    let sql = "SELECT counter, total FROM totals WHERE counter = $1";
    let rows = reads.query(&Totals::NAME, sql, params![&id]).await?;
    assert_eq!(rows[0].get::<String>("counter")?, "counter-9");
    assert_eq!(rows[0].get::<i64>("total")?, 2);

    let generation = handle.rebuild(&Totals::NAME).await?;
    // ... serve reads from the old generation meanwhile ...
    handle
        .wait_swapped(&Totals::NAME, generation, Duration::from_secs(10))
        .await?;
    assert_eq!(
        handle.status(&Totals::NAME).and_then(|s| s.generation),
        Some(generation)
    );

    shutdown.cancel(); // e.g. on SIGTERM; every worker finishes its batch in hand
    handle.join().await;
    Ok(())
}

#[projector::events(category = "account", upcasters = ACCOUNT_UPCASTERS)]
#[derive(Clone, Debug, PartialEq)]
enum AccountEvent {
    #[event(version = 2)] // v1 had no currency
    Opened {
        owner: String,
        currency: String,
    },
    Closed,
}

static ACCOUNT_UPCASTERS: Upcasters = Upcasters::new(&[Upcaster {
    event_type: "Opened",
    from_version: 1,
    upcast: opened_v1_to_v2,
}]);

fn opened_v1_to_v2(mut v1: serde_json::Value) -> Result<serde_json::Value, String> {
    let fields = v1.as_object_mut().ok_or("Opened v1 is not an object")?;
    fields.insert("currency".into(), "EUR".into()); // every account was in euros then
    Ok(v1)
}

use projector::serde_json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_v1_event_is_read_as_v2() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let (events, _reads) = projector::sqlite::open_dir(dir.path())?;
    let account = AccountEvent::stream("a-1")?;
    let v1 = projector::NewEvent::new(
        projector::EventType::from_static("Opened"),
        projector::JsonPayload::from_json(r#"{"owner":"bo"}"#)?,
    );
    events
        .append(&account, ExpectedVersion::NoStream, vec![v1])
        .await?;
    let stored = events
        .read_stream(&account, StreamVersion::new(1), ReadDirection::Forwards, 10)
        .await?;
    let opened = AccountEvent::Opened {
        owner: "bo".into(),
        currency: "EUR".into(),
    };
    assert_eq!(AccountEvent::decode(&stored[0])?, opened);
    Ok(())
}

/// The counter on PostgreSQL: the same domain and projection, other stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counter_runs_on_postgres() -> Result<(), BoxError> {
    let Some(database) = projector::testkit::postgres::TestDatabase::create().await else {
        return Ok(());
    };
    let url = database.url();
    let events = Arc::new(PgEventStore::connect(url, PgEventStoreOptions::default()).await?);
    let reads = Arc::new(PgReadStore::connect(url, PgReadStoreOptions::default()).await?);
    let handle = Projector::new(events.clone(), ProjectorOptions::default())
        .with_target(SqlTarget::typed(reads.clone(), Totals))
        .spawn()?;
    let id = CounterEvent::stream(1)?;
    for command in [Command::Increment(4), Command::Reset, Command::Increment(6)] {
        events.execute(&Counter, &id, &command).await?;
    }
    handle.wait_caught_up(Duration::from_secs(10)).await?;
    let sql = "SELECT total FROM totals WHERE counter = $1";
    let rows = reads.query(&Totals::NAME, sql, params![&id]).await?;
    assert_eq!(rows[0].get::<i64>("total")?, 6);
    handle.stop().await;
    Ok(())
}

use std::sync::Arc;

/// Each counter's latest increment, as a Redis string; a reset removes it.
struct LastIncrement;
impl TypedRedisProjection for LastIncrement {
    type Event = CounterEvent;
    const NAME: ProjectionName = ProjectionName::from_static("last_increment");
    async fn apply(
        &self,
        batch: &mut RedisBatch,
        e: &Envelope<'_, CounterEvent>,
    ) -> Result<(), ProjectionError> {
        let key = format!("last:{}", e.stream_id);
        match e.event {
            CounterEvent::Incremented { by } => batch.set(key, by.to_string()), // buffered
            CounterEvent::Reset => batch.del(key),
        }
        Ok(())
    }
}

/// The guide's projection that is not SQL, beside the SQL one, on the same events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_read_model_keeps_each_counters_last_increment() -> Result<(), BoxError> {
    let Some(redis) = projector::testkit::redis::TestRedis::create().await else {
        return Ok(());
    };
    let (url, namespace) = (redis.url(), Namespace::parse(redis.namespace())?);
    let dir = tempfile::tempdir()?;
    let (events, reads) = projector::sqlite::open_dir(dir.path())?;
    let store = RedisStore::connect(url, namespace).await?;
    let last = Arc::new(RedisTarget::typed(store, LastIncrement)); // kept to read it
    let handle = Projector::new(events.clone(), ProjectorOptions::default())
        .with_target(SqlTarget::typed(reads.clone(), Totals))
        .with_target(last.clone())
        .spawn()?;
    let (one, two) = (CounterEvent::stream(1)?, CounterEvent::stream(2)?);
    for (id, command) in [(&one, Command::Increment(3)), (&two, Command::Increment(4))] {
        events.execute(&Counter, id, &command).await?;
    }
    events.execute(&Counter, &two, &Command::Reset).await?;
    handle.wait_caught_up(Duration::from_secs(10)).await?;
    let read = last.read().await?; // one generation, whole
    assert_eq!(read.get("last:counter-1").await?.as_deref(), Some("3"));
    assert_eq!(read.get("last:counter-2").await?, None);
    handle.stop().await;
    Ok(())
}
