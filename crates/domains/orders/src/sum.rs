//! Sums in the folds of recorded events and in reports, which are exact or fail: a read model
//! that clamped would show a wrong figure with no sign of it, while a failure stops the
//! projection at the event that overflowed, where an operator sees it.

use projector_core::{GlobalPosition, ProjectionError, ReadStoreError};
use projector_sql::{SqlError, SqlErrorKind};

/// A sum no column can hold: past `i64::MAX`, or an amount below zero.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} is out of range: past i64::MAX, or below zero")]
pub struct OutOfRange(pub &'static str);

impl OutOfRange {
    /// The projection error of the event at `position`, which made the sum.
    pub fn at(self, position: GlobalPosition) -> ProjectionError {
        ProjectionError::at(position, self.to_string())
    }
}

impl From<OutOfRange> for ProjectionError {
    fn from(error: OutOfRange) -> Self {
        ProjectionError::new(error.to_string())
    }
}

/// A report over rows whose sum is out of range cannot be answered.
impl From<OutOfRange> for ReadStoreError {
    fn from(error: OutOfRange) -> Self {
        SqlError::new(SqlErrorKind::Conversion, error.to_string()).into()
    }
}

/// The error of an upsert that adds to `what`: its SQL makes a sum past `i64::MAX` NULL, which
/// the NOT NULL column refuses, so a constraint failure there is an overflow.
pub(crate) fn refused(error: SqlError, what: &'static str) -> ProjectionError {
    if matches!(error.kind, SqlErrorKind::Constraint) {
        ProjectionError::new(format!("{} ({})", OutOfRange(what), error.message))
    } else {
        error.into()
    }
}

/// `a + b` for a count or a sum of cents named `what`.
///
/// # Errors
/// [`OutOfRange`] past `i64::MAX`.
pub fn add(what: &'static str, a: i64, b: i64) -> Result<i64, OutOfRange> {
    a.checked_add(b).ok_or(OutOfRange(what))
}
