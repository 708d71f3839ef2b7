//! [`SqliteIdempotencyStore`]: idempotency keys and their answers in their own SQLite file.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use projector_core::{Claim, IdempotencyStore, StoreError, StoredResponse};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::connection::open_writer;
use crate::durability::Durability;
use crate::error::{join_error, store_error};

/// How long answers are kept.
const RETENTION: Duration = Duration::from_secs(24 * 3600);
/// Old answers are swept on one claim in this many.
const SWEEP_EVERY: u64 = 256;

/// Idempotency keys in a SQLite file. A lost answer (power loss under `Normal` durability) is
/// harmless: the retry finds its command's events in the stream and is not run again.
#[derive(Clone, Debug)]
pub struct SqliteIdempotencyStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: Mutex<Connection>,
    claims: AtomicU64,
}

impl SqliteIdempotencyStore {
    /// Opens (creating if needed) the store at `path`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let conn = open_writer(path.as_ref(), Durability::Normal)
            .map_err(|e| store_error("opening idempotency keys", e))?;
        conn.execute_batch(include_str!("sql/idempotency_schema.sql"))
            .map_err(|e| store_error("creating idempotency keys", e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                claims: AtomicU64::new(0),
            }),
        })
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

fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

#[async_trait]
impl IdempotencyStore for SqliteIdempotencyStore {
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        abandoned_after: Duration,
    ) -> Result<Claim, StoreError> {
        let (key, fingerprint) = (key.to_owned(), fingerprint.to_owned());
        let sweep = self
            .inner
            .claims
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY);
        self.blocking(move |conn| {
            let now = now_micros();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if sweep {
                let horizon = now - RETENTION.as_micros() as i64;
                tx.execute("DELETE FROM idempotency_keys WHERE claimed_at < ?1", [horizon])?;
            }
            type Found = (String, String, Option<u16>, Option<String>, Option<String>, i64);
            let found: Option<Found> = tx
                .query_row(
                    "SELECT fingerprint, state, status, headers, body, claimed_at FROM idempotency_keys WHERE key = ?1",
                    [&key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
                )
                .optional()?;
            let claim = match found {
                None => {
                    tx.execute(
                        "INSERT INTO idempotency_keys (key, fingerprint, state, claimed_at) VALUES (?1, ?2, 'pending', ?3)",
                        params![key, fingerprint, now],
                    )?;
                    Claim::Claimed
                }
                Some((stored, ..)) if stored != fingerprint => Claim::Mismatch,
                Some((_, state, status, headers, body, _)) if state == "done" => Claim::Completed(StoredResponse {
                    status: status.unwrap_or(500),
                    headers: headers.and_then(|h| serde_json::from_str(&h).ok()).unwrap_or_default(),
                    body: body.unwrap_or_default(),
                }),
                Some((.., claimed_at)) if now - claimed_at > abandoned_after.as_micros() as i64 => {
                    tx.execute("UPDATE idempotency_keys SET claimed_at = ?2 WHERE key = ?1", params![key, now])?;
                    Claim::Claimed
                }
                Some(_) => Claim::InProgress,
            };
            tx.commit()?;
            Ok(claim)
        })
        .await
    }

    async fn complete(&self, key: &str, response: &StoredResponse) -> Result<(), StoreError> {
        let key = key.to_owned();
        let headers = serde_json::to_string(&response.headers).unwrap_or_else(|_| "[]".into());
        let (status, body) = (response.status, response.body.clone());
        self.blocking(move |conn| {
            conn.execute(
                "UPDATE idempotency_keys SET state = 'done', status = ?2, headers = ?3, body = ?4, completed_at = ?5 \
                 WHERE key = ?1",
                params![key, status, headers, body, now_micros()],
            )?;
            Ok(())
        })
        .await
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.blocking(move |conn| {
            conn.execute(
                "DELETE FROM idempotency_keys WHERE key = ?1 AND state = 'pending'",
                [key],
            )?;
            Ok(())
        })
        .await
    }
}
