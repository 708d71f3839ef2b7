//! The problem responses routes share, declared once for the OpenAPI document.
//!
//! Every variant answers `application/problem+json` with a [`Problem`] body.

#![allow(dead_code)] // The variants exist for the document; handlers answer with `ApiError`.

use utoipa::IntoResponses;

use crate::error::Problem;

/// What any write may answer besides success.
#[derive(IntoResponses)]
pub(crate) enum WriteProblems {
    /// Malformed or empty body.
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// The resource's state forbids the write, or a request with the same idempotency key is
    /// still in progress.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// `If-Match` names another version than the resource's (`current_version` says which).
    #[response(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Problem),
    /// The body is over the size limit (65536 bytes by default).
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not JSON.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Invalid fields, parameters or headers, each named in `errors`; an idempotency key
    /// reused for another request; or an inline read model (one that commits with the write,
    /// such as `products`) failed on the write's events, so nothing was written
    /// (`type` `urn:projector:problem:inline-projection-refused`, the read model named in
    /// `detail`).
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// Storage is unavailable, or the answer to a request with an idempotency key could not be
    /// recorded; nothing final happened: retry later, with the same key.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// A write to a resource that may not exist.
#[derive(IntoResponses)]
pub(crate) enum MissingResource {
    /// No such resource.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// A write that must name its user.
#[derive(IntoResponses)]
pub(crate) enum Anonymous {
    /// No `X-User-Id`.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
}

/// What any read may answer besides success.
#[derive(IntoResponses)]
pub(crate) enum ReadProblems {
    /// Invalid id or parameters, each named; or a `min_position` no write has reached.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// `min_position` was not reached within `wait_ms` (`position` says how far the read model
    /// got), or storage is unavailable.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// What an admin action on one projection may answer besides success.
#[derive(IntoResponses)]
pub(crate) enum AdminProblems {
    /// No projection of that name runs in this server (or, for a dead letter, the projection
    /// has none at that position).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The request conflicts with the projection's state: this server stands by for it
    /// (another process holds its lease; `type` `urn:projector:problem:standby`), a rebuild is
    /// already running (`urn:projector:problem:rebuild-in-progress`), a newer version of the
    /// projection builds or serves its read model (`urn:projector:problem:outdated`), or there
    /// is nothing to resume, or a dead letter is skipped already or is not the one the
    /// projection is stopped at (`urn:projector:problem:conflict`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// The name is not a projection name (`path.name`), or the position not a position
    /// (`path.position`).
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// Storage is unavailable, or the server is stopping; retry later.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}
