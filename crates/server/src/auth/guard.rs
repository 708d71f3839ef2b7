//! The guard in front of every route: it reads the scope each operation declares in the
//! OpenAPI document and lets a request through only with a token holding it. The document is
//! the one list of what needs what, so it cannot say one thing while the server does another.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{OpenApi as Document, Type};

use super::{Authenticator, Scope};
use crate::error::ApiError;

/// The name of the bearer security scheme in the document.
pub(crate) const SCHEME: &str = "bearer";

/// What a route asks of a caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Required {
    /// Nothing: anyone may call it.
    Nobody,
    /// A token holding this scope.
    Scope(Scope),
    /// Any valid token (routes the document does not know, so 404s reveal nothing).
    Anyone,
}

/// Which scope each operation needs, read from the document.
#[derive(Debug)]
pub(crate) struct RoutePolicy {
    operations: HashMap<(String, Method), Required>,
    docs_public: bool,
}

impl RoutePolicy {
    /// Reads the scope of every operation of `document`. An operation that declares none needs
    /// `admin`: forgetting to declare a scope fails closed.
    pub(crate) fn from_document(document: &Document, docs_public: bool) -> Self {
        let mut operations = HashMap::new();
        for (path, item) in &document.paths.paths {
            for (method, operation) in operations_of(item) {
                operations.insert((path.clone(), method), required(operation));
            }
        }
        Self {
            operations,
            docs_public,
        }
    }

    fn required(&self, route: Option<&str>, method: &Method, path: &str) -> Required {
        if path == "/docs" || path.starts_with("/docs/") {
            return if self.docs_public {
                Required::Nobody
            } else {
                Required::Scope(Scope::Read)
            };
        }
        let method = if method == Method::HEAD {
            Method::GET
        } else {
            method.clone()
        };
        match route {
            Some(route) => self
                .operations
                .get(&(route.to_owned(), method))
                .copied()
                .unwrap_or(Required::Anyone),
            None => Required::Anyone,
        }
    }
}

/// Opens the operations at `paths` to anyone, in the document and so in the guard: the routes
/// made public by configuration.
pub(crate) fn open_to_anyone(document: &mut Document, paths: &[&str]) {
    for path in paths {
        if let Some(item) = document.paths.paths.get_mut(*path) {
            for operation in operations_of_mut(item) {
                operation.security = Some(vec![SecurityRequirement::default()]);
            }
        }
    }
}

/// Documents the `401` and `403` answers of every operation that needs a scope.
pub(crate) fn document_refusals(document: &mut Document) {
    for item in document.paths.paths.values_mut() {
        for operation in operations_of_mut(item) {
            if matches!(required(operation), Required::Nobody) {
                continue;
            }
            for (status, description) in [
                ("401", "No valid bearer token (with authentication on)"),
                ("403", "The token lacks the scope this operation needs"),
            ] {
                crate::openapi::document_problem(
                    operation,
                    status,
                    description,
                    ("WWW-Authenticate", Type::String),
                );
            }
        }
    }
}

fn operations_of(item: &utoipa::openapi::PathItem) -> Vec<(Method, &Operation)> {
    [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::PATCH, &item.patch),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_ref().map(|o| (method, o)))
    .collect()
}

pub(crate) fn operations_of_mut(item: &mut utoipa::openapi::PathItem) -> Vec<&mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
    .collect()
}

/// The scope `operation` declares: `[{}]` is open to anyone, `[{"bearer": ["read"]}]` needs
/// `read`; nothing declared needs `admin`.
fn required(operation: &Operation) -> Required {
    let Some(requirements) = &operation.security else {
        return Required::Scope(Scope::Admin);
    };
    let declared: Vec<serde_json::Value> = requirements
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .collect();
    if declared
        .iter()
        .any(|r| r.as_object().is_some_and(serde_json::Map::is_empty))
    {
        return Required::Nobody;
    }
    declared
        .iter()
        .filter_map(|r| r.get(SCHEME)?.as_array()?.first()?.as_str()?.parse().ok())
        .next()
        .map_or(Required::Scope(Scope::Admin), Required::Scope)
}

/// What the guard needs: who may be accepted, and what each route asks.
#[derive(Debug)]
pub(crate) struct Access {
    pub(crate) authenticator: Arc<Authenticator>,
    pub(crate) policy: RoutePolicy,
}

/// The realm a browser signs in to for the dashboard.
const BASIC_CHALLENGE: &str = r#"Basic realm="projector admin", charset="UTF-8""#;

/// The token a request presents: a bearer token, or on the admin routes the password of HTTP
/// Basic, which is how a browser sends one (to the dashboard and its live feed, which cannot set
/// headers); the user name is ignored.
enum Credential {
    Bearer(String),
    Basic(String),
}

fn credential(headers: &axum::http::HeaderMap, path: &str) -> Option<Credential> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Credential::Bearer(rest.trim().to_owned()));
    }
    if !scheme.eq_ignore_ascii_case("basic") || !is_admin(path) {
        return None;
    }
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let (_user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some(Credential::Basic(password.to_owned()))
}

fn is_admin(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// The dashboard's own routes, whose refusals ask a browser to sign in.
fn is_dashboard(path: &str) -> bool {
    matches!(path, "/admin" | "/admin/" | "/admin/live") || path.starts_with("/admin/assets/")
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `refusal`, which on the dashboard's routes also asks a browser for Basic credentials.
fn challenged(refusal: ApiError, path: &str) -> Response {
    let mut response = refusal.into_response();
    if is_dashboard(path) {
        response.headers_mut().append(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static(BASIC_CHALLENGE),
        );
    }
    response
}

/// Middleware, layered with authentication on: lets a request through only with a valid bearer token
/// (or on the admin routes, one given as the password of HTTP Basic) holding the scope its
/// route needs, and hands the handler its [`Principal`](super::Principal).
pub(crate) async fn guard(
    State(access): State<Arc<Access>>,
    mut request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let needed = access
        .policy
        .required(route.as_deref(), request.method(), request.uri().path());
    if needed == Required::Nobody {
        return next.run(request).await;
    }
    let path = request.uri().path();
    let (token, basic) = match credential(request.headers(), path) {
        Some(Credential::Bearer(token)) => (token, false),
        Some(Credential::Basic(token)) => (token, true),
        None => {
            let refusal = ApiError::Unauthenticated {
                detail:
                    "this request needs a bearer token (Authorization: Bearer <API key or JWT>)"
                        .into(),
                invalid_token: false,
            };
            return challenged(refusal, path);
        }
    };
    let principal = match access.authenticator.authenticate(&token).await {
        Ok(principal) => principal,
        Err(error) => {
            tracing::info!(%error, "refused a bearer token");
            let refusal = ApiError::Unauthenticated {
                detail: "the bearer token is not valid".into(),
                invalid_token: true,
            };
            return challenged(refusal, path);
        }
    };
    if let Required::Scope(scope) = needed
        && !principal.may(scope)
    {
        return ApiError::Forbidden(scope).into_response();
    }
    // A browser adds Basic credentials by itself, to a page of another origin's forms too.
    if basic && !is_safe(request.method()) && crate::browser::from_another_origin(&request) {
        return ApiError::CrossOriginCredentials.into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}
