//! Running a write's command and turning what it did (accepted, unchanged, refused, failed)
//! into the answer, in the form idempotency keys record it.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use projector_core::{
    CommandError, CommandOptions, Decider, EventMetadata, StoreError, StoredResponse, execute,
};

use super::{Accepted, WRITE_ATTEMPTS, Write};
use crate::error::ApiError;
use crate::state::AppState;

/// What a write came to.
#[derive(Debug)]
pub(super) struct Outcome {
    /// The answer.
    pub(super) stored: StoredResponse,
    /// Whether the command's events are in the stream (appended now or by an earlier attempt):
    /// the answer can then be found again from them.
    pub(super) appended: bool,
    /// Whether an earlier attempt had run the command: nothing was appended now.
    pub(super) replayed: bool,
}

impl Outcome {
    /// A refusal (4xx): nothing appended.
    pub(super) fn refused(error: &ApiError) -> Self {
        Self {
            stored: stored_error(error),
            appended: false,
            replayed: false,
        }
    }
}

/// Runs the write's command: accepted, unchanged, or an error (a refusal or a failure).
pub(super) async fn carry_out<D: Decider>(
    state: &AppState,
    decider: &D,
    write: &Write<D::Command>,
    refusal: fn(&str, &D::Error) -> ApiError,
) -> Result<Outcome, ApiError> {
    let options = CommandOptions {
        if_version: write.headers.if_match,
        // Each round of a race has one winner, so n writers to one stream need up to n tries.
        max_attempts: WRITE_ATTEMPTS,
        metadata: EventMetadata {
            correlation_id: Some(write.correlation_id.clone()),
            causation_id: Some(write.command_id.clone()),
            user_id: write.headers.user_id.clone(),
        },
    };
    let executed = execute(
        decider,
        state.store(),
        &write.stream,
        &write.command,
        &options,
    )
    .await
    .map_err(|e| command_error(e, |reason| refusal(&write.resource_id, reason)))?;
    let position = match executed.position {
        Some(position) => position,
        // Nothing changed: any read at the current head sees the resource as it is.
        None => state.store().head().await.map_err(store_error)?,
    };
    if executed.replayed {
        tracing::info!(stream = %write.stream, %position, "command already ran; answering from its events");
    }
    let appended = !executed.events.is_empty() || executed.replayed;
    let body = Accepted {
        id: write.resource_id.clone(),
        status: if appended { "accepted" } else { "unchanged" }.into(),
        position: position.get(),
        command_id: write.command_id.to_string(),
    };
    let status = if appended {
        write.target.success
    } else {
        StatusCode::OK
    };
    Ok(Outcome {
        stored: StoredResponse {
            status: status.as_u16(),
            headers: vec![
                (header::CONTENT_TYPE.to_string(), "application/json".into()),
                (
                    header::LOCATION.to_string(),
                    (write.target.location)(&write.resource_id),
                ),
                (
                    header::ETAG.to_string(),
                    format!("\"{}\"", executed.stream_version),
                ),
            ],
            body: serde_json::to_string(&body).unwrap_or_default(),
        },
        appended,
        replayed: executed.replayed,
    })
}

fn command_error<E: std::error::Error + 'static>(
    error: CommandError<E>,
    refusal: impl Fn(&E) -> ApiError,
) -> ApiError {
    match error {
        CommandError::Rejected(reason) => refusal(&reason),
        CommandError::PreconditionFailed {
            expected, actual, ..
        } => ApiError::PreconditionFailed {
            expected: expected.get(),
            actual: actual.get(),
        },
        CommandError::Conflict(conflict) => ApiError::Conflict(format!(
            "other writes kept changing the resource ({conflict}); try again"
        )),
        CommandError::Store(error) => store_error(error),
        other => ApiError::Internal(other.to_string()),
    }
}

/// The HTTP error for a store failure.
pub(crate) fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(conflict) => ApiError::Conflict(conflict.to_string()),
        StoreError::DuplicateEvent { .. } => ApiError::Conflict(error.to_string()),
        StoreError::InvalidRequest(message) => ApiError::field("body", message),
        StoreError::Corrupt(_) => ApiError::Internal(error.to_string()),
        StoreError::InlineProjection {
            projection,
            message,
        } => ApiError::InlineProjection {
            projection,
            message,
        },
        other => ApiError::Unavailable(other.to_string()),
    }
}

/// A refusal as it is recorded and replayed.
fn stored_error(error: &ApiError) -> StoredResponse {
    StoredResponse {
        status: error.status_code().as_u16(),
        headers: vec![(
            header::CONTENT_TYPE.to_string(),
            "application/problem+json".into(),
        )],
        body: serde_json::to_string(&error.problem()).unwrap_or_default(),
    }
}

/// The HTTP answer for a recorded one.
pub(super) fn into_response(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, stored.body).into_response();
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
