//! The idempotency store conformance suite on SQLite, and the upgrade of a file made by the
//! first version of the store.

use std::sync::Arc;
use std::time::Duration;

use projector_core::{CausationId, Claim, IdempotencyStore, StoredResponse, legacy_command_id};
use projector_sqlite::SqliteIdempotencyStore;
use projector_testkit::conformance::idempotency::KeysFixture;

/// A fresh store in a temporary directory, remembering keys for `retention`.
async fn fresh_keys(retention: Duration) -> Option<KeysFixture> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteIdempotencyStore::open(dir.path().join("idempotency.db"))
        .expect("open a fresh store")
        .with_retention(retention);
    Some(KeysFixture::new(Arc::new(store), dir))
}

projector_testkit::idempotency_conformance!(fresh_keys);

/// The first version's table: no command ids, no 'released' state.
const VERSION_1: &str = "
    CREATE TABLE idempotency_keys (
        key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
        status INTEGER, headers TEXT, body TEXT,
        claimed_at INTEGER NOT NULL, completed_at INTEGER);
    CREATE INDEX idempotency_keys_claimed_at ON idempotency_keys (claimed_at);";

/// A file of the first version keeps its answers; a claim it left unanswered is taken over
/// under the command id that version derived from the key, so its events are found.
#[tokio::test]
async fn a_first_version_file_is_upgraded_keeping_its_keys() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("idempotency.db");
    let now = chrono::Utc::now().timestamp_micros();
    {
        let conn = rusqlite::Connection::open(&path).expect("a version 1 file");
        conn.execute_batch(VERSION_1).expect("version 1 schema");
        conn.execute(
            "INSERT INTO idempotency_keys VALUES \
             ('answered', 'fp', 'done', 202, '[[\"location\",\"/there\"]]', 'accepted', ?1, ?1), \
             ('left', 'fp', 'pending', NULL, NULL, NULL, ?1, NULL)",
            [now],
        )
        .expect("version 1 rows");
    }
    let keys = SqliteIdempotencyStore::open(&path).expect("open and upgrade");
    let offered = CausationId::from_static("new-id");
    let answered = keys
        .claim("answered", "fp", &offered, Duration::from_secs(60))
        .await
        .expect("claim");
    assert_eq!(
        answered,
        Claim::Completed(StoredResponse {
            status: 202,
            headers: vec![("location".into(), "/there".into())],
            body: "accepted".into(),
        })
    );
    let left = keys
        .claim("left", "fp", &offered, Duration::ZERO)
        .await
        .expect("claim");
    assert_eq!(
        left,
        Claim::Claimed {
            command_id: legacy_command_id("left"),
            taken_over: true,
        }
    );
    // The new schema took: a release is kept, and taken over again under the same id.
    keys.release("left", &legacy_command_id("left"))
        .await
        .expect("release");
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
    drop(keys);
    let reopened = SqliteIdempotencyStore::open(&path).expect("reopen");
    let still = reopened
        .claim("answered", "fp", &offered, Duration::from_secs(60))
        .await
        .expect("claim");
    assert!(matches!(still, Claim::Completed(_)), "{still:?}");
}
