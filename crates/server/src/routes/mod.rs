//! The routes, one module per area, each returning its documented router.

pub(crate) mod customers;
pub(crate) mod health;
pub(crate) mod issues;
pub(crate) mod orders;
pub(crate) mod params;
pub(crate) mod problems;
pub(crate) mod reports;

use projector_core::{ReadStoreError, SqlErrorKind};

use crate::error::ApiError;

/// The HTTP error for a read model that could not be read.
pub(crate) fn read_model_error(error: ReadStoreError) -> ApiError {
    match error {
        ReadStoreError::NoGeneration { projection, .. } => {
            ApiError::Unavailable(format!("the {projection} read model is not built yet"))
        }
        ReadStoreError::Query(e) if e.kind != SqlErrorKind::Transient => {
            ApiError::Internal(e.to_string())
        }
        other => ApiError::Unavailable(other.to_string()),
    }
}
