//! The OpenAPI 3.1 document, generated from the handlers' annotations as the router is built,
//! so every route in the document is a route the server serves, and the reverse.

use std::sync::Arc;

use axum::Json;
use axum::extract::Extension;
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;

use crate::error::{FieldError, Problem};

/// The parts of the document that belong to no handler.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "projector",
        description = "A CQRS and event-sourcing engine whose centre is read projections. Writes are \
            validated and recorded as events; reads come from read models only. Every write answers \
            with the global position of its last event; pass it as `min_position` to a read to read \
            your own write. Errors are `application/problem+json` (RFC 9457) naming every bad field."
    ),
    tags(
        (name = "orders", description = "The orders service: place orders and follow them through shipping, delivery, cancellation and refunds"),
        (name = "customers", description = "Customers' orders and activity"),
        (name = "reports", description = "Sales reports"),
        (name = "issues", description = "The issue tracker: every change audited with who made it, no dirty writes"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "admin", description = "Projections: state, lag, rebuilds without downtime, resuming after a poison event. \
            Unauthenticated like the rest of the API: do not expose it publicly"),
    ),
    components(schemas(Problem, FieldError))
)]
pub(crate) struct ApiDoc;

/// This document, as JSON.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub(crate) async fn document(Extension(document): Extension<Arc<Document>>) -> Json<Document> {
    Json(document.as_ref().clone())
}
