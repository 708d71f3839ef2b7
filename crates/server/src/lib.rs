//! The HTTP server of projector: the write and read APIs of the built-in services, the admin
//! API, the OpenAPI document and its interactive docs, metrics, health and readiness.
//!
//! Writes run domain commands against the event store; reads query read models only, waiting
//! for `min_position` when asked so a client reads its own writes.
//!
//! # Layout
//! - [`app`] builds the router; [`serve`] runs it until shutdown.
//! - `routes`: one module per area (`orders`, `customers`, `reports`, `issues`, `products`,
//!   `health`, `admin`), each with its documented router; `params`: shared parameters; `path`: typed
//!   path parameters, checked before a handler runs.
//! - `command`: running a domain command for a write (idempotency, `If-Match`, metadata).
//! - `consistency`: read-your-writes and `Projection-Position`; `read_path`: the one way a read
//!   route answers from a read model (and names it in `Read-Model`).
//! - `extract` (bodies are read with the documented size limit) and `validate`: reading requests and naming every bad field.
//! - [`error`]: every error as problem+json. `context`: correlation ids, access logs, HTTP
//!   metrics, timeouts. [`prometheus`]: the metrics recorder. `openapi`: the document.
//! - [`limits`]: the validation limits; `schemas`: the same limits in the OpenAPI document.
//!
//! - `read_node`: a server with no event store, reading from a broker ([`ReadNodeStore`]),
//!   refusing writes.
//! - `sampler`: the last hour of each projection's lag and throughput, for the dashboard
//!   (`routes::admin::dashboard`, its files in `dashboard/`, its live feed in `routes::admin::live`).
//! - [`auth`]: bearer tokens (API keys, JWTs), scopes, and the guard that enforces the scope
//!   each operation declares in the document.
//!
//! It is not: a storage engine or a projector; it is handed both in [`AppState`].

pub mod auth;
mod browser;
mod command;
pub mod config;
mod consistency;
mod context;
mod docs;
pub mod error;
mod extract;
#[doc(hidden)]
pub mod fuzzing;
mod gate;
pub mod limits;
mod listener;
mod load;
mod openapi;
pub mod prometheus;
mod read_node;
mod read_path;
mod request_metrics;
mod routes;
mod sampler;
mod schemas;
mod state;
mod validate;
mod write_queue;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Extension};
use axum::http::Uri;
use axum::middleware::from_fn_with_state;
use gate::GateLayer;
use tower::ServiceBuilder;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::{
    AdminListener, BrowserPolicy, ListenerLimits, RateLimit, ServerConfig, TargetFloors,
    WriteLatencyTarget,
};
pub use consistency::POSITION_HEADER;
pub use context::{CORRELATION_HEADER, RequestContext};
pub use error::ApiError;
pub use listener::bind;
pub use read_node::{ReadNode, ReadNodeStore};
pub use read_path::READ_MODEL_HEADER;
pub use sampler::LeaseHolders;
pub use state::AppState;

/// The whole API as an axum router, with its OpenAPI document at `/openapi.json` and
/// interactive docs at `/docs`. With an admin listener configured
/// ([`ServerConfig::admin_listener`]), the admin API is served by [`admin_app`] instead.
pub fn app(state: AppState) -> Router {
    let mut routes = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(routes::orders::router())
        .merge(routes::customers::router())
        .merge(routes::issues::router())
        .merge(routes::products::router())
        .merge(routes::reports::router())
        .merge(routes::health::router());
    if state.config().admin_listener.is_none() {
        routes = routes.merge(routes::admin::router());
    }
    let (router, mut document) = routes.routes(routes!(openapi::document)).split_for_parts();
    let config = state.config();
    let mut public = Vec::new();
    if config.public_metrics {
        public.push("/metrics");
    }
    if config.public_docs {
        public.push("/openapi.json");
    }
    auth::open_to_anyone(&mut document, &public);
    schemas::state_body_limits(&mut document);
    let router = router.merge(docs::router());
    finish(state, router, document, true)
}

