//! [`PgIdempotencyStore`]: idempotency keys and their answers in `projector.idempotency_keys`,
//! shared by every process on the database, so a retry sent to another server still gets the
//! first answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use projector_core::{Claim, IdempotencyStore, StoreError, StoredResponse};

use crate::error::{store_error, store_pool_error};

/// Old answers are swept on one claim in this many.
const SWEEP_EVERY: u64 = 256;

/// Idempotency keys in PostgreSQL (created by the migrations).
#[derive(Clone, Debug)]
pub struct PgIdempotencyStore {
    pool: Pool,
    claims: Arc<AtomicU64>,
}

impl PgIdempotencyStore {
    /// Keys kept through `pool` (for example the event store's, [`crate::PgEventStore::pool`]).
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            claims: Arc::new(AtomicU64::new(0)),
        }
    }
}

#[async_trait]
impl IdempotencyStore for PgIdempotencyStore {
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
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
        if self
            .claims
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            tx.execute("DELETE FROM projector.idempotency_keys WHERE claimed_at < now() - interval '1 day'", &[])
                .await
                .map_err(|e| store_error("sweeping idempotency keys", e))?;
        }
        let inserted = tx
            .execute(
                "INSERT INTO projector.idempotency_keys (key, fingerprint, state, claimed_at) \
                 VALUES ($1, $2, 'pending', now()) ON CONFLICT (key) DO NOTHING",
                &[&key, &fingerprint],
            )
            .await
            .map_err(|e| store_error("claiming an idempotency key", e))?;
        let claim = if inserted == 1 {
            Claim::Claimed
        } else {
            let row = tx
                .query_one(
                    "SELECT fingerprint, state, status, headers, body, \
                     EXTRACT(EPOCH FROM now() - claimed_at)::float8 \
                     FROM projector.idempotency_keys WHERE key = $1 FOR UPDATE",
                    &[&key],
                )
                .await
                .map_err(|e| store_error("reading an idempotency key", e))?;
            let stored: String = row.get(0);
            let state: String = row.get(1);
            let age: f64 = row.get(5);
            if stored != fingerprint {
                Claim::Mismatch
            } else if state == "done" {
                let headers: Option<String> = row.get(3);
                Claim::Completed(StoredResponse {
                    status: row
                        .get::<_, Option<i32>>(2)
                        .and_then(|s| u16::try_from(s).ok())
                        .unwrap_or(500),
                    headers: headers
                        .and_then(|h| serde_json::from_str(&h).ok())
                        .unwrap_or_default(),
                    body: row.get::<_, Option<String>>(4).unwrap_or_default(),
                })
            } else if age > abandoned_after.as_secs_f64() {
                tx.execute(
                    "UPDATE projector.idempotency_keys SET claimed_at = now() WHERE key = $1",
                    &[&key],
                )
                .await
                .map_err(|e| store_error("reclaiming an idempotency key", e))?;
                Claim::Claimed
            } else {
                Claim::InProgress
            }
        };
        tx.commit()
            .await
            .map_err(|e| store_error("claiming an idempotency key", e))?;
        Ok(claim)
    }

    async fn complete(&self, key: &str, response: &StoredResponse) -> Result<(), StoreError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| store_pool_error("idempotency keys", e))?;
        let headers = serde_json::to_string(&response.headers).unwrap_or_else(|_| "[]".into());
        client
            .execute(
                "UPDATE projector.idempotency_keys SET state = 'done', status = $2, headers = $3, body = $4, \
                 completed_at = now() WHERE key = $1",
                &[&key, &i32::from(response.status), &headers, &response.body],
            )
            .await
            .map_err(|e| store_error("recording an answer", e))?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| store_pool_error("idempotency keys", e))?;
        client
            .execute(
                "DELETE FROM projector.idempotency_keys WHERE key = $1 AND state = 'pending'",
                &[&key],
            )
            .await
            .map_err(|e| store_error("releasing an idempotency key", e))?;
        Ok(())
    }
}
