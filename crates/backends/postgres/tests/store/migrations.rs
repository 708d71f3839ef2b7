//! Upgrading a database one migration at a time from the first, with events written at the
//! first step read back after the last; a changed migration refused; and a store that does not
//! migrate refusing a schema behind its build, changing nothing.

use deadpool_postgres::{Config, Pool, Runtime};
use projector_core::{EventFeed, GlobalPosition, StoreError};
use projector_postgres::{
    MigrationError, PgEventStore, PgEventStoreOptions, PgReadStore, PgReadStoreOptions, migrate,
    migrate_to, verify,
};
use projector_testkit::postgres::TestDatabase;
use serde_json::{Value, json};

/// The migrations this build embeds, as `version (name)`, in order.
const ALL: [&str; 6] = [
    "1 (event_store)",
    "2 (read_store)",
    "3 (idempotency)",
    "4 (append_statement)",
    "5 (idempotency_command_ids)",
    "6 (projection_controls)",
];

fn pool(url: &str) -> Pool {
    Config {
        url: Some(url.to_owned()),
        ..Config::default()
    }
    .create_pool(Some(Runtime::Tokio1), tokio_postgres::NoTls)
    .expect("pool")
}

async fn missing(pool: &Pool) -> Vec<String> {
    match verify(pool).await {
        Ok(()) => Vec::new(),
        Err(MigrationError::Behind { missing }) => missing,
        Err(other) => panic!("{other}"),
    }
}

/// The tables of the `projector` schema.
async fn tables(pool: &Pool) -> Vec<String> {
    let client = pool.get().await.expect("client");
    client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'projector' ORDER BY 1",
            &[],
        )
        .await
        .expect("tables")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_upgraded_one_migration_at_a_time_keeps_its_events() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let pool = pool(database.url());
    assert_eq!(missing(&pool).await, ALL);

    // Step 1: the event store alone; events written as that schema has them.
    assert_eq!(migrate_to(&pool, 1).await.expect("migration 1"), 1);
    assert_eq!(missing(&pool).await, ALL[1..]);
    assert_eq!(
        tables(&pool).await,
        ["_projector_migrations", "events", "feed_head"]
    );
    let client = pool.get().await.expect("client");
    client
        .batch_execute(
            "INSERT INTO projector.events (position, event_id, stream_id, stream_version,
                 event_type, schema_version, data, correlation_id, causation_id, user_id,
                 recorded_at)
             VALUES
                 (1, '00000000-0000-4000-8000-000000000001', 'early-1', 1, 'Noted', 1,
                  '{\"n\": 1}', 'c-1', NULL, 'u-1', now()),
                 (2, '00000000-0000-4000-8000-000000000002', 'early-1', 2, 'Noted', 2,
                  '{\"n\": 2, \"tag\": \"b\"}', 'c-1', 'k-1', NULL, now());
             UPDATE projector.feed_head SET head = 2;",
        )
        .await
        .expect("events at step 1");
    drop(client);

    // Each next step applies exactly one migration and keeps what the earlier ones made.
    for step in 2..=6 {
        assert_eq!(
            migrate_to(&pool, step).await.expect("next migration"),
            1,
            "step {step}"
        );
        assert_eq!(missing(&pool).await, ALL[step as usize..], "step {step}");
    }
    assert_eq!(
        tables(&pool).await,
        [
            "_projector_migrations",
            "events",
            "feed_head",
            "generations",
            "idempotency_keys",
            "projection_controls"
        ]
    );
    assert_eq!(migrate(&pool).await.expect("nothing left"), 0);

    // A store that does not migrate opens the upgraded database and reads the early events.
    let store = PgEventStore::connect(
        database.url(),
        PgEventStoreOptions {
            run_migrations: false,
            ..PgEventStoreOptions::default()
        },
    )
    .await
    .expect("the upgraded database opens without migrating");
    let events = store
        .read_all(GlobalPosition::ZERO, 10)
        .await
        .expect("read");
    let read: Vec<(u64, String, u32, Value)> = events
        .iter()
        .map(|e| {
            (
                e.stream_version.get(),
                e.event_type.as_str().to_owned(),
                e.schema_version,
                e.decode::<Value>().expect("json"),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            (1, "Noted".to_owned(), 1, json!({"n": 1})),
            (2, "Noted".to_owned(), 2, json!({"n": 2, "tag": "b"})),
        ]
    );
    assert_eq!(
        events[1].metadata.causation_id.as_ref().map(|c| c.as_str()),
        Some("k-1")
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_migration_is_refused() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let pool = pool(database.url());
    migrate(&pool).await.expect("migrate");
    pool.get()
        .await
        .expect("client")
        .execute(
            "UPDATE projector._projector_migrations SET checksum = checksum + 1 WHERE version = 3",
            &[],
        )
        .await
        .expect("tamper");

    let refused = migrate(&pool).await.expect_err("a changed migration");
    assert!(
        matches!(
            refused,
            MigrationError::Changed {
                version: 3,
                name: "idempotency"
            }
        ),
        "{refused}"
    );
    assert!(
        matches!(
            verify(&pool).await,
            Err(MigrationError::Changed { version: 3, .. })
        ),
        "verify"
    );
    let store = PgEventStore::connect(database.url(), PgEventStoreOptions::default()).await;
    let Err(StoreError::Unavailable { message, .. }) = store else {
        panic!("the store opened over a changed migration");
    };
    assert!(
        message.contains("migration 3 (idempotency) was applied with other SQL"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_does_not_migrate_refuses_a_schema_behind_it_and_changes_nothing() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let pool = pool(database.url());
    migrate_to(&pool, 4).await.expect("four migrations");
    let before = tables(&pool).await;

    let events = PgEventStore::connect(
        database.url(),
        PgEventStoreOptions {
            run_migrations: false,
            ..PgEventStoreOptions::default()
        },
    )
    .await;
    let Err(StoreError::Unavailable { message, .. }) = events else {
        panic!("the event store opened a schema behind it");
    };
    assert!(
        message.contains(
            "migration(s) 5 (idempotency_command_ids), 6 (projection_controls) not applied"
        ),
        "{message}"
    );
    let reads = PgReadStore::connect(
        database.url(),
        PgReadStoreOptions {
            run_migrations: false,
            ..PgReadStoreOptions::default()
        },
    )
    .await;
    assert!(reads.is_err(), "the read store opened a schema behind it");
    assert_eq!(tables(&pool).await, before);
    assert_eq!(missing(&pool).await, ALL[4..]);
}
