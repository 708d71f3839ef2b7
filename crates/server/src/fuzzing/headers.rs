//! A write's headers, read as every write route reads them.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::error::ApiError;
use crate::extract::WriteHeaders;

use super::assert_refusal;

/// Reads the headers of a write, as every write route does: `(name, value)` pairs.
///
/// # Errors
/// A refusal naming every bad header.
///
/// # Panics
/// When an accepted header breaks its documented pattern.
pub fn write_headers(pairs: &[(&str, &[u8])]) -> Result<(), ApiError> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let (parsed, errors) = WriteHeaders::read(&headers, None);
    if !errors.is_empty() {
        let error = ApiError::Validation(errors);
        assert_refusal(&error);
        return Err(error);
    }
    if let Some(version) = parsed.if_match {
        let text = headers
            .get("if-match")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim();
        let digits = text.trim_start_matches("W/").trim_matches('"');
        assert_eq!(digits.parse::<u64>().ok(), Some(version.get()), "If-Match");
    }
    if let Some(key) = &parsed.idempotency_key {
        assert!(!key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic()));
    }
    Ok(())
}
