//! The OpenAPI 3.1 document, generated from the handlers' annotations as the router is built,
//! so every route in the document is a route the server serves, and the reverse.

use std::sync::Arc;

use axum::Json;
use axum::extract::Extension;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::auth::SCHEME;

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
        (name = "customers", description = "Customers: registration, profiles, loyalty tiers and reviews of products, with each customer's orders and activity"),
        (name = "reports", description = "Sales reports"),
        (name = "issues", description = "The issue tracker: every change audited with who made it, no dirty writes"),
        (name = "products", description = "The product catalogue: add products, change their details and prices, delete them; each read from the products read model"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "admin", description = "Projections: state, lag, rebuilds without downtime, resuming after a poison event. \
            Needs the `admin` scope, or is served on an admin listener of its own"),
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerScheme)
)]
pub(crate) struct ApiDoc;

/// The bearer scheme every operation's `security` names: an API key or a JWT, each granting
/// the scopes `read`, `write` and `admin` it was given. When the server runs without
/// authentication (on loopback, by default), every operation is open.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some(
            "An API key (`projector api-key create`) or a JWT from the configured identity \
             provider. Each operation lists the scope it needs: `read`, `write` or `admin`."
                .into(),
        );
        components.add_security_scheme(SCHEME, SecurityScheme::Http(scheme));
    }
}

/// This document, as JSON.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    security(("bearer" = ["read"])),
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub(crate) async fn document(Extension(document): Extension<Arc<Document>>) -> Json<Document> {
    Json(document.as_ref().clone())
}

/// Documents a `status` problem answer of `operation` with one `header`, unless the operation
/// documents that status itself: the answers a shared layer (the guard, the load limits) gives
/// every route.
pub(crate) fn document_problem(
    operation: &mut utoipa::openapi::path::Operation,
    status: &str,
    description: &str,
    header: (&str, utoipa::openapi::Type),
) {
    use utoipa::openapi::header::Header;
    use utoipa::openapi::{Content, ObjectBuilder, Ref, ResponseBuilder};
    let problem = ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .header(
            header.0,
            Header::new(ObjectBuilder::new().schema_type(header.1)),
        )
        .build();
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert(problem.into());
}
