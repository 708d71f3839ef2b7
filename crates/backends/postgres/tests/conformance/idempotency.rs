//! The idempotency store conformance suite on PostgreSQL, and claims made before command ids
//! were kept.

use std::sync::Arc;
use std::time::Duration;

use projector_core::{CausationId, Claim, IdempotencyStore, legacy_command_id};
use projector_postgres::{PgEventStore, PgEventStoreOptions, PgIdempotencyStore};
use projector_testkit::conformance::idempotency::KeysFixture;
use projector_testkit::postgres::TestDatabase;

/// A store on a fresh, migrated database, remembering keys for `retention`.
async fn open(retention: Duration) -> Option<(PgIdempotencyStore, PgEventStore, TestDatabase)> {
    let database = TestDatabase::create().await?;
    let events = PgEventStore::connect(database.url(), PgEventStoreOptions::default())
        .await
        .expect("connect to a fresh database");
    let keys = PgIdempotencyStore::new(events.pool().clone()).with_retention(retention);
    Some((keys, events, database))
}

async fn fresh_keys(retention: Duration) -> Option<KeysFixture> {
    let (keys, events, database) = open(retention).await?;
    Some(KeysFixture::new(Arc::new(keys), (events, database)))
}

projector_testkit::idempotency_conformance!(fresh_keys);

/// A claim left unanswered by a version that kept no command id (the migration leaves it
/// NULL) is taken over under the id that version derived from the key, so its events are found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_from_before_command_ids_is_taken_over_under_the_key_derived_id() {
    let Some((keys, events, _database)) = open(Duration::from_secs(3600)).await else {
        return;
    };
    let offered = CausationId::from_static("new-id");
    let first = keys
        .claim("left", "fp", &offered, Duration::from_secs(60))
        .await
        .expect("claim");
    assert!(matches!(first, Claim::Claimed { .. }), "{first:?}");
    let client = events.pool().get().await.expect("a connection");
    let aged = client
        .execute(
            "UPDATE projector.idempotency_keys SET command_id = NULL WHERE key = 'left'",
            &[],
        )
        .await
        .expect("make it an old claim");
    assert_eq!(aged, 1);
    let taken = keys
        .claim("left", "fp", &offered, Duration::ZERO)
        .await
        .expect("claim");
    assert_eq!(
        taken,
        Claim::Claimed {
            command_id: legacy_command_id("left"),
            taken_over: true,
        }
    );
    keys.release("left", &legacy_command_id("left"))
        .await
        .expect("release under it");
    let again = keys
        .claim("left", "fp", &offered, Duration::from_secs(60))
        .await
        .expect("claim");
    assert_eq!(
        again,
        Claim::Claimed {
            command_id: legacy_command_id("left"),
            taken_over: true,
        }
    );
}
