//! A write sent with an `Idempotency-Key`: the key is claimed, the command runs under the
//! claim's command id, and the answer is recorded for retries.
//!
//! What a retry can rely on follows from when an answer is given:
//! - an answer recorded is final: replayed to every retry while the key is remembered;
//! - an acceptance is given even if it could not be recorded: its events carry the command id,
//!   so a retry finds them and is answered the same acceptance;
//! - a refusal or "unchanged" that could not be recorded is not given: the client gets a 503
//!   and the claim is released, so its retry runs the request again;
//! - a server error releases the claim too, keeping its command id: if the command did append,
//!   the retry finds its events instead of appending again.

use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::Response;
use projector_core::{CausationId, Claim, Decider, StoredResponse};

use super::Write;
use super::outcome::{Outcome, carry_out, into_response, store_error};
use crate::error::ApiError;
use crate::state::AppState;

/// Runs `write` with `decider`, through its idempotency key if it has one (without, the
/// command just runs); `refusal` turns the domain's reasons into HTTP errors. `rebuild` builds
/// the command again under another command id (that of a claim taken over).
pub(super) async fn run<D: Decider>(
    state: &AppState,
    decider: &D,
    write: Write<D::Command>,
    rebuild: impl Fn(&CausationId) -> Option<(String, D::Command)>,
    refusal: fn(&str, &D::Error) -> ApiError,
) -> Result<Response, ApiError> {
    let Some(key) = write.headers.idempotency_key.clone() else {
        return carry_out(state, decider, &write, refusal)
            .await
            .map(|outcome| respond(outcome.stored, outcome.replayed));
    };
    let write = match claim(state, &key, &write.fingerprint, &write.command_id).await? {
        Claim::Claimed {
            command_id,
            taken_over,
        } => {
            if taken_over {
                tracing::info!(%command_id, "taking over a claim on an idempotency key left unanswered");
            }
            if command_id == write.command_id {
                write
            } else {
                let built = rebuild(&command_id);
                write.rebuilt(command_id, built)?
            }
        }
        Claim::Completed(stored) => return Ok(respond(stored, true)),
        Claim::Mismatch => return Err(ApiError::IdempotencyMismatch),
        Claim::InProgress => return Err(ApiError::IdempotencyInProgress),
    };
    let outcome = match carry_out(state, decider, &write, refusal).await {
        Ok(outcome) => outcome,
        Err(error) if error.status_code().is_server_error() => {
            release(state, &key, &write.command_id).await;
            return Err(error);
        }
        Err(error) => Outcome::refused(&error),
    };
    let Err(error) = state
        .idempotency()
        .complete(&key, &write.command_id, &outcome.stored)
        .await
    else {
        return Ok(respond(outcome.stored, outcome.replayed));
    };
    tracing::warn!(%error, "could not record the answer to an idempotency key");
    // Let a retry take the claim over at once rather than wait for it to count as abandoned.
    release(state, &key, &write.command_id).await;
    if outcome.appended {
        return Ok(respond(outcome.stored, outcome.replayed));
    }
    Err(ApiError::Unavailable(format!(
        "the answer could not be recorded ({}); nothing was written: retry with the same key",
        store_error(error)
    )))
}

/// Gives the claim up, keeping its command id; a failure only delays the retry until the
/// claim counts as abandoned.
async fn release(state: &AppState, key: &str, command_id: &CausationId) {
    if let Err(error) = state.idempotency().release(key, command_id).await {
        tracing::warn!(%error, "could not release an idempotency key");
    }
}

/// Claims the key, waiting a little for a first attempt still in flight.
async fn claim(
    state: &AppState,
    key: &str,
    fingerprint: &str,
    command_id: &CausationId,
) -> Result<Claim, ApiError> {
    let abandoned_after = state.config().idempotency_abandoned_after;
    for _ in 0..50 {
        let claim = state
            .idempotency()
            .claim(key, fingerprint, command_id, abandoned_after)
            .await
            .map_err(store_error)?;
        if claim != Claim::InProgress {
            return Ok(claim);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Claim::InProgress)
}

/// The HTTP answer; one that repeats an earlier outcome says so in `Idempotent-Replayed`.
fn respond(stored: StoredResponse, replayed: bool) -> Response {
    let mut response = into_response(stored);
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}
