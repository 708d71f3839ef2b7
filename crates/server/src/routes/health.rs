//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use projector_core::StreamId;
use projector_runtime::WorkerState;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The operational routes, documented.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
}

/// The answer of `/health`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// The process is alive.
#[utoipa::path(get, path = "/health", tag = "operations",
    security(()),
    responses((status = 200, description = "Alive", body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// One projection in the readiness report.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProjectionReadiness {
    name: String,
    /// `starting`, `standby`, `catching_up`, `live`, `retrying`, `stopped` or `shut_down`.
    state: String,
    checkpoint: u64,
    lag_events: u64,
    dead_letters: u64,
    ready: bool,
    /// Whether this server keeps its own copy of the read model (a search index on its own
    /// disk): projected here whatever the leases, so never `standby`.
    local: bool,
}

/// The answer of `/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Readiness {
    /// `ready` or `not_ready`.
    status: &'static str,
    /// Whether the event store answered.
    event_store: bool,
    /// Whether every read model (caches aside) answered.
    read_store: bool,
    projections: Vec<ProjectionReadiness>,
    /// What is wrong, when not ready.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<String>,
    /// What is wrong with a cache (a read model that can vanish, such as the "my orders"
    /// cache in Redis): its reads fall back to the read model it accelerates, so the server
    /// stays ready.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    degraded: Vec<String>,
}

/// Storage is reachable and every projection is running, close to the head (or paused by an
/// operator, reported under `degraded`). Problems name
/// what is wrong, never a store's own error text (that goes to the log). A cache that is
/// away or behind is reported under `degraded`, and the server stays ready: its reads fall
/// back to the read model it accelerates.
#[utoipa::path(get, path = "/ready", tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready; the body says why", body = Readiness),
    ))]
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let mut problems = Vec::new();
    let probe = StreamId::from_static("projector-readiness-probe");
    // A read node has no event store: its feed is what must answer.
    let probed = match state.config().read_node {
        Some(_) => state.store().head().await.map(|_| ()),
        None => state.store().stream_version(&probe).await.map(|_| ()),
    };
    let event_store = match probed {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(%error, "readiness: the event store does not answer");
            problems.push("event store: unavailable".to_owned());
            false
        }
    };
    let mut read_store = true;
    let mut degraded = Vec::new();
    let mut paused_notes = Vec::new();
    let mut projections = Vec::new();
    match state.projector().lags().await {
        Ok(lags) => {
            for (status, lag) in lags {
                let target = state.target(&status.name);
                let cache = target.is_some_and(|t| t.volatile());
                // A cache's trouble degrades the service; any other read model's stops it.
                let problems = if cache { &mut degraded } else { &mut problems };
                let reachable = match target {
                    Some(target) => target.serving().await.map(|_| ()),
                    None => Ok(()),
                };
                if let Err(error) = reachable {
                    if !cache {
                        read_store = false;
                    }
                    tracing::warn!(projection = %status.name, %error, "readiness: the read model does not answer");
                    problems.push(format!("read model {}: unavailable", status.name));
                }
                // A standby serves reads from what the process holding the lease commits.
                let running = matches!(
                    status.state,
                    WorkerState::Live | WorkerState::CatchingUp | WorkerState::Standby
                );
                let mut close = lag.events <= state.config().ready_max_lag_events;
                // An operator's pause is deliberate: the read model serves what it has, and
                // the server stays ready however far it falls behind.
                let paused = status.state == WorkerState::Paused;
                let running = running || paused;
                if paused {
                    close = true;
                    paused_notes.push(format!(
                        "projection {} is paused; it applies nothing until resumed",
                        status.name
                    ));
                }
                if !running {
                    problems.push(format!(
                        "projection {} is {}",
                        status.name,
                        status.state.name()
                    ));
                } else if !close {
                    problems.push(format!(
                        "projection {} is {} events behind",
                        status.name, lag.events
                    ));
                }
                projections.push(ProjectionReadiness {
                    name: status.name.to_string(),
                    state: status.state.name().into(),
                    checkpoint: status.checkpoint.get(),
                    lag_events: lag.events,
                    dead_letters: status.dead_letters,
                    ready: running && close,
                    local: target.is_some_and(|t| t.local()),
                });
            }
        }
        Err(error) => {
            tracing::warn!(%error, "readiness: cannot compute the projections' lag");
            problems.push("projector: cannot compute the projections' lag".to_owned());
        }
    }
    degraded.extend(paused_notes);
    let ready = problems.is_empty();
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        event_store,
        read_store,
        projections,
        problems,
        degraded,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus metrics: requests and latency by route and status, events appended, projection
/// checkpoints, lag in events and seconds, batch sizes, read-model upserts and misses, dead
/// letters.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    security(("bearer" = ["admin"])),
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    if let Err(error) = state.projector().publish_lag_metrics().await {
        tracing::warn!(%error, "cannot compute projection lag for metrics");
    }
    let body = crate::prometheus::handle().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
