//! Pausing a projection, and where a rebuild starts (a backfill of recent history only).
//!
//! A pause is kept by the projector's controls (beside the read store's catalog), so it
//! outlives the server and holds in whichever server takes the projection over. `POST
//! /admin/projections/{name}/resume` lifts it.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use projector_core::{GlobalPosition, StartFrom};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, FieldError};
use crate::extract::JsonBody;
use crate::routes::admin::actor;
use crate::routes::path::ProjectionPath;
use crate::routes::problems::AdminProblems;
use crate::state::AppState;

/// The answer to a pause request.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Paused {
    /// The projection.
    projection: String,
    /// `paused`.
    state: String,
    /// Every event up to this position is applied; nothing after it is until resumed.
    checkpoint: u64,
    /// When it was paused.
    paused_since: Option<DateTime<Utc>>,
    /// Who paused it: the caller's id, or `anonymous` without authentication.
    paused_by: Option<String>,
}

/// Pauses a projection: it applies nothing (to its serving generation or a rebuild's) until
/// resumed with `POST /admin/projections/{name}/resume`, while its read model keeps serving
/// what it has; reads waiting for a later position time out. The pause outlives a restart and
/// a failover. Pausing a paused projection answers 409. A projection run as partitions pauses
/// whole, named by its own name or any partition's.
#[utoipa::path(post, path = "/admin/projections/{name}/pause", tag = "admin",
    security(("bearer" = ["admin"])),
    params(ProjectionPath),
    responses(
        (status = 200, description = "The projection is paused", body = Paused),
        AdminProblems,
    ))]
pub(crate) async fn pause(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    ProjectionPath { name }: ProjectionPath,
) -> Result<Response, ApiError> {
    let projector = state.projector();
    let by = actor(principal.as_deref());
    if !projector.pause(&name, &by).await? {
        return Err(ApiError::Conflict(format!(
            "projection {name} is paused already; resume it with POST /admin/projections/{name}/resume"
        )));
    }
    tracing::info!(projection = %name, action = "pause", by = %by, "projection paused over the admin API");
    let status = projector.status(&name);
    let pause = status.as_ref().and_then(|s| s.paused.clone());
    Ok(Json(Paused {
        projection: name.to_string(),
        state: "paused".to_owned(),
        checkpoint: status.map_or(0, |s| s.checkpoint.get()),
        paused_since: pause.as_ref().map(|p| p.since),
        paused_by: pause.map(|p| p.by),
    })
    .into_response())
}

/// Where a rebuild starts, when not where the projection says: a position or a time, not both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Documents the body, which `start_from` reads field by field.
pub(crate) enum RebuildRequest {
    /// From a position.
    FromPosition(RebuildFromPosition),
    /// From a time.
    Since(RebuildSince),
    /// Where the projection says (`{}`).
    WhereProjectionSays(RebuildWhereProjectionSays),
}

/// Start where the projection says, as with no body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // As above.
pub(crate) struct RebuildWhereProjectionSays {}

/// Start at the event at `from_position`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // As above.
pub(crate) struct RebuildFromPosition {
    /// Start at the event at this position (at least 1, at most the head + 1): the events
    /// before it are never applied.
    #[schema(minimum = 1)]
    from_position: u64,
}

/// Start at the first event recorded at or after `since`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // As above.
pub(crate) struct RebuildSince {
    /// Start at the first event recorded at or after this time (RFC 3339).
    since: DateTime<Utc>,
}

/// Where a rebuild asked with `body` starts: `None` where the projection says. The head
/// bounds a position.
pub(crate) fn start_from(
    body: &JsonBody,
    head: GlobalPosition,
) -> Result<Option<StartFrom>, ApiError> {
    let Some(value) = body.value.as_ref().filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Value::Object(fields) = value else {
        return Err(ApiError::Malformed(
            "the request body must be a JSON object: {\"from_position\": N} or {\"since\": \"<RFC 3339 time>\"}".into(),
        ));
    };
    let mut errors = Vec::new();
    let mut start = None;
    let mut past_head = None;
    for (field, value) in fields {
        match field.as_str() {
            "from_position" => match whole_number(value) {
                Some(0) | None => errors.push(FieldError::new(
                    "from_position",
                    "must be a position: an integer of at least 1",
                )),
                Some(position) if position > head.get().saturating_add(1) => {
                    past_head = Some(position);
                }
                Some(position) => start = Some(StartFrom::Position(GlobalPosition::new(position))),
            },
            "since" => match value.as_str().map(DateTime::parse_from_rfc3339) {
                Some(Ok(at)) => start = Some(StartFrom::Time(at.with_timezone(&Utc))),
                _ => errors.push(FieldError::new(
                    "since",
                    "must be an RFC 3339 time, such as 2026-11-01T00:00:00Z",
                )),
            },
            other => errors.push(FieldError::new(
                other,
                "unknown field; a rebuild takes from_position or since",
            )),
        }
    }
    if fields.contains_key("from_position") && fields.contains_key("since") {
        errors.push(FieldError::new(
            "since",
            "give from_position or since, not both",
        ));
    }
    if let (true, Some(position)) = (errors.is_empty(), past_head) {
        // Well formed, but the store is not there yet: a conflict with its state.
        return Err(ApiError::Conflict(format!(
            "from_position {position} is past the head of the event store ({head}): a rebuild \
             starts at an event that exists, or at the next one"
        )));
    }
    if errors.is_empty() {
        Ok(start)
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// A JSON number that is a whole non-negative number, written `7` or `7.0`, as JSON Schema's
/// `integer` allows.
fn whole_number(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(f))
            .map(|f| f as u64)
    })
}
