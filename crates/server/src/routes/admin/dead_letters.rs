//! Dead letters over the admin API: listing a projection's, showing one with its event, and
//! retrying or skipping them. Retries and skips run in the projection's worker, between its
//! batches, so they act only where the projection runs (a standby answers 409 `standby`).

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use projector_core::{DeadLetter, RecordedEvent};
use projector_runtime::{RetryOutcome, RuntimeError};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::actor;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::path::{DeadLetterPath, ProjectionPath};
use crate::routes::problems::AdminProblems;
use crate::state::AppState;

/// The dead-letter routes, documented.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(retry))
        .routes(routes!(skip))
        .routes(routes!(retry_all))
}

/// An event a projection failed to apply through every retry.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadLetterView {
    /// The event's position in the feed.
    position: u64,
    /// The event's id.
    event_id: Uuid,
    /// The event's stream.
    stream_id: String,
    /// The event's type.
    event_type: String,
    /// The last error.
    error: String,
    /// How many times it was tried, over all runs and retries.
    attempts: u32,
    /// When it first failed.
    first_failed_at: DateTime<Utc>,
    /// When it last failed.
    last_failed_at: DateTime<Utc>,
    /// Whether the projection moved past it (policy `skip`, or skipped over this API) rather
    /// than stopping at it.
    skipped: bool,
}

impl From<DeadLetter> for DeadLetterView {
    fn from(letter: DeadLetter) -> Self {
        Self {
            position: letter.position.get(),
            event_id: letter.event_id,
            stream_id: letter.stream_id.to_string(),
            event_type: letter.event_type.to_string(),
            error: letter.error,
            attempts: letter.attempts,
            first_failed_at: letter.first_failed_at,
            last_failed_at: letter.last_failed_at,
            skipped: letter.skipped,
        }
    }
}

/// A projection's dead letters.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadLetterList {
    /// The projection.
    projection: String,
    /// Its dead letters in the serving generation, by position.
    dead_letters: Vec<DeadLetterView>,
}

/// A dead letter and the event it holds.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadLetterDetail {
    /// The projection.
    projection: String,
    /// The letter.
    dead_letter: DeadLetterView,
    /// The event, as the projection's feed has it; absent when it cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<EventView>,
    /// Why the event is absent (a feed that no longer holds it, or is unreachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    event_unavailable: Option<String>,
}

/// An event as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventView {
    /// Its position in the feed.
    position: u64,
    /// Its id.
    event_id: Uuid,
    /// Its stream.
    stream_id: String,
    /// Its version within the stream.
    stream_version: u64,
    /// Its type.
    event_type: String,
    /// The version of its payload's shape.
    schema_version: u32,
    /// When it was recorded.
    recorded_at: DateTime<Utc>,
    /// Its payload.
    #[schema(value_type = Object)]
    data: serde_json::Value,
    /// Its metadata (correlation id, causation id, user id).
    #[schema(value_type = Object)]
    metadata: serde_json::Value,
}

impl From<RecordedEvent> for EventView {
    fn from(event: RecordedEvent) -> Self {
        Self {
            position: event.position.get(),
            event_id: event.event_id,
            stream_id: event.stream_id.to_string(),
            stream_version: event.stream_version.get(),
            event_type: event.event_type.to_string(),
            schema_version: event.schema_version,
            recorded_at: event.recorded_at,
            data: event.data.to_value().unwrap_or_default(),
            metadata: serde_json::to_value(&event.metadata).unwrap_or_default(),
        }
    }
}

/// How the retry of one dead letter went.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RetryAnswer {
    /// The letter's position.
    position: u64,
    /// `applied`: the event is in the read model and the letter is gone (a projection stopped
    /// at it goes on). `failed`: it failed again; `error` and `attempts` are the letter's now.
    /// `refused` (only when retrying all): it could not be retried, as `error` says.
    #[schema(example = "applied")]
    outcome: String,
    /// Why it failed or was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The letter's attempts, when it failed again.
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<u32>,
}

impl RetryAnswer {
    fn new(position: u64, outcome: RetryOutcome) -> Self {
        match outcome {
            RetryOutcome::Applied => Self {
                position,
                outcome: "applied".to_owned(),
                error: None,
                attempts: None,
            },
            RetryOutcome::Failed { error, attempts } => Self {
                position,
                outcome: "failed".to_owned(),
                error: Some(error),
                attempts: Some(attempts),
            },
        }
    }

    fn refused(position: u64, error: &RuntimeError) -> Self {
        Self {
            position,
            outcome: "refused".to_owned(),
            error: Some(error.to_string()),
            attempts: None,
        }
    }
}

/// The outcome of retrying every dead letter of a projection.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RetryAllAnswer {
    /// The projection.
    projection: String,
    /// Each letter's outcome, by position.
    retried: Vec<RetryAnswer>,
}

