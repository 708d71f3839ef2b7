//! The parameters routes share, as documented in the OpenAPI document, and how path
//! parameters are read and checked.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use serde::Deserialize;
use utoipa::IntoParams;

use projector_core::ProjectionName;

use crate::error::{ApiError, FieldError};
use crate::limits::is_id;

/// The id of an order in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct OrderPath {
    /// The order's id.
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
    )]
    id: String,
}

/// The id of an order and the SKU of one of its items in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct OrderItemPath {
    /// The order's id.
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
    )]
    id: String,
    /// The item's SKU.
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
    )]
    sku: String,
}

/// The id of an issue in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct IssuePath {
    /// The issue's id.
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
    )]
    id: String,
}

/// The id of a customer in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct CustomerPath {
    /// The customer's id.
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
    )]
    id: String,
}

/// The name of a projection in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct ProjectionPath {
    /// The projection's name, such as `order_summary`.
    #[param(min_length = 1, max_length = 48, pattern = "^[a-z][a-z0-9_]{0,47}$")]
    name: String,
}

/// The projection named by the path parameter `name`, checked.
#[derive(Debug)]
pub(crate) struct ProjectionParam(pub(crate) ProjectionName);

impl<S: Send + Sync> FromRequestParts<S> for ProjectionParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::field("path", e.body_text()))?;
        let value = raw
            .iter()
            .find(|(key, _)| *key == "name")
            .map(|(_, value)| value)
            .unwrap_or_default();
        ProjectionName::parse(value)
            .map(Self)
            .map_err(|e| ApiError::field("path.name", e.to_string()))
    }
}

/// Read-your-writes parameters, accepted by every read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct ReadParams {
    /// Answer only once the read model has applied the feed up to this position (the
    /// `position` a write answered with). A position no write has reached yet is refused
    /// with 422.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64, value_type = u64, required = false)]
    min_position: Option<u64>,
    /// How long to wait for `min_position`, in milliseconds (default 2000).
    #[param(minimum = 0, maximum = 30000, value_type = u64, required = false)]
    wait_ms: Option<u64>,
}

/// The headers a write reads.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub(crate) struct WriteHeaderParams {
    /// Makes a retry safe. For 24 hours, a retry with the same key and body gets the first
    /// answer again (`Idempotent-Replayed: true`) and appends nothing; the same key with
    /// another request is refused with 422. A 5xx, or no answer, is not final: retry with the
    /// same key.
    #[serde(rename = "Idempotency-Key")]
    #[param(min_length = 1, max_length = 255, pattern = "^[!-~]{1,255}$", value_type = String, required = false)]
    idempotency_key: Option<String>,
    /// The stream version the client last saw, in quotes (the `ETag` of a write or read);
    /// the write fails with 412 if the resource has moved on.
    #[serde(rename = "If-Match")]
    #[param(pattern = "^(W/)?\"[0-9]+\"$|^\\*$", value_type = String, required = false)]
    if_match: Option<String>,
    /// The acting user, recorded in the events' metadata.
    #[serde(rename = "X-User-Id")]
    #[param(min_length = 1, max_length = 128, pattern = "^[!-~]{1,128}$", value_type = String, required = false)]
    user_id: Option<String>,
    /// Ties the request to its log lines and events; made by the server when absent.
    #[serde(rename = "X-Correlation-Id")]
    #[param(min_length = 1, max_length = 128, pattern = "^[!-~]{1,128}$", value_type = String, required = false)]
    correlation_id: Option<String>,
}

/// Path parameters by name, each checked as an id.
#[derive(Debug)]
pub(crate) struct PathIds(Vec<(String, String)>);

impl PathIds {
    /// The id named `name`; every path parameter was checked when extracted.
    pub(crate) fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::field("path", e.body_text()))?;
        let mut ids = Vec::new();
        let mut errors = Vec::new();
        for (name, value) in &raw {
            if is_id(value) {
                ids.push((name.to_owned(), value.to_owned()));
            } else {
                errors.push(FieldError::new(
                    format!("path.{name}"),
                    "must be 1 to 64 characters: a letter or digit, then letters, digits, '_', '.', ':' or '-'",
                ));
            }
        }
        if errors.is_empty() {
            Ok(Self(ids))
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}
