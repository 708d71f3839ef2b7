//! The admin API: each projection's state, lag and rebuild, a rebuild without downtime (from a
//! chosen position or time, for a backfill), pausing a projection (`pause`), resuming one
//! paused or stopped at a poison event, and its dead letters (`dead_letters`).
//!
//! These routes act on the projector of this process. With several servers on one PostgreSQL
//! database, each projection runs in the one holding its lease; the others stand by and answer
//! 409 (`standby`) to actions on it, so the operator sends them to the holder. A local read
//! model (a search index each server keeps on its own disk) runs in every server, and each
//! shows and rebuilds its own. With authentication on, every admin route needs the `admin`
//! scope; they also take the token as the password of HTTP Basic, for the dashboard
//! (`dashboard`, `live`), which a browser loads without a way to add a bearer token.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use projector_core::Partition;
use projector_runtime::{Lag, ProjectionStatus, WorkerState};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::routes::path::ProjectionPath;
use crate::routes::problems::AdminProblems;
use crate::state::AppState;

mod dashboard;
mod dead_letters;
mod live;
mod pause;

/// The admin routes, documented.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(projections))
        .routes(routes!(rebuild))
        .routes(routes!(resume))
        .merge(dead_letters::router())
        .routes(routes!(pause::pause))
        .merge(dashboard::router())
        .merge(live::router())
}

/// Who asked for an admin action, for its log line: the caller's id when authentication is
/// on, else `anonymous`.
pub(crate) fn actor(principal: Option<&Principal>) -> String {
    principal.map_or_else(|| "anonymous".to_owned(), |p| p.id.to_string())
}

/// Every projection of this server.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProjectionList {
    /// The head of the feed: the position of the last committed event.
    head: u64,
    projections: Vec<ProjectionView>,
    /// The relay of the event feed to NATS this server runs (`--publish`), once started.
    #[serde(skip_serializing_if = "Option::is_none")]
    relay: Option<RelayView>,
}

/// Where the relay of the event feed to NATS stands.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RelayView {
    /// The position of the last event the stream holds.
    published: u64,
    /// The head of the event store's feed.
    head: u64,
    /// Events in the feed not yet published.
    lag_events: u64,
    /// How long the oldest unpublished event has waited, in seconds; 0 when caught up.
    lag_seconds: f64,
    /// Why publishing fails, while it does (the broker away, say); writes go on meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// One projection, as this server sees it. A projection run as partitions
/// (`--partitions order_summary=4`) is listed as each of its partitions, under their own names
/// (`order_summary_p0of4` ...), each with its own state, checkpoint, lease and controls; a read
/// naming the projection waits for all of them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProjectionView {
    /// The projection's name; for a partition, `<projection>_p<index>of<count>`.
    name: String,
    /// For a partition: the projection it is part of, and which partition it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    partition: Option<PartitionView>,
    /// The version of its read model's shape.
    version: u32,
    /// `starting`, `standby` (another process holds its lease and runs it), `catching_up`,
    /// `live`, `retrying`, `stopped` (at a poison event, until resumed), `paused` (by an
    /// operator, until resumed) or `shut_down`.
    state: String,
    /// Whether an operator paused it: it applies nothing until resumed (shown on a standby
    /// too, for the process that holds it).
    paused: bool,
    /// When it was paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    paused_since: Option<DateTime<Utc>>,
    /// Who paused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    paused_by: Option<String>,
    /// Why it is retrying or stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// When stopped: the position of the event it stopped at.
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped_at: Option<u64>,
    /// The generation serving reads, once opened.
    generation: Option<u32>,
    /// Every event up to this position is applied in the serving generation.
    checkpoint: u64,
    /// Events committed but not yet applied.
    lag_events: u64,
    /// How long the oldest unapplied event has waited, in seconds; 0 when caught up.
    lag_seconds: f64,
    /// When the event at the checkpoint was recorded.
    last_event_at: Option<DateTime<Utc>>,
    /// Dead letters in the serving generation.
    dead_letters: u64,
    /// The rebuild in progress, if any: this process's, or on a standby the lease holder's.
    rebuild: Option<RebuildProgress>,
    /// Whether each server keeps its own copy of this read model (a search index on its own
    /// disk): it runs here without a lease, and its checkpoint and lag are this server's.
    local: bool,
    /// `inline` when its read model commits in the same transaction as the events that change
    /// it (a read right after a write sees the write), else `async` (projected after the
    /// commit; a read waits with `min_position` to see a write).
    #[schema(example = "inline")]
    mode: &'static str,
    /// Events applied per second over the last few seconds (0 until measured).
    throughput_per_s: f64,
    /// The process running it: this one (its lease label, or `this process`), or on a standby
    /// the lease holder's label when known (on PostgreSQL); absent when none or unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    holder: Option<String>,
}

