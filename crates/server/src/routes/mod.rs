//! The routes, one module per area, each returning its documented router.

pub(crate) mod admin;
pub(crate) mod customers;
pub(crate) mod health;
pub(crate) mod issues;
pub(crate) mod orders;
pub(crate) mod params;
pub(crate) mod problems;
pub(crate) mod reports;

use axum::Json;
use axum::response::{IntoResponse, Response};
use projector_core::{ProjectionName, ReadStoreError};
use serde::Serialize;

use crate::error::ApiError;

/// A read model's answer: the view as JSON, or a 404 problem saying what is `missing`,
/// counted as a read-model miss of `projection`.
pub(crate) fn found<T: Serialize>(
    projection: &ProjectionName,
    view: Option<T>,
    missing: impl FnOnce() -> String,
) -> Response {
    match view {
        Some(view) => Json(view).into_response(),
        None => {
            metrics::counter!("projector_read_model_misses_total", "projection" => projection.to_string()).increment(1);
            ApiError::NotFound(missing()).into_response()
        }
    }
}

/// The HTTP error for a read model that could not be read.
pub(crate) fn read_model_error(error: ReadStoreError) -> ApiError {
    match error {
        ReadStoreError::NoGeneration { projection, .. } => {
            ApiError::Unavailable(format!("the {projection} read model is not built yet"))
        }
        ReadStoreError::Query {
            message,
            transient: false,
            ..
        } => ApiError::Internal(message),
        other => ApiError::Unavailable(other.to_string()),
    }
}
