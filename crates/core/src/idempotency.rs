//! Remembering the answer to a request sent with an idempotency key, so a retry gets the first
//! answer and changes nothing.
//!
//! The key is claimed before the request runs and completed with its answer after. A retry
//! finds the answer; a retry while the first is still running finds it in progress; the same
//! key with another request (another fingerprint) is refused. A key is remembered for a
//! retention period (a day by default), after which it is new again.
//!
//! The claim holds the id the request's command runs under, made when the key is first
//! claimed and kept for as long as the key is remembered. What a crash between appending and
//! completing leaves behind is covered by it: the command's events carry it as their causation
//! id (see [`crate::decide::CommandOptions::metadata`]), so a retry that takes the claim over
//! finds them in the stream instead of running again. A key used again once forgotten gets a
//! new command id, so it runs as the new request it is.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::ids::CausationId;

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
    /// The key is the caller's: run the request under `command_id`, then complete or release it.
    Claimed {
        /// The command id the request runs under: the one offered to
        /// [`IdempotencyStore::claim`] for a key new (or forgotten), else the one of the key's
        /// first claim.
        command_id: CausationId,
        /// Whether an earlier attempt held the claim (it died, or gave the claim up) and may
        /// have appended events under `command_id`.
        taken_over: bool,
    },
    /// The key was used for this same request, which has been answered.
    Completed(StoredResponse),
    /// The key was used for this same request, which is still running.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

/// How long keys are remembered unless a store is told otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Where idempotency keys and their answers are kept.
///
/// A key is remembered for the store's retention, counted from its claim: after that, `claim`
/// treats it as new whether or not it has been swept yet.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `key` for the request with `fingerprint`, offering `command_id` for a key it does
    /// not remember. A claim left unanswered for longer than `abandoned_after` (its process
    /// died) can be taken over; a released one at once.
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        command_id: &CausationId,
        abandoned_after: Duration,
    ) -> Result<Claim, StoreError>;

    /// Records the answer to the key claimed under `command_id`. The first answer stays: a
    /// second attempt that took the claim over does not replace it.
    async fn complete(
        &self,
        key: &str,
        command_id: &CausationId,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;

    /// Gives up the claim under `command_id` without an answer, so a retry of the same request
    /// takes it over at once, under the same command id (the request may have appended).
    async fn release(&self, key: &str, command_id: &CausationId) -> Result<(), StoreError>;
}

/// The command id of a claim made by a version that did not store one: it derived the id from
/// the key alone. A claim it left unanswered is taken over under that id, so its events are
/// found.
pub fn legacy_command_id(key: &str) -> CausationId {
    let id = format!(
        "idem-{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, key.as_bytes())
    );
    CausationId::parse(id).unwrap_or(CausationId::from_static("idem"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id the earlier versions gave key `add-b`, as one of them answered.
    #[test]
    fn the_legacy_command_id_is_the_one_earlier_versions_made() {
        assert_eq!(
            legacy_command_id("add-b").as_str(),
            "idem-d210e781-df28-5028-a9b8-ad343ee2ded7"
        );
    }
}
