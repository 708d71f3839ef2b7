//! Why a SQL statement failed, and how that reaches the layers around it: a read store's error
//! for a query, a projection's error for a batch.

use std::fmt;

use projector_core::{BoxError, GlobalPosition, ProjectionError, ReadStoreError};
use serde::Serialize;

/// What kind of failure a SQL error is, as far as a caller must tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SqlErrorKind {
    /// Busy, locked, out of connections, connection lost: retrying later may succeed.
    Transient,
    /// A constraint (unique, not null, check, foreign key) refused the statement.
    Constraint,
    /// The statement is wrong for the schema: syntax, unknown table or column, wrong type.
    Statement,
    /// A result value did not convert into the requested type.
    Conversion,
    /// Anything else, such as a corrupt file or a full disk.
    Other,
}

/// A failed SQL statement.
#[derive(Debug, thiserror::Error)]
pub struct SqlError {
    /// What kind of failure it is.
    pub kind: SqlErrorKind,
    /// The driver's message.
    pub message: String,
    /// The driver's error.
    #[source]
    pub source: Option<BoxError>,
}

impl SqlError {
    /// A new error without a driver source.
    pub fn new(kind: SqlErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A new error wrapping the driver's error.
    pub fn with_source(kind: SqlErrorKind, source: impl Into<BoxError>) -> Self {
        let source = source.into();
        Self {
            kind,
            message: source.to_string(),
            source: Some(source),
        }
    }

    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == SqlErrorKind::Transient
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} SQL error: {}", self.kind, self.message)
    }
}

/// The failure of one run of a batch of statements.
#[derive(Debug, thiserror::Error)]
#[error("run {index} of the batch failed: {error}")]
pub struct SqlBatchError {
    /// Which run failed, counting from 0.
    pub index: usize,
    /// Why.
    #[source]
    pub error: SqlError,
}

impl SqlError {
    /// The projection error of the event at `position` whose statement failed so.
    pub fn at(self, position: GlobalPosition) -> ProjectionError {
        ProjectionError {
            position: Some(position),
            transient: self.is_transient(),
            message: self.to_string(),
        }
    }
}

impl From<SqlError> for ProjectionError {
    fn from(e: SqlError) -> Self {
        ProjectionError {
            position: None,
            transient: e.is_transient(),
            message: e.to_string(),
        }
    }
}

impl From<SqlError> for ReadStoreError {
    fn from(e: SqlError) -> Self {
        ReadStoreError::Query {
            message: e.to_string(),
            transient: e.is_transient(),
            source: Some(Box::new(e)),
        }
    }
}

/// The SQL error behind a read store's failed query, if that is what it is.
pub fn sql_error(error: &ReadStoreError) -> Option<&SqlError> {
    match error {
        ReadStoreError::Query {
            source: Some(source),
            ..
        } => source.downcast_ref::<SqlError>(),
        _ => None,
    }
}
