//! Mapping rusqlite errors into the core's error types, by SQLite result code.

use projector_core::{ReadStoreError, StoreError};
use projector_sql::{SqlError, SqlErrorKind};
use rusqlite::ErrorCode;

/// The kind of failure a rusqlite error is.
pub(crate) fn sql_error_kind(error: &rusqlite::Error) -> SqlErrorKind {
    match error {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => SqlErrorKind::Transient,
            // Not the event's fault: the disk or the file is failing, so retry rather than
            // dead-letter.
            ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::CannotOpen
            | ErrorCode::OutOfMemory
            | ErrorCode::FileLockingProtocolFailed => SqlErrorKind::Transient,
            ErrorCode::ConstraintViolation => SqlErrorKind::Constraint,
            ErrorCode::TypeMismatch | ErrorCode::ParameterOutOfRange | ErrorCode::Unknown => {
                SqlErrorKind::Statement
            }
            _ => SqlErrorKind::Other,
        },
        rusqlite::Error::SqlInputError { .. }
        | rusqlite::Error::InvalidParameterCount(..)
        | rusqlite::Error::InvalidParameterName(_)
        | rusqlite::Error::InvalidColumnIndex(_)
        | rusqlite::Error::InvalidColumnName(_)
        | rusqlite::Error::MultipleStatement
        | rusqlite::Error::ExecuteReturnedResults => SqlErrorKind::Statement,
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..) => SqlErrorKind::Conversion,
        _ => SqlErrorKind::Other,
    }
}

/// Whether the error is a constraint violation.
pub(crate) fn is_constraint(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

/// A rusqlite error as a portable SQL error.
pub(crate) fn sql_error(error: rusqlite::Error) -> SqlError {
    // "no such table" and syntax errors come back as the generic SQLITE_ERROR.
    let kind = match (&error, sql_error_kind(&error)) {
        (rusqlite::Error::SqliteFailure(f, _), SqlErrorKind::Other)
            if f.extended_code == rusqlite::ffi::SQLITE_ERROR =>
        {
            SqlErrorKind::Statement
        }
        (_, kind) => kind,
    };
    SqlError::with_source(kind, error)
}

/// A rusqlite error met by the event store.
pub(crate) fn store_error(context: &str, error: rusqlite::Error) -> StoreError {
    StoreError::unavailable(format!("{context}: {error}"), error)
}

/// A rusqlite error met by the read store outside a projection's statements.
pub(crate) fn read_store_error(context: &str, error: rusqlite::Error) -> ReadStoreError {
    ReadStoreError::unavailable(format!("{context}: {error}"), error)
}

/// A blocking task that did not finish (it panicked or the runtime is stopping).
pub(crate) fn join_error(error: tokio::task::JoinError) -> String {
    if error.is_panic() {
        format!("a storage task panicked: {error}")
    } else {
        "a storage task was cancelled".to_owned()
    }
}
