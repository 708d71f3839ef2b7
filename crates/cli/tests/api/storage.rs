//! Reaching into a test server's storage from the test: holding the locks a request needs, to
//! stop it at a chosen point (before it appends, before it stores its answer), and ageing its
//! idempotency keys. This is how the tests reproduce a lost answer, a crash between appending
//! and storing the answer, and a key used again after it was forgotten.
//!
//! On SQLite a lock is a write transaction on a whole file (`events.db`, `idempotency.db`); on
//! PostgreSQL, a row lock (the feed head every append updates, the key's row) or a table lock.

use std::path::PathBuf;
use std::time::Duration;

use projector_testkit::wait::eventually;
use tokio_postgres::NoTls;

use crate::helpers::Storage;

/// How long a connection of the test waits for a lock the server holds.
fn patience() -> Duration {
    projector_testkit::wait::deadline()
}

/// A lock held by the test until it is released.
pub enum Held {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl Held {
    /// Lets the server go on.
    pub async fn release(self) {
        match self {
            Held::Sqlite(conn) => conn
                .execute_batch("ROLLBACK")
                .expect("release the SQLite lock"),
            Held::Postgres(client) => client
                .batch_execute("ROLLBACK")
                .await
                .expect("release the PostgreSQL lock"),
        }
    }
}

impl Storage {
    pub(crate) fn sqlite_file(&self, file: &str) -> rusqlite::Connection {
        let Storage::Sqlite(dir) = self else {
            panic!("not on SQLite")
        };
        let path: PathBuf = dir.path().join("data").join(file);
        let conn = rusqlite::Connection::open(&path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        conn.busy_timeout(patience()).expect("busy timeout");
        conn
    }

    pub(crate) async fn postgres(&self) -> tokio_postgres::Client {
        let Storage::Postgres(database, _) = self else {
            panic!("not on PostgreSQL")
        };
        let (client, connection) = tokio_postgres::connect(database.url(), NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(connection);
        client
    }

    /// Holds the lock every append takes: writes stop just before they append.
    pub async fn hold_appends(&self) -> Held {
        match self {
            Storage::Sqlite(_) => {
                let conn = self.sqlite_file("events.db");
                conn.execute_batch("BEGIN IMMEDIATE")
                    .expect("lock the event store");
                Held::Sqlite(conn)
            }
            Storage::Postgres(..) => {
                let client = self.postgres().await;
                client
                    .batch_execute(
                        "BEGIN; SELECT head FROM projector.feed_head WHERE id = 1 FOR UPDATE",
                    )
                    .await
                    .expect("lock the feed head");
                Held::Postgres(client)
            }
        }
    }

    /// Holds the events table against reads too (PostgreSQL only: SQLite never makes a reader
    /// wait): writes and refusals alike stop before they have loaded their stream.
    pub async fn hold_reads(&self) -> Held {
        let client = self.postgres().await;
        client
            .batch_execute("BEGIN; LOCK TABLE projector.events IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("lock the events table");
        Held::Postgres(client)
    }

    /// Holds the checkpoint of `projection`'s serving read model (PostgreSQL only): its
    /// projector waits before its next batch, so the read model stays where it is however
    /// far the feed goes on.
    pub async fn hold_projection(&self, projection: &str) -> Held {
        let client = self.postgres().await;
        let schema = serving_schema(&client, projection).await;
        client
            .batch_execute(&format!(
                "BEGIN; SELECT position FROM {schema}._projector_checkpoint WHERE id = 1 FOR UPDATE"
            ))
            .await
            .expect("lock the checkpoint");
        Held::Postgres(client)
    }

    /// Runs `statement` in `projection`'s serving read model, under the server's feet: how a
    /// test breaks a read model to see the server fail. On SQLite, the newest generation's file.
    pub async fn alter_read_model(&self, projection: &str, statement: &str) {
        if let Storage::Sqlite(dir) = self {
            let newest = std::fs::read_dir(dir.path().join("data").join("read"))
                .expect("the read models' directory")
                .filter_map(|entry| {
                    let name = entry.ok()?.file_name().into_string().ok()?;
                    let generation = name
                        .strip_prefix(&format!("{projection}.g"))?
                        .strip_suffix(".db")?;
                    generation.parse::<u32>().ok()
                })
                .max()
                .unwrap_or_else(|| panic!("{projection} has no generation file"));
            self.sqlite_file(&format!("read/{projection}.g{newest}.db"))
                .execute_batch(statement)
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
            return;
        }
        let client = self.postgres().await;
        let schema = serving_schema(&client, projection).await;
        client
            .batch_execute(&format!("SET search_path = {schema}; {statement}"))
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    /// Holds the row of idempotency key `key` (on SQLite, the whole file): storing the answer
    /// to its request waits.
    pub async fn hold_key(&self, key: &str) -> Held {
        match self {
            Storage::Sqlite(_) => {
                let conn = self.sqlite_file("idempotency.db");
                conn.execute_batch("BEGIN IMMEDIATE")
                    .expect("lock the idempotency keys");
                Held::Sqlite(conn)
            }
            Storage::Postgres(..) => {
                let client = self.postgres().await;
                client.batch_execute("BEGIN").await.expect("begin");
                let locked = client
                    .execute(
                        "SELECT 1 FROM projector.idempotency_keys WHERE key = $1 FOR UPDATE",
                        &[&key],
                    )
                    .await
                    .expect("lock the key's row");
                assert_eq!(locked, 1, "key {key} has no row to lock");
                Held::Postgres(client)
            }
        }
    }

    /// Waits until a request has claimed `key` (its claim is committed).
    pub async fn wait_claimed(&self, key: &str) {
        eventually(&format!("a request to claim key {key}"), || async {
            match self {
                Storage::Sqlite(_) => {
                    let conn = self.sqlite_file("idempotency.db");
                    conn.query_row(
                        "SELECT count(*) FROM idempotency_keys WHERE key = ?1",
                        [key],
                        |row| row.get::<_, i64>(0),
                    )
                    .expect("read the idempotency keys")
                        == 1
                }
                Storage::Postgres(..) => self
                    .postgres()
                    .await
                    .query_opt(
                        "SELECT 1 FROM projector.idempotency_keys WHERE key = $1",
                        &[&key],
                    )
                    .await
                    .expect("read the idempotency keys")
                    .is_some(),
            }
        })
        .await;
    }

    /// Makes the claim on `key` older by `by`, as if it had been made that much earlier.
    pub async fn age_key(&self, key: &str, by: Duration) {
        let aged = match self {
            Storage::Sqlite(_) => self
                .sqlite_file("idempotency.db")
                .execute(
                    "UPDATE idempotency_keys SET claimed_at = claimed_at - ?2 WHERE key = ?1",
                    rusqlite::params![key, by.as_micros() as i64],
                )
                .expect("age the key") as u64,
            Storage::Postgres(..) => self
                .postgres()
                .await
                .execute(
                    "UPDATE projector.idempotency_keys \
                     SET claimed_at = claimed_at - make_interval(secs => $2) WHERE key = $1",
                    &[&key, &by.as_secs_f64()],
                )
                .await
                .expect("age the key"),
        };
        assert_eq!(aged, 1, "key {key} has no row to age");
    }

    /// Waits until a server's statement storing an answer waits on a lock the test holds, and
    /// returns the id of its database session (PostgreSQL only).
    pub async fn wait_storing_the_answer(&self) -> i32 {
        let client = self.postgres().await;
        eventually("the server to try to store the answer", || async {
            client
                .query_opt(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
                     AND wait_event_type = 'Lock' AND query LIKE 'UPDATE projector.idempotency_keys%'",
                    &[],
                )
                .await
                .expect("read pg_stat_activity")
                .map(|row| row.get(0))
        })
        .await
    }

    /// Cuts a database session, as a network failure would (PostgreSQL only).
    pub async fn cut_off(&self, session: i32) {
        let terminated: bool = self
            .postgres()
            .await
            .query_one("SELECT pg_terminate_backend($1)", &[&session])
            .await
            .expect("terminate the session")
            .get(0);
        assert!(terminated, "session {session} was not cut");
    }
}

/// The schema of `projection`'s serving generation on PostgreSQL.
async fn serving_schema(client: &tokio_postgres::Client, projection: &str) -> String {
    client
        .query_one(
            "SELECT schema_name FROM projector.generations \
             WHERE projection = $1 AND state = 'serving'",
            &[&projection],
        )
        .await
        .expect("the serving generation")
        .get(0)
}
