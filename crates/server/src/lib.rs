//! The HTTP server of projector: the write and read APIs of the built-in services, the admin
//! API, the OpenAPI document and its interactive docs, metrics, health and readiness.
//!
//! Writes run domain commands against the event store; reads query read models only, waiting
//! for `min_position` when asked so a client reads its own writes.
//!
//! # Layout
//! - [`app`] builds the router; [`serve`] runs it until shutdown.
//! - `routes`: one module per area (`orders`, `customers`, `reports`, `issues`, `health`,
//!   `admin`), each with its documented router; `params`: shared parameters; `path`: typed
//!   path parameters, checked before a handler runs.
//! - `command`: running a domain command for a write (idempotency, `If-Match`, metadata).
//! - `consistency`: read-your-writes and `Projection-Position`; `read_path`: the one way a read
//!   route answers from a read model (and names it in `Read-Model`).
//! - `extract` (bodies are read with the documented size limit) and `validate`: reading requests and naming every bad field.
//! - [`error`]: every error as problem+json. `context`: correlation ids, access logs, HTTP
//!   metrics, timeouts. [`prometheus`]: the metrics recorder. `openapi`: the document.
//! - [`limits`]: the validation limits; `schemas`: the same limits in the OpenAPI document.
//!
//! It is not: a storage engine or a projector; it is handed both in [`AppState`]. Nor does it
//! authenticate anyone: put it behind a proxy that does, and do not expose `/admin` publicly.

mod command;
pub mod config;
mod consistency;
mod context;
pub mod error;
mod extract;
pub mod limits;
mod openapi;
pub mod prometheus;
mod read_path;
mod routes;
mod schemas;
mod state;
mod validate;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Extension};
use axum::http::Uri;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_scalar::{Scalar, Servable};

pub use config::ServerConfig;
pub use consistency::POSITION_HEADER;
pub use context::{CORRELATION_HEADER, RequestContext};
pub use error::ApiError;
pub use read_path::READ_MODEL_HEADER;
pub use state::AppState;

/// The whole API as an axum router, with its OpenAPI document at `/openapi.json` and
/// interactive docs at `/docs`.
pub fn app(state: AppState) -> Router {
    let (router, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(routes::orders::router())
        .merge(routes::customers::router())
        .merge(routes::issues::router())
        .merge(routes::reports::router())
        .merge(routes::health::router())
        .merge(routes::admin::router())
        .routes(routes!(openapi::document))
        .split_for_parts();
    let mut document = document;
    schemas::state_body_limits(&mut document);
    let document = Arc::new(document);
    router
        .merge(Scalar::with_url("/docs", document.as_ref().clone()))
        .route(
            "/docs/",
            get(|| async { axum::response::Redirect::permanent("/docs") }),
        )
        .fallback(|uri: Uri| async move { ApiError::NoRoute(uri.path().to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(Extension(document))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            context::track,
        ))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves, then stops accepting connections
/// and lets requests in flight finish, and the writes of requests whose client went away.
///
/// # Errors
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let served = axum::serve(listener, app(state.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    let writes = state.writes();
    writes.close();
    if !writes.is_empty() {
        tracing::info!(
            writes = writes.len(),
            "waiting for the writes whose client went away"
        );
    }
    writes.wait().await;
    served
}
