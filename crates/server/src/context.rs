//! Per-request context: the correlation id (taken from `X-Correlation-Id` or made), the
//! request's log span, and its HTTP metrics.

use std::future::Future;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use projector_core::CorrelationId;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::error::ApiError;
use crate::state::AppState;

/// The header that carries the correlation id in both directions.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

tokio::task_local! {
    static CORRELATION_ID: CorrelationId;
}

/// What handlers know about the request beyond its content.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// Ties together the request, its log lines, its events and the projector's log lines.
    pub correlation_id: CorrelationId,
}

/// The correlation id of the request being handled on this task, if any.
pub(crate) fn current_correlation_id() -> Option<String> {
    CORRELATION_ID.try_with(|id| id.to_string()).ok()
}

/// Runs `work` on a task of its own, tracked by `tasks`, under this request's correlation id
/// and log span: dropping the request's future (the client went away, the request timed out)
/// does not cut it short.
pub(crate) fn spawn_detached<F>(tasks: &TaskTracker, work: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let span = tracing::Span::current();
    match CORRELATION_ID.try_with(Clone::clone) {
        Ok(id) => tasks.spawn(CORRELATION_ID.scope(id, work).instrument(span)),
        Err(_) => tasks.spawn(work.instrument(span)),
    }
}

fn new_correlation_id() -> CorrelationId {
    CorrelationId::parse(uuid::Uuid::now_v7().to_string())
        .unwrap_or(CorrelationId::from_static("uncorrelated"))
}

/// The method as a metric label and log field: one of the methods the API knows, or `other`,
/// so an arbitrary method token can neither add a series per request nor flood the log.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: correlation id, log span, access log line and metrics for every request.
pub(crate) async fn track(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok());
    let correlation_id = match given.map(CorrelationId::parse) {
        Some(Ok(id)) => id,
        Some(Err(error)) => {
            tracing::debug!(%error, "ignoring an invalid X-Correlation-Id; making a new one");
            new_correlation_id()
        }
        None => new_correlation_id(),
    };
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = method_label(request.method());
    request.extensions_mut().insert(RequestContext {
        correlation_id: correlation_id.clone(),
    });
    let span = tracing::info_span!("request", method = %method, route = %route, correlation_id = %correlation_id);
    let started = Instant::now();
    let timeout = state.config().request_timeout;
    let handled = CORRELATION_ID.scope(correlation_id.clone(), async move {
        match tokio::time::timeout(timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::Unavailable(format!(
                "the request took longer than {} s",
                timeout.as_secs()
            ))
            .into_response(),
        }
    });
    let mut response = handled.instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .request_metrics()
        .record(method, route, status, elapsed);
    span.in_scope(|| {
        let micros = elapsed.as_micros() as u64;
        if route == "/metrics" || route == "/health" {
            tracing::debug!(status, micros, "request completed");
        } else {
            tracing::info!(status, micros, "request completed");
        }
    });
    if let Ok(value) = HeaderValue::from_str(correlation_id.as_str()) {
        response.headers_mut().insert(CORRELATION_HEADER, value);
    }
    response
}
