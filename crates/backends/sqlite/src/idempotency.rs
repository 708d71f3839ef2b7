//! [`SqliteIdempotencyStore`]: idempotency keys and their answers in their own SQLite file.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use projector_core::{
    CausationId, Claim, DEFAULT_RETENTION, IdempotencyStore, StoreError, StoredResponse,
    legacy_command_id,
};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::connection::open_writer;
use crate::durability::Durability;
use crate::error::{join_error, store_error};

/// Old answers are swept on one claim in this many.
const SWEEP_EVERY: u64 = 256;
/// The version of the file's schema, in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 2;

/// Idempotency keys in a SQLite file.
///
/// Commits are synced like the event store's (`Durability::Full`): a claim holds the command
/// id its request appends under, so one lost to a power loss would let a retry run again.
#[derive(Clone, Debug)]
pub struct SqliteIdempotencyStore {
    inner: Arc<Inner>,
    retention: Duration,
}

#[derive(Debug)]
struct Inner {
    conn: Mutex<Connection>,
    claims: AtomicU64,
}

impl SqliteIdempotencyStore {
    /// Opens (creating or upgrading if needed) the store at `path`; keys are remembered for
    /// [`DEFAULT_RETENTION`].
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let mut conn = open_writer(path.as_ref(), Durability::Full)
            .map_err(|e| store_error("opening idempotency keys", e))?;
        upgrade(&mut conn).map_err(|e| store_error("creating idempotency keys", e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                claims: AtomicU64::new(0),
            }),
            retention: DEFAULT_RETENTION,
        })
    }

    /// Remembers keys for `retention` from their claim instead.
    #[must_use]
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn).map_err(|e| store_error("idempotency keys", e))
        })
        .await
        .map_err(|e| StoreError::Unavailable {
            message: join_error(e),
            source: None,
        })?
    }
}

/// Brings the file to [`SCHEMA_VERSION`]: creates the table, or makes version 1's again.
fn upgrade(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < SCHEMA_VERSION {
        let from_v1 = tx
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'idempotency_keys'",
                [],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if from_v1 {
            tx.execute_batch(include_str!("sql/idempotency_from_v1.sql"))?;
        }
        tx.execute_batch(include_str!("sql/idempotency_schema.sql"))?;
        if from_v1 {
            tx.execute_batch(include_str!("sql/idempotency_copy_v1.sql"))?;
        }
    }
    tx.commit()
}

fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// A key's row, as a claim finds it.
struct Row {
    fingerprint: String,
    command_id: Option<String>,
    state: String,
    status: Option<u16>,
    headers: Option<String>,
    body: Option<String>,
    claimed_at: i64,
}

fn find(tx: &Transaction<'_>, key: &str) -> rusqlite::Result<Option<Row>> {
    tx.query_row(
        "SELECT fingerprint, command_id, state, status, headers, body, claimed_at \
         FROM idempotency_keys WHERE key = ?1",
        [key],
        |r| {
            Ok(Row {
                fingerprint: r.get(0)?,
                command_id: r.get(1)?,
                state: r.get(2)?,
                status: r.get(3)?,
                headers: r.get(4)?,
                body: r.get(5)?,
                claimed_at: r.get(6)?,
            })
        },
    )
    .optional()
}

#[async_trait]
impl IdempotencyStore for SqliteIdempotencyStore {
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        command_id: &CausationId,
        abandoned_after: Duration,
    ) -> Result<Claim, StoreError> {
        let (key, fingerprint, offered) =
            (key.to_owned(), fingerprint.to_owned(), command_id.clone());
        let sweep = self
            .inner
            .claims
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY);
        let (retention, abandoned_after) = (micros(self.retention), micros(abandoned_after));
        self.blocking(move |conn| {
            let now = now_micros();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if sweep {
                tx.execute(
                    "DELETE FROM idempotency_keys WHERE claimed_at < ?1",
                    [now - retention],
                )?;
            }
            let claim = match find(&tx, &key)? {
                Some(row) if now - row.claimed_at <= retention => {
                    take(&tx, &key, &fingerprint, row, now, abandoned_after)?
                }
                forgotten => {
                    if forgotten.is_some() {
                        tx.execute("DELETE FROM idempotency_keys WHERE key = ?1", [&key])?;
                    }
                    tx.execute(
                        "INSERT INTO idempotency_keys (key, fingerprint, command_id, state, claimed_at) \
                         VALUES (?1, ?2, ?3, 'pending', ?4)",
                        params![key, fingerprint, offered.as_str(), now],
                    )?;
                    Claim::Claimed {
                        command_id: offered,
                        taken_over: false,
                    }
                }
            };
            tx.commit()?;
            Ok(claim)
        })
        .await
    }

    async fn complete(
        &self,
        key: &str,
        command_id: &CausationId,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let (key, command_id) = (key.to_owned(), command_id.to_string());
        let headers = serde_json::to_string(&response.headers).unwrap_or_else(|_| "[]".into());
        let (status, body) = (response.status, response.body.clone());
        self.blocking(move |conn| {
            conn.execute(
                "UPDATE idempotency_keys SET state = 'done', status = ?3, headers = ?4, body = ?5, \
                 completed_at = ?6 WHERE key = ?1 AND command_id = ?2 AND state <> 'done'",
                params![key, command_id, status, headers, body, now_micros()],
            )?;
            Ok(())
        })
        .await
    }

    async fn release(&self, key: &str, command_id: &CausationId) -> Result<(), StoreError> {
        let (key, command_id) = (key.to_owned(), command_id.to_string());
        self.blocking(move |conn| {
            conn.execute(
                "UPDATE idempotency_keys SET state = 'released' \
                 WHERE key = ?1 AND command_id = ?2 AND state = 'pending'",
                params![key, command_id],
            )?;
            Ok(())
        })
        .await
    }
}

/// What a claim on a remembered key gets: its answer, a refusal, or the claim taken over
/// (released, or pending for longer than `abandoned_after`) under the key's command id.
fn take(
    tx: &Transaction<'_>,
    key: &str,
    fingerprint: &str,
    row: Row,
    now: i64,
    abandoned_after: i64,
) -> rusqlite::Result<Claim> {
    if row.fingerprint != fingerprint {
        return Ok(Claim::Mismatch);
    }
    match row.state.as_str() {
        "done" => Ok(Claim::Completed(StoredResponse {
            status: row.status.unwrap_or(500),
            headers: row
                .headers
                .and_then(|h| serde_json::from_str(&h).ok())
                .unwrap_or_default(),
            body: row.body.unwrap_or_default(),
        })),
        "pending" if now - row.claimed_at <= abandoned_after => Ok(Claim::InProgress),
        _ => {
            let command_id = match row.command_id {
                Some(id) => CausationId::parse(id).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(1, Type::Text, Box::new(e))
                })?,
                None => legacy_command_id(key),
            };
            tx.execute(
                "UPDATE idempotency_keys SET state = 'pending', command_id = ?2, claimed_at = ?3 \
                 WHERE key = ?1",
                params![key, command_id.as_str(), now],
            )?;
            Ok(Claim::Claimed {
                command_id,
                taken_over: true,
            })
        }
    }
}
