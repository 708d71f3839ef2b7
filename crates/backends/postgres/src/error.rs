//! Mapping PostgreSQL errors into the core's error types, by SQLSTATE, never by message text.

use projector_core::{ReadStoreError, StoreError};
use projector_sql::{SqlError, SqlErrorKind};
use tokio_postgres::error::SqlState;

/// The kind of failure a driver error is, from its SQLSTATE class.
///
/// An error without a SQLSTATE never reached the server's executor. It is a conversion error
/// when the driver could not encode a parameter or decode a column (those carry the
/// conversion's error as their source); otherwise the connection broke, timed out or was
/// closed, and it is transient.
pub(crate) fn sql_error_kind(error: &tokio_postgres::Error) -> SqlErrorKind {
    use std::error::Error as _;
    match (error.code(), error.source()) {
        (Some(code), _) => kind_of(code),
        (None, _) if error.is_closed() => SqlErrorKind::Transient,
        (None, Some(source)) if !source.is::<std::io::Error>() => SqlErrorKind::Conversion,
        (None, _) => SqlErrorKind::Transient,
    }
}

/// The kind of a SQLSTATE.
pub(crate) fn kind_of(code: &SqlState) -> SqlErrorKind {
    if *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::LOCK_NOT_AVAILABLE
        || *code == SqlState::QUERY_CANCELED
    {
        return SqlErrorKind::Transient;
    }
    let class = code.code().get(..2).unwrap_or_default();
    match class {
        // Connection exception; operator intervention (admin shutdown, crash shutdown, cannot
        // connect now); insufficient resources (disk full, out of memory, too many connections);
        // system error (I/O).
        "08" | "57" | "53" | "58" => SqlErrorKind::Transient,
        // Integrity constraint violation.
        "23" => SqlErrorKind::Constraint,
        // Syntax error or access rule violation (undefined table, wrong type, ...); invalid
        // schema name; feature not supported; wrong object state.
        "42" | "3F" | "0A" | "55" => SqlErrorKind::Statement,
        // Data exception: a value that does not fit or parse.
        "22" => SqlErrorKind::Conversion,
        _ => SqlErrorKind::Other,
    }
}

/// A driver error as a portable SQL error.
pub(crate) fn sql_error(error: tokio_postgres::Error) -> SqlError {
    let kind = sql_error_kind(&error);
    let message = describe(&error);
    SqlError {
        kind,
        message,
        source: Some(Box::new(error)),
    }
}

/// The server's message with its detail, or the driver's when there is no server error.
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => error.to_string(),
    }
}

/// A driver error met by the event store outside the append path.
pub(crate) fn store_error(context: &str, error: tokio_postgres::Error) -> StoreError {
    StoreError::unavailable(format!("{context}: {}", describe(&error)), error)
}

/// A pool error met by the event store: the database could not be reached.
pub(crate) fn store_pool_error(context: &str, error: deadpool_postgres::PoolError) -> StoreError {
    StoreError::unavailable(format!("{context}: {error}"), error)
}

/// A driver error met by the read store outside a projection's statements.
pub(crate) fn read_store_error(context: &str, error: tokio_postgres::Error) -> ReadStoreError {
    ReadStoreError::unavailable(format!("{context}: {}", describe(&error)), error)
}

/// A pool error met by the read store.
pub(crate) fn read_store_pool_error(
    context: &str,
    error: deadpool_postgres::PoolError,
) -> ReadStoreError {
    ReadStoreError::unavailable(format!("{context}: {error}"), error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_kinds() {
        let cases = [
            (SqlState::CONNECTION_FAILURE, SqlErrorKind::Transient),
            (SqlState::T_R_SERIALIZATION_FAILURE, SqlErrorKind::Transient),
            (SqlState::T_R_DEADLOCK_DETECTED, SqlErrorKind::Transient),
            (SqlState::ADMIN_SHUTDOWN, SqlErrorKind::Transient),
            (SqlState::CANNOT_CONNECT_NOW, SqlErrorKind::Transient),
            (SqlState::TOO_MANY_CONNECTIONS, SqlErrorKind::Transient),
            (SqlState::DISK_FULL, SqlErrorKind::Transient),
            (SqlState::UNIQUE_VIOLATION, SqlErrorKind::Constraint),
            (SqlState::NOT_NULL_VIOLATION, SqlErrorKind::Constraint),
            (SqlState::UNDEFINED_TABLE, SqlErrorKind::Statement),
            (SqlState::SYNTAX_ERROR, SqlErrorKind::Statement),
            (
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                SqlErrorKind::Conversion,
            ),
            (
                SqlState::INVALID_TEXT_REPRESENTATION,
                SqlErrorKind::Conversion,
            ),
            (SqlState::RAISE_EXCEPTION, SqlErrorKind::Other),
        ];
        for (code, kind) in cases {
            assert_eq!(kind_of(&code), kind, "{}", code.code());
        }
    }
}
