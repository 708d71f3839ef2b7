//! Entry points for the fuzz targets in `fuzz/` (not a stable API: hidden from the docs).
//!
//! Each runs the very functions a route runs on a request's body, query string or headers,
//! without a store, so a fuzzer reaches millions of inputs; and each checks what the route
//! relies on: whatever is accepted keeps the documented limits and names a valid stream, and
//! whatever is refused is a 4xx problem+json naming a field. A broken promise panics, which is
//! what the fuzzer reports.
//!
//! `bodies` reads write bodies, `queries` query strings, `headers` a write's headers.

use crate::error::ApiError;

mod bodies;
mod headers;
mod queries;

pub use bodies::{WriteBody, write_body};
pub use headers::write_headers;
pub use queries::{QueryRoute, query};

/// A refusal must be a client error, in problem+json, and name each bad field.
pub(crate) fn assert_refusal(error: &ApiError) {
    let status = error.status_code();
    assert!(status.is_client_error(), "{error} answered {status}");
    if let ApiError::Validation(fields) = error {
        assert!(!fields.is_empty(), "a validation error without fields");
        assert!(
            fields
                .iter()
                .all(|f| !f.field.is_empty() && !f.message.is_empty())
        );
    }
    let problem = error.problem();
    assert_eq!(problem.status, status.as_u16());
    assert!(
        serde_json::to_vec(&problem).is_ok(),
        "the problem is not JSON"
    );
}

pub(crate) fn assert_free_text(text: &str, max: usize) {
    let length = text.chars().count();
    assert!(
        length > 0 && length <= max,
        "accepted text of {length} chars"
    );
    assert!(!text.trim().is_empty(), "accepted blank text");
    assert!(
        !text.chars().any(char::is_control),
        "accepted control chars"
    );
}
