//! Remembering the answer to a request sent with an idempotency key, so a retry gets the first
//! answer and changes nothing.
//!
//! The key is claimed before the request runs and completed with its answer after. A retry
//! finds the answer; a retry while the first is still running finds it in progress; the same
//! key with another request (another fingerprint) is refused. What a crash between appending
//! and completing leaves behind is covered by the command's causation id (see
//! [`crate::decide::CommandOptions::metadata`]): the retry finds its events in the stream.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// The answer a request got, as it is replayed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers worth replaying (e.g. `Location`), in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

/// What claiming a key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or its earlier claim was abandoned): run the request, then complete it.
    Claimed,
    /// The key was used for this same request, which has been answered.
    Completed(StoredResponse),
    /// The key was used for this same request, which is still running.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

/// Where idempotency keys and their answers are kept.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `key` for the request with `fingerprint`. A claim left unanswered for longer than
    /// `abandoned_after` (its process died) can be claimed again.
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        abandoned_after: Duration,
    ) -> Result<Claim, StoreError>;

    /// Records the answer to a claimed key.
    async fn complete(&self, key: &str, response: &StoredResponse) -> Result<(), StoreError>;

    /// Gives up a claim without an answer (the request failed in a way worth retrying).
    async fn release(&self, key: &str) -> Result<(), StoreError>;
}
