//! [`PgIdempotencyStore`]: idempotency keys and their answers in `projector.idempotency_keys`,
//! shared by every process on the database, so a retry sent to another server still gets the
//! first answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Pool, Transaction};
use projector_core::{
    CausationId, Claim, DEFAULT_RETENTION, IdempotencyStore, StoreError, StoredResponse,
    legacy_command_id,
};

use crate::error::{store_error, store_pool_error};

/// Old answers are swept on one claim in this many.
const SWEEP_EVERY: u64 = 256;

/// Idempotency keys in PostgreSQL (created by the migrations).
#[derive(Clone, Debug)]
pub struct PgIdempotencyStore {
    pool: Pool,
    claims: Arc<AtomicU64>,
    retention: Duration,
}

impl PgIdempotencyStore {
    /// Keys kept through `pool` (for example the event store's, [`crate::PgEventStore::pool`]),
    /// remembered for [`DEFAULT_RETENTION`].
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            claims: Arc::new(AtomicU64::new(0)),
            retention: DEFAULT_RETENTION,
        }
    }

    /// Remembers keys for `retention` from their claim instead.
    #[must_use]
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }
}

/// A key's row, as a claim finds it (locked).
struct Row {
    fingerprint: String,
    command_id: Option<String>,
    state: String,
    status: Option<i32>,
    headers: Option<String>,
    body: Option<String>,
    /// Seconds since it was claimed, by the database's clock.
    age: f64,
}

#[async_trait]
impl IdempotencyStore for PgIdempotencyStore {
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        command_id: &CausationId,
        abandoned_after: Duration,
    ) -> Result<Claim, StoreError> {
        let mut client = self
            .pool
            .get()
            .await
            .map_err(|e| store_pool_error("idempotency keys", e))?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| store_error("idempotency keys", e))?;
        let retention = self.retention.as_secs_f64();
        if self
            .claims
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            tx.execute(
                "DELETE FROM projector.idempotency_keys \
                 WHERE claimed_at < now() - make_interval(secs => $1)",
                &[&retention],
            )
            .await
            .map_err(|e| store_error("sweeping idempotency keys", e))?;
        }
        let claim = loop {
            let inserted = tx
                .execute(
                    "INSERT INTO projector.idempotency_keys (key, fingerprint, command_id, state, claimed_at) \
                     VALUES ($1, $2, $3, 'pending', now()) ON CONFLICT (key) DO NOTHING",
                    &[&key, &fingerprint, &command_id.as_str()],
                )
                .await
                .map_err(|e| store_error("claiming an idempotency key", e))?;
            if inserted == 1 {
                break Claim::Claimed {
                    command_id: command_id.clone(),
                    taken_over: false,
                };
            }
            // Swept by another process since the insert: insert again.
            let Some(row) = find(&tx, key).await? else {
                continue;
            };
            if row.age > retention {
                forget(&tx, key, fingerprint, command_id).await?;
                break Claim::Claimed {
                    command_id: command_id.clone(),
                    taken_over: false,
                };
            }
            break take(&tx, key, fingerprint, row, abandoned_after).await?;
        };
        tx.commit()
            .await
            .map_err(|e| store_error("claiming an idempotency key", e))?;
        Ok(claim)
    }

    async fn complete(
        &self,
        key: &str,
        command_id: &CausationId,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| store_pool_error("idempotency keys", e))?;
        let headers = serde_json::to_string(&response.headers).unwrap_or_else(|_| "[]".into());
        client
            .execute(
                "UPDATE projector.idempotency_keys SET state = 'done', status = $3, headers = $4, \
                 body = $5, completed_at = now() \
                 WHERE key = $1 AND command_id = $2 AND state <> 'done'",
                &[
                    &key,
                    &command_id.as_str(),
                    &i32::from(response.status),
                    &headers,
                    &response.body,
                ],
            )
            .await
            .map_err(|e| store_error("recording an answer", e))?;
        Ok(())
    }

    async fn release(&self, key: &str, command_id: &CausationId) -> Result<(), StoreError> {
        // A release follows a failure, often a connection cut while the answer was stored; the
        // pool may hand that connection out once more before it sees it closed. The UPDATE is
        // idempotent, so it is tried again on another.
        let mut tries = 0;
        loop {
            tries += 1;
            let client = self
                .pool
                .get()
                .await
                .map_err(|e| store_pool_error("idempotency keys", e))?;
            match client
                .execute(
                    "UPDATE projector.idempotency_keys SET state = 'released' \
                     WHERE key = $1 AND command_id = $2 AND state = 'pending'",
                    &[&key, &command_id.as_str()],
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_closed() && tries < 2 => {}
                Err(e) => return Err(store_error("releasing an idempotency key", e)),
            }
        }
    }
}

/// The key's row, locked until the claim commits; `None` if it is gone.
async fn find(tx: &Transaction<'_>, key: &str) -> Result<Option<Row>, StoreError> {
    let row = tx
        .query_opt(
            "SELECT fingerprint, command_id, state, status, headers, body, \
             EXTRACT(EPOCH FROM now() - claimed_at)::float8 \
             FROM projector.idempotency_keys WHERE key = $1 FOR UPDATE",
            &[&key],
        )
        .await
        .map_err(|e| store_error("reading an idempotency key", e))?;
    Ok(row.map(|row| Row {
        fingerprint: row.get(0),
        command_id: row.get(1),
        state: row.get(2),
        status: row.get(3),
        headers: row.get(4),
        body: row.get(5),
        age: row.get(6),
    }))
}

/// Makes a forgotten key's row a new claim under `command_id`, as if it had been swept.
async fn forget(
    tx: &Transaction<'_>,
    key: &str,
    fingerprint: &str,
    command_id: &CausationId,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE projector.idempotency_keys SET fingerprint = $2, command_id = $3, state = 'pending', \
         status = NULL, headers = NULL, body = NULL, claimed_at = now(), completed_at = NULL \
         WHERE key = $1",
        &[&key, &fingerprint, &command_id.as_str()],
    )
    .await
    .map_err(|e| store_error("claiming an idempotency key", e))?;
    Ok(())
}

/// What a claim on a remembered key gets: its answer, a refusal, or the claim taken over
/// (released, or pending for longer than `abandoned_after`) under the key's command id.
async fn take(
    tx: &Transaction<'_>,
    key: &str,
    fingerprint: &str,
    row: Row,
    abandoned_after: Duration,
) -> Result<Claim, StoreError> {
    if row.fingerprint != fingerprint {
        return Ok(Claim::Mismatch);
    }
    match row.state.as_str() {
        "done" => Ok(Claim::Completed(StoredResponse {
            status: row
                .status
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(500),
            headers: row
                .headers
                .and_then(|h| serde_json::from_str(&h).ok())
                .unwrap_or_default(),
            body: row.body.unwrap_or_default(),
        })),
        "pending" if row.age <= abandoned_after.as_secs_f64() => Ok(Claim::InProgress),
        _ => {
            let command_id = match row.command_id {
                Some(id) => CausationId::parse(id).map_err(|e| {
                    StoreError::Corrupt(format!("idempotency key {key}: command id: {e}"))
                })?,
                None => legacy_command_id(key),
            };
            tx.execute(
                "UPDATE projector.idempotency_keys SET state = 'pending', command_id = $2, \
                 claimed_at = now() WHERE key = $1",
                &[&key, &command_id.as_str()],
            )
            .await
            .map_err(|e| store_error("taking over an idempotency key", e))?;
            Ok(Claim::Claimed {
                command_id,
                taken_over: true,
            })
        }
    }
}