/// Which partition of a projection an entry is: it applies the streams whose id hashes
/// (64-bit FNV-1a, modulo `count`) to `index`, and moves its checkpoint past the others.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PartitionView {
    /// The projection the partition is part of: what reads and `projector rebuild` name.
    #[schema(example = "order_summary")]
    projection: String,
    /// The partition's index, from 0.
    #[schema(example = 0)]
    index: u16,
    /// How many partitions the projection runs as.
    #[schema(example = 4)]
    count: u16,
}

/// A rebuild filling a new generation beside the serving one.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RebuildProgress {
    /// The generation being built; it serves reads once it has caught up.
    generation: u32,
    /// How far it has applied the feed.
    checkpoint: u64,
    /// Events it still has to apply to reach the head.
    remaining_events: u64,
}

impl ProjectionView {
    fn new(status: ProjectionStatus, lag: Lag, state: &AppState) -> Self {
        let local = state.target(&status.name).is_some_and(|t| t.local());
        let inline = state.target(&status.name).is_some_and(|t| t.inline());
        let throughput_per_s = state.sampler().throughput(&status.name);
        let holder = match &status.state {
            WorkerState::Standby => state.sampler().holder(&status.name),
            WorkerState::Starting | WorkerState::ShutDown => None,
            _ => Some(state.label().to_owned()),
        };
        let (error, stopped_at) = match &status.state {
            WorkerState::Retrying { error, .. } => (Some(error.clone()), None),
            WorkerState::Stopped { position, error } => (Some(error.clone()), Some(position.get())),
            WorkerState::Diverged { error, .. } => (Some(error.clone()), None),
            _ => (None, None),
        };
        let partition =
            Partition::parse_worker_name(&status.name).map(|(projection, p)| PartitionView {
                projection: projection.to_string(),
                index: p.index(),
                count: p.count(),
            });
        Self {
            name: status.name.to_string(),
            partition,
            version: status.version,
            state: status.state.name().to_owned(),
            paused: status.paused.is_some(),
            paused_since: status.paused.as_ref().map(|p| p.since),
            paused_by: status.paused.as_ref().map(|p| p.by.clone()),
            error,
            stopped_at,
            generation: status.generation.map(|g| g.get()),
            checkpoint: status.checkpoint.get(),
            lag_events: lag.events,
            lag_seconds: lag.seconds,
            last_event_at: status.last_event_at,
            dead_letters: status.dead_letters,
            rebuild: status.rebuild.map(|r| RebuildProgress {
                generation: r.generation.get(),
                checkpoint: r.checkpoint.get(),
                remaining_events: r.checkpoint.distance_to(lag.head),
            }),
            local,
            mode: if inline { "inline" } else { "async" },
            throughput_per_s,
            holder,
        }
    }
}

/// Each projection's state, serving generation, checkpoint, lag, dead letters and rebuild.
#[utoipa::path(get, path = "/admin/projections", tag = "admin",
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "Every projection of this server", body = ProjectionList),
        (status = 503, description = "The event store is unavailable", body = crate::error::Problem,
            content_type = "application/problem+json"),
    ))]
pub(crate) async fn projections(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(projection_list(&state).await?).into_response())
}

