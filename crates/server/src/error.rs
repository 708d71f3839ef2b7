//! Every error the API answers, turned into `application/problem+json` (RFC 9457) in one place.
//! Server-side failures are logged with their cause; their bodies stay generic.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use projector_core::{GlobalPosition, ProjectionName};
use projector_runtime::RuntimeError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Scope;
use crate::context;

/// One bad field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Where it is: `customer_id`, `items[0].quantity`, `query.limit`, `header.If-Match`,
    /// `path.id`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A bad field.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The body of every error response.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What happened this time.
    pub detail: String,
    /// The request's correlation id, to find it in the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Every bad field, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For reads that waited: the position the projection had reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// For version conflicts: the version the resource is at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not JSON, or is empty.
    #[error("{0}")]
    Malformed(String),
    /// The body is not declared as JSON.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// The body is over the size limit.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// Fields (or parameters, or headers) are invalid; every one is named.
    #[error("the request has {} invalid field(s)", .0.len())]
    Validation(Vec<FieldError>),
    /// The request does not say who makes it.
    #[error("{0}")]
    Unauthorized(String),
    /// Authentication is on and the request has no valid bearer token.
    #[error("{detail}")]
    Unauthenticated {
        /// What is missing or wrong, without the token's content.
        detail: String,
        /// Whether a token was given but not accepted.
        invalid_token: bool,
    },
    /// Authentication is off and the request names a host this server does not answer to
    /// (DNS rebinding).
    #[error(
        "this server does not answer to the host {0:?}; without authentication it answers to \
         localhost, IP addresses and the names given with --allowed-hosts"
    )]
    HostNotAllowed(String),
    /// Authentication is off and a browser sent a write from another origin.
    #[error(
        "a write from another origin: without authentication only this server's own pages, and \
         the origins given with --cors-origins, may write"
    )]
    CrossOrigin,
    /// A write sent with HTTP Basic credentials (a browser's, which it adds by itself) from a
    /// page of another origin.
    #[error(
        "a write from another origin with the browser's sign-in (HTTP Basic): only the \
         dashboard's own page may act with it; other clients send a bearer token"
    )]
    CrossOriginCredentials,
    /// The caller sent more requests than its rate allows.
    #[error("too many requests; retry after {retry_after_seconds} s")]
    RateLimited {
        /// When the caller may send again.
        retry_after_seconds: u64,
    },
    /// The server runs as many requests as it may; it turns this one away at once rather than
    /// queue it.
    #[error("the server is running as many requests as it may; retry in a moment")]
    Overloaded,
    /// As many writes wait for the event store as the server lets wait; this one is turned
    /// away before anything is recorded, rather than queued behind them.
    #[error(
        "the server has as many writes waiting for the event store as it lets wait; nothing \
         was recorded; retry in a moment"
    )]
    WritesQueued,
    /// The caller's token does not grant the scope the route needs.
    #[error("this request needs the {0} scope, which the token does not grant")]
    Forbidden(Scope),
    /// The resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The route or method does not exist.
    #[error("no route for {0}")]
    NoRoute(String),
    /// The method is not allowed on this route.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The resource's state forbids the request.
    #[error("{0}")]
    Conflict(String),
    /// This server is a read node: it keeps read models from the broker and has no event
    /// store, so it takes no writes (and keeps no stream's history).
    #[error("{0}")]
    ReadNode(String),
    /// The projection runs in another process, which holds its lease; this one stands by.
    #[error(
        "this server stands by for projection {0}: another process holds its lease and runs it; \
         send the request to the admin API of the server holding the lease \
         (`projector status` names the holder)"
    )]
    Standby(ProjectionName),
    /// A rebuild of the projection is already running.
    #[error(
        "projection {projection} is already rebuilding into generation {generation}; \
         GET /admin/projections shows its progress"
    )]
    RebuildInProgress {
        /// The projection.
        projection: ProjectionName,
        /// The generation being built.
        generation: u32,
    },
    /// A newer version of the projection builds or serves its read model; this server runs
    /// an older one.
    #[error("{0}")]
    Outdated(String),
    /// `If-Match` named another version than the resource's.
    #[error("the resource is at version {actual}, not {expected}")]
    PreconditionFailed {
        /// The version the client sent.
        expected: u64,
        /// The version the resource is at.
        actual: u64,
    },
    /// A request with this idempotency key is still being answered.
    #[error("a request with this idempotency key is still in progress")]
    IdempotencyInProgress,
    /// The idempotency key was used with a different request.
    #[error("this idempotency key was used for a different request")]
    IdempotencyMismatch,
    /// A read waited for a projection position that was not reached in time.
    #[error("{projection} reached position {reached}, not {wanted}, within {waited_ms} ms")]
    NotReached {
        /// The projection behind the route.
        projection: String,
        /// The position asked for.
        wanted: GlobalPosition,
        /// The position reached.
        reached: GlobalPosition,
        /// How long the read waited.
        waited_ms: u64,
    },
    /// An inline read model failed on the write's events, so nothing was written.
    #[error(
        "the read model {projection} could not take this write, so nothing was written; the \
         correlation id finds the cause in the server's logs"
    )]
    InlineProjection {
        /// The inline projection that failed.
        projection: String,
        /// Its error, for the log only.
        message: String,
    },
    /// Storage is unreachable or the server is stopping.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or corrupt data; the detail is logged, not returned.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// One invalid field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    /// The HTTP status of this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_)
            | ApiError::IdempotencyMismatch
            | ApiError::InlineProjection { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) | ApiError::Unauthenticated { .. } => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_)
            | ApiError::HostNotAllowed(_)
            | ApiError::CrossOrigin
            | ApiError::CrossOriginCredentials => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Overloaded | ApiError::WritesQueued => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound(_) | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::ReadNode(_) => StatusCode::MISDIRECTED_REQUEST,
            ApiError::Conflict(_)
            | ApiError::Standby(_)
            | ApiError::RebuildInProgress { .. }
            | ApiError::Outdated(_)
            | ApiError::IdempotencyInProgress => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::NotReached { .. } | ApiError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::Malformed(_) => ("malformed-request", "Malformed request"),
            ApiError::UnsupportedMediaType => ("unsupported-media-type", "Unsupported media type"),
            ApiError::PayloadTooLarge(_) => ("payload-too-large", "Request body too large"),
            ApiError::Validation(_) => ("validation", "Invalid request"),
            ApiError::Unauthorized(_) => ("unauthorized", "Who is asking?"),
            ApiError::Unauthenticated { .. } => ("unauthenticated", "Authentication needed"),
            ApiError::Forbidden(_) => ("forbidden", "Not allowed"),
            ApiError::HostNotAllowed(_) => ("host-not-allowed", "Host not allowed"),
            ApiError::CrossOrigin | ApiError::CrossOriginCredentials => {
                ("cross-origin", "Write from another origin")
            }
            ApiError::RateLimited { .. } => ("rate-limited", "Too many requests"),
            ApiError::Overloaded | ApiError::WritesQueued => ("overloaded", "Server busy"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::NoRoute(_) => ("no-route", "No such route"),
            ApiError::MethodNotAllowed => ("method-not-allowed", "Method not allowed"),
            ApiError::Conflict(_) => ("conflict", "Conflict with the current state"),
            ApiError::ReadNode(_) => ("read-node", "This server only reads"),
            ApiError::Standby(_) => ("standby", "The projection runs in another process"),
            ApiError::RebuildInProgress { .. } => {
                ("rebuild-in-progress", "A rebuild is already running")
            }
            ApiError::Outdated(_) => ("outdated", "A newer version runs the projection"),
            ApiError::PreconditionFailed { .. } => ("precondition-failed", "Version mismatch"),
            ApiError::IdempotencyInProgress => ("idempotency-in-progress", "Request in progress"),
            ApiError::IdempotencyMismatch => ("idempotency-mismatch", "Idempotency key reused"),
            ApiError::NotReached { .. } => ("projection-not-reached", "Read model not yet current"),
            ApiError::InlineProjection { .. } => (
                "inline-projection-refused",
                "A read model refused the write",
            ),
            ApiError::Unavailable(_) => ("unavailable", "Service unavailable"),
            ApiError::Internal(_) => ("internal", "Internal server error"),
        }
    }

    /// The `WWW-Authenticate` challenge of a 401 or 403 (RFC 6750).
    fn challenge(&self) -> Option<HeaderValue> {
        match self {
            ApiError::Unauthorized(_)
            | ApiError::Unauthenticated {
                invalid_token: false,
                ..
            } => Some(HeaderValue::from_static(r#"Bearer realm="projector""#)),
            ApiError::Unauthenticated { .. } => Some(HeaderValue::from_static(
                r#"Bearer realm="projector", error="invalid_token""#,
            )),
            ApiError::Forbidden(scope) => HeaderValue::from_str(&format!(
                r#"Bearer realm="projector", error="insufficient_scope", scope="{scope}""#
            ))
            .ok(),
            _ => None,
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let (slug, title) = self.slug_and_title();
        // A server-side cause (SQL, file paths, a store's own message) goes to the log only.
        let detail = match self {
            ApiError::Internal(_) => {
                "the server failed; the correlation id finds the cause in its logs".to_owned()
            }
            ApiError::Unavailable(_) => "the server cannot answer this now (a store it needs is \
                unavailable, a projection is stopped, or the request ran out of time); retry \
                later, and the correlation id finds the cause in its logs"
                .to_owned(),
            other => other.to_string(),
        };
        Problem {
            kind: format!("urn:projector:problem:{slug}"),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail,
            correlation_id: context::current_correlation_id(),
            errors: match self {
                ApiError::Validation(errors) => bounded(errors),
                _ => Vec::new(),
            },
            position: match self {
                ApiError::NotReached { reached, .. } => Some(reached.get()),
                _ => None,
            },
            current_version: match self {
                ApiError::PreconditionFailed { actual, .. } => Some(*actual),
                _ => None,
            },
        }
    }
}

/// The most field errors an answer names; a request with more gets these and a count.
pub const MAX_FIELD_ERRORS: usize = 32;
/// The longest field name or message an answer repeats, in characters: both can quote what
/// the client sent.
const MAX_ERROR_TEXT: usize = 200;

/// `errors` as an answer names them: at most [`MAX_FIELD_ERRORS`], each cut to a bounded length,
/// so a request with thousands of bad fields or huge names cannot make a huge answer.
fn bounded(errors: &[FieldError]) -> Vec<FieldError> {
    let cut = |text: &str| -> String {
        if text.chars().count() <= MAX_ERROR_TEXT {
            text.to_owned()
        } else {
            let kept: String = text.chars().take(MAX_ERROR_TEXT).collect();
            format!("{kept}…")
        }
    };
    let shown = if errors.len() > MAX_FIELD_ERRORS {
        MAX_FIELD_ERRORS - 1
    } else {
        errors.len()
    };
    let mut bounded: Vec<FieldError> = errors[..shown]
        .iter()
        .map(|e| FieldError::new(cut(&e.field), cut(&e.message)))
        .collect();
    if errors.len() > shown {
        bounded.push(FieldError::new(
            "request",
            format!("and {} more invalid fields", errors.len() - shown),
        ));
    }
    bounded
}

impl From<RuntimeError> for ApiError {
    /// What the projector's refusals mean over HTTP: an unknown projection is 404; a standby,
    /// a running rebuild or an outdated version is 409; storage failures and shutdown are 503.
    fn from(error: RuntimeError) -> Self {
        match error {
            RuntimeError::UnknownProjection(name) => {
                ApiError::NotFound(format!("no projection named {name}"))
            }
            RuntimeError::Standby(name) => ApiError::Standby(name),
            RuntimeError::RebuildInProgress {
                projection,
                generation,
            } => ApiError::RebuildInProgress {
                projection,
                generation: generation.get(),
            },
            outdated @ RuntimeError::Outdated { .. } => ApiError::Outdated(outdated.to_string()),
            RuntimeError::ReadStore(e) => ApiError::Unavailable(e.to_string()),
            RuntimeError::Store(e) => ApiError::Unavailable(e.to_string()),
            RuntimeError::NoDeadLetter { .. } => ApiError::NotFound(error.to_string()),
            RuntimeError::DeadLetterConflict { .. } => ApiError::Conflict(error.to_string()),
            RuntimeError::EventUnavailable { .. } => ApiError::Unavailable(error.to_string()),
            RuntimeError::ShutDown(name) => ApiError::Unavailable(format!(
                "projection {name} has shut down; the server is stopping"
            )),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        if matches!(self, ApiError::Overloaded | ApiError::WritesQueued) {
            // Shedding is the server working as meant, counted by its metrics; a log line per
            // request turned away would add to the load it sheds.
            tracing::debug!(error = %self, status = status.as_u16(), "request turned away");
        } else if status.is_server_error() {
            tracing::error!(error = %self, status = status.as_u16(), "request failed");
        } else {
            tracing::debug!(error = %self, status = status.as_u16(), "request refused");
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::NotReached { .. }
            | ApiError::Unavailable(_)
            | ApiError::Overloaded
            | ApiError::WritesQueued => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::RateLimited {
                retry_after_seconds,
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
            }
            _ => {}
        }
        if let Some(challenge) = self.challenge() {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}
