//! Read your own writes: a read may name the position of a write (`min_position`) and is
//! answered once the projection behind its route has applied it, or fails after a bounded wait
//! naming the position reached. Every read reports its projection's position in the
//! `Projection-Position` header.

use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::Response;
use projector_core::{GlobalPosition, ProjectionName};
use projector_runtime::WaitError;

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::state::AppState;

/// The header carrying the position a read was answered at.
pub const POSITION_HEADER: &str = "projection-position";

/// What a read asks of the read model's freshness.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadConsistency {
    min_position: Option<GlobalPosition>,
    wait: Duration,
}

impl ReadConsistency {
    /// The position the read must reflect, if the client named one.
    pub(crate) fn min_position(&self) -> Option<GlobalPosition> {
        self.min_position
    }

    /// How long the read may wait for `min_position`.
    pub(crate) fn wait(&self) -> Duration {
        self.wait
    }

    /// Reads `min_position` and `wait_ms` from the query.
    pub(crate) fn from_query(query: &mut QueryParams, state: &AppState) -> Self {
        Self::from_query_with(query, state.config())
    }

    /// Reads `min_position` and `wait_ms` from the query, under `config`'s bounds.
    pub(crate) fn from_query_with(query: &mut QueryParams, config: &ServerConfig) -> Self {
        let max_ms = config.max_read_wait.as_millis() as u64;
        let min_position = query
            .number("min_position", 0, i64::MAX as u64)
            .map(GlobalPosition::new);
        let wait = query
            .number("wait_ms", 0, max_ms)
            .map_or(config.default_read_wait, Duration::from_millis);
        Self { min_position, wait }
    }
}

/// Waits until `projection` has reached the read's `min_position` (if any) and returns the
/// position it has reached.
pub(crate) async fn reached(
    state: &AppState,
    projection: &ProjectionName,
    consistency: ReadConsistency,
) -> Result<GlobalPosition, ApiError> {
    let projector = state.projector();
    let Some(wanted) = consistency.min_position else {
        return Ok(projector
            .status(projection)
            .map_or(GlobalPosition::ZERO, |s| s.checkpoint));
    };
    // A position this process has seen committed needs no round trip to show a write reached
    // it; only one beyond that is checked against the store's head.
    if wanted > *state.stream_reads().watch_head().borrow() {
        committed_head(state, consistency).await?;
    }
    let waited = tokio::select! {
        waited = projector.wait_for(projection, wanted, consistency.wait) => waited,
        () = state.stopping().cancelled() => {
            return Err(ApiError::Unavailable(format!(
                "the server is stopping; {projection} had not reached position {wanted}"
            )));
        }
    };
    match waited {
        Ok(reached) => Ok(reached),
        Err(WaitError::TimedOut { reached, .. }) => Err(ApiError::NotReached {
            projection: projection.to_string(),
            wanted,
            reached,
            waited_ms: consistency.wait.as_millis() as u64,
        }),
        Err(WaitError::Stopped {
            reached,
            stopped_at,
            error,
            ..
        }) => Err(ApiError::Unavailable(format!(
            "{projection} is stopped at position {stopped_at} ({error}) and has reached {reached}"
        ))),
        Err(other) => Err(ApiError::Unavailable(other.to_string())),
    }
}

/// The head of the feed, refusing a `min_position` beyond it: no write has reached it, so no
/// wait would.
pub(crate) async fn committed_head(
    state: &AppState,
    consistency: ReadConsistency,
) -> Result<GlobalPosition, ApiError> {
    // Asked on the HTTP reads' own path to the store, not the one projecting reads through.
    let head = state
        .stream_reads()
        .head()
        .await
        .map_err(|e| ApiError::Unavailable(format!("cannot read the head of the feed: {e}")))?;
    match consistency.min_position {
        // A read node's feed trails the writer: a position written there arrives shortly.
        Some(_) if state.config().read_node.is_some() => Ok(head),
        Some(wanted) if wanted > head => Err(ApiError::field(
            "query.min_position",
            format!("is beyond the last committed position ({head}); no write has reached it"),
        )),
        _ => Ok(head),
    }
}

/// Adds the `Projection-Position` header.
pub(crate) fn with_position(mut response: Response, position: GlobalPosition) -> Response {
    if let Ok(value) = HeaderValue::from_str(&position.to_string()) {
        response.headers_mut().insert(POSITION_HEADER, value);
    }
    response
}