/// Every projection as `GET /admin/projections` shows them; the dashboard's feed sends the same.
pub(crate) async fn projection_list(state: &AppState) -> Result<ProjectionList, ApiError> {
    let lags = state.projector().lags().await?;
    let head = match lags.first() {
        Some((_, lag)) => lag.head,
        None => state
            .store()
            .head()
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?,
    };
    let projections = lags
        .into_iter()
        .map(|(status, lag)| ProjectionView::new(status, lag, state))
        .collect();
    let relay = state.relay().map(|r| RelayView {
        published: r.published.get(),
        head: r.head.get().max(head.get()),
        lag_events: r.published.distance_to(r.head.max(head)),
        lag_seconds: r.lag_seconds(Utc::now()),
        error: r.error,
    });
    Ok(ProjectionList {
        head: head.get(),
        projections,
        relay,
    })
}

/// The answer to a rebuild request.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RebuildStarted {
    /// The projection.
    projection: String,
    /// The new generation, filled from the first event and swapped in once it has caught up;
    /// the old one serves reads until then.
    generation: u32,
}

/// Rebuilds a projection without downtime: a new generation is filled from the first event
/// (or where the projection starts) beside the serving one and swapped in when it has caught
/// up. Answers at once; `GET /admin/projections` shows the progress. A rebuild cut short by a
/// crash or failover is carried on by whichever process runs the projection next.
///
/// A body `{"from_position": N}` or `{"since": "<RFC 3339 time>"}` starts the new generation
/// there instead (a backfill): the events before it are never applied.
#[utoipa::path(post, path = "/admin/projections/{name}/rebuild", tag = "admin",
    security(("bearer" = ["admin"])),
    params(ProjectionPath),
    request_body(content = Option<pause::RebuildRequest>, content_type = "application/json",
        description = "Where the new generation starts; none for where the projection says"),
    responses(
        (status = 202, description = "The rebuild has started", body = RebuildStarted,
            headers(("Location" = String, description = "Where to follow its progress"))),
        (status = 400, description = "The body is not JSON, or not an object",
            body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not declared as JSON",
            body = crate::error::Problem, content_type = "application/problem+json"),
        AdminProblems,
    ))]
pub(crate) async fn rebuild(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    ProjectionPath { name }: ProjectionPath,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let start = match body.value {
        Some(_) => {
            let head = state
                .store()
                .head()
                .await
                .map_err(|e| ApiError::Unavailable(e.to_string()))?;
            pause::start_from(&body, head)?
        }
        None => None,
    };
    let generation = match start {
        Some(start) => state.projector().rebuild_from(&name, start).await?,
        None => state.projector().rebuild(&name).await?,
    };
    tracing::info!(projection = %name, action = "rebuild", by = %actor(principal.as_deref()),
        %generation, ?start, "rebuild requested over the admin API");
    let body = RebuildStarted {
        projection: name.to_string(),
        generation: generation.get(),
    };
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, "/admin/projections")],
        Json(body),
    )
        .into_response())
}

/// The answer to a resume request.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Resumed {
    /// The projection.
    projection: String,
    /// The position it retries from: its checkpoint.
    checkpoint: u64,
}

/// Lets a projection stopped at a poison event try again from its checkpoint (after the cause
/// is fixed, e.g. by a new version of the projection or of the data it reads), and lifts an
/// operator's pause. A projection neither stopped nor paused answers 409. A projection run as
/// partitions resumes whole, named by its own name or any partition's.
#[utoipa::path(post, path = "/admin/projections/{name}/resume", tag = "admin",
    security(("bearer" = ["admin"])),
    params(ProjectionPath),
    responses(
        (status = 200, description = "The projection is trying again", body = Resumed),
        AdminProblems,
    ))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    ProjectionPath { name }: ProjectionPath,
) -> Result<Response, ApiError> {
    let projector = state.projector();
    if !projector.resume(&name).await? {
        let current = projector
            .status(&name)
            .map_or("unknown", |s| s.state.name());
        return Err(ApiError::Conflict(format!(
            "projection {name} is not stopped at a poison event, nor paused (it is {current}); there is nothing to resume"
        )));
    }
    tracing::info!(projection = %name, action = "resume", by = %actor(principal.as_deref()),
        "resume requested over the admin API");
    let checkpoint = projector.status(&name).map_or(0, |s| s.checkpoint.get());
    Ok(Json(Resumed {
        projection: name.to_string(),
        checkpoint,
    })
    .into_response())
}