/// A projection's dead letters: the events it failed to apply through every retry, with the
/// last error and whether it skipped them or stopped at them.
#[utoipa::path(get, path = "/admin/projections/{name}/dead-letters", tag = "admin",
    security(("bearer" = ["admin"])),
    params(ProjectionPath),
    responses(
        (status = 200, description = "The projection's dead letters", body = DeadLetterList),
        AdminProblems,
    ))]
pub(crate) async fn list(
    State(state): State<AppState>,
    ProjectionPath { name }: ProjectionPath,
) -> Result<Response, ApiError> {
    let letters = state.projector().dead_letters(&name).await?;
    Ok(Json(DeadLetterList {
        projection: name.to_string(),
        dead_letters: letters.into_iter().map(DeadLetterView::from).collect(),
    })
    .into_response())
}

/// One dead letter, with its event (payload and metadata) read from the projection's feed.
/// When the feed cannot give the event, the letter comes without it and says why.
#[utoipa::path(get, path = "/admin/projections/{name}/dead-letters/{position}", tag = "admin",
    security(("bearer" = ["admin"])),
    params(DeadLetterPath),
    responses(
        (status = 200, description = "The dead letter and its event", body = DeadLetterDetail),
        AdminProblems,
    ))]
pub(crate) async fn show(
    State(state): State<AppState>,
    DeadLetterPath { name, position }: DeadLetterPath,
) -> Result<Response, ApiError> {
    let projector = state.projector();
    let letter = projector.dead_letter(&name, position).await?;
    let (event, event_unavailable) = match projector.event(&name, position).await {
        Ok(event) => (Some(EventView::from(event)), None),
        Err(error) => (None, Some(error.to_string())),
    };
    Ok(Json(DeadLetterDetail {
        projection: name.to_string(),
        dead_letter: letter.into(),
        event,
        event_unavailable,
    })
    .into_response())
}

/// Applies a dead letter's event again, now (once its cause is mended). A letter the
/// projection skipped is applied behind its checkpoint, which stays; the letter it stopped at
/// moves the checkpoint past it and the projection goes on. Answers 200 either way: with
/// `outcome` `applied` (the letter is gone), or `failed` with the new error and attempts (the
/// letter stays, and a stopped projection stays stopped).
#[utoipa::path(post, path = "/admin/projections/{name}/dead-letters/{position}/retry",
    tag = "admin",
    security(("bearer" = ["admin"])),
    params(DeadLetterPath),
    responses(
        (status = 200, description = "The retry's outcome", body = RetryAnswer),
        AdminProblems,
    ))]
pub(crate) async fn retry(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    DeadLetterPath { name, position }: DeadLetterPath,
) -> Result<Response, ApiError> {
    let by = actor(principal.as_deref());
    tracing::info!(projection = %name, %position, action = "retry", by = %by,
        "dead letter retry requested over the admin API");
    let outcome = state.projector().retry_dead_letter(&name, position).await?;
    Ok(Json(RetryAnswer::new(position.get(), outcome)).into_response())
}

/// Retries every dead letter of a projection, by position, and lists how each went (a letter
/// that cannot be retried, such as one neither skipped nor stopped at, is `refused`).
#[utoipa::path(post, path = "/admin/projections/{name}/dead-letters/retry", tag = "admin",
    security(("bearer" = ["admin"])),
    params(ProjectionPath),
    responses(
        (status = 200, description = "Each letter's outcome", body = RetryAllAnswer),
        AdminProblems,
    ))]
pub(crate) async fn retry_all(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    ProjectionPath { name }: ProjectionPath,
) -> Result<Response, ApiError> {
    let by = actor(principal.as_deref());
    tracing::info!(projection = %name, action = "retry_all", by = %by,
        "retry of every dead letter requested over the admin API");
    let outcomes = state.projector().retry_dead_letters(&name).await?;
    let retried = outcomes
        .into_iter()
        .map(|(position, outcome)| match outcome {
            Ok(outcome) => RetryAnswer::new(position.get(), outcome),
            Err(error) => RetryAnswer::refused(position.get(), &error),
        })
        .collect();
    Ok(Json(RetryAllAnswer {
        projection: name.to_string(),
        retried,
    })
    .into_response())
}

/// Moves a projection past the event it stopped at, without applying it: the letter is kept,
/// marked skipped (it can still be retried), and the projection goes on. A letter skipped
/// already, or one the projection is not stopped at, is a 409.
#[utoipa::path(post, path = "/admin/projections/{name}/dead-letters/{position}/skip",
    tag = "admin",
    security(("bearer" = ["admin"])),
    params(DeadLetterPath),
    responses(
        (status = 200, description = "The letter, now skipped", body = DeadLetterView),
        AdminProblems,
    ))]
pub(crate) async fn skip(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    DeadLetterPath { name, position }: DeadLetterPath,
) -> Result<Response, ApiError> {
    let by = actor(principal.as_deref());
    tracing::info!(projection = %name, %position, action = "skip", by = %by,
        "dead letter skip requested over the admin API");
    let letter = state.projector().skip_dead_letter(&name, position).await?;
    Ok(Json(DeadLetterView::from(letter)).into_response())
}