/// The admin API on a listener of its own: the admin routes, health, readiness, metrics and
/// their OpenAPI document. On a loopback address every route is open (only this machine can
/// reach it); elsewhere the admin routes need the `admin` scope, as on the main listener.
pub fn admin_app(state: AppState) -> Router {
    let (router, mut document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(routes::admin::router())
        .merge(routes::health::router())
        .routes(routes!(openapi::document))
        .split_for_parts();
    let open = state
        .config()
        .admin_listener
        .is_some_and(|listener| listener.open);
    if open {
        let paths: Vec<String> = document.paths.paths.keys().cloned().collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        auth::open_to_anyone(&mut document, &paths);
    }
    finish(state, router, document, !open)
}

/// The layers every listener shares: the guard enforcing `document`'s scopes (unless the
/// listener is open to whoever reaches it), correlation ids, logs and metrics, and problem
/// answers for unknown routes and methods.
fn finish(
    state: AppState,
    router: Router<AppState>,
    mut document: utoipa::openapi::OpenApi,
    guarded: bool,
) -> Router {
    auth::document_refusals(&mut document);
    load::document_load_refusals(&mut document);
    let access = Arc::new(auth::Access {
        authenticator: Arc::clone(state.authenticator()),
        policy: auth::RoutePolicy::from_document(&document, state.config().public_docs),
    });
    let config = state.config();
    // Each guard is layered only where it can refuse something: the token guard with
    // authentication on, the browser guard with it off.
    let authenticated = state.authenticator().is_on();
    let browser_guard = (!authenticated).then(|| GateLayer(Arc::new(config.browser.clone())));
    let token_guard = (guarded && authenticated).then(|| from_fn_with_state(access, auth::guard));
    let read_only = config
        .read_node
        .as_ref()
        .map(|node| GateLayer(Arc::new(node.clone())));
    // One stack, layered once: every `Router::layer` call wraps each route in a boxed service
    // of its own, which a request then passes through, one allocation each.
    let layers = ServiceBuilder::new()
        .layer(DefaultBodyLimit::disable())
        .layer(from_fn_with_state(state.clone(), context::track))
        .option_layer(cors(&config.browser))
        .option_layer(browser_guard)
        .option_layer(token_guard)
        .option_layer(read_only)
        .layer(GateLayer(load::Load::new(
            config.rate_limit,
            config.max_in_flight,
        )))
        .layer(Extension(Arc::new(document)));
    router
        .fallback(|uri: Uri| async move { ApiError::NoRoute(uri.path().to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(layers)
        .with_state(state)
}

/// CORS for the origins allowed to call from a browser; none (the browser's same-origin rule)
/// unless some are configured.
fn cors(policy: &BrowserPolicy) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method};
    if policy.cors_origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = policy
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let request_headers = [
        "authorization",
        "content-type",
        "if-match",
        "idempotency-key",
        "x-correlation-id",
        "x-user-id",
    ];
    let response_headers = [
        "etag",
        "location",
        "retry-after",
        "projection-position",
        "read-model",
        "x-correlation-id",
    ];
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers(request_headers.map(HeaderName::from_static))
            .expose_headers(response_headers.map(HeaderName::from_static))
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Serves the admin API ([`admin_app`]) on `listener` until `shutdown` resolves.
///
/// # Errors
/// The listener's I/O error.
pub async fn serve_admin(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config().listener;
    sampler::Sampler::start(&state);
    listener::serve_within(listener, admin_app(state), limits, shutdown).await
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
    let limits = state.config().listener;
    if state.config().admin_listener.is_none() {
        sampler::Sampler::start(&state);
    }
    let stopping = state.stopping().clone();
    let shutdown = async move {
        shutdown.await;
        stopping.cancel();
    };
    let served = listener::serve_within(listener, app(state.clone()), limits, shutdown).await;
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
