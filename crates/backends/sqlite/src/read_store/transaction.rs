//! [`SqlTransaction`] over a rusqlite connection, binding the portable `$N` placeholders.

use std::sync::Arc;

use async_trait::async_trait;
use projector_sql::{Row, SqlError, SqlErrorKind, SqlParam, SqlTransaction, SqlValue};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{CachedStatement, Connection, Statement, ToSql};

use super::translated::translated;
use crate::error::sql_error;

/// A projection's view of the open write transaction. The read store runs `BEGIN` before and
/// `COMMIT` (with the checkpoint) or `ROLLBACK` after; this only runs statements.
///
/// Its futures never wait: SQLite calls are synchronous, and the store drives them on a
/// blocking thread.
pub(crate) struct SqliteTransaction<'c> {
    conn: &'c mut Connection,
}

impl<'c> SqliteTransaction<'c> {
    pub(crate) fn new(conn: &'c mut Connection) -> Self {
        Self { conn }
    }
}

#[async_trait]
impl SqlTransaction for SqliteTransaction<'_> {
    async fn execute(&mut self, sql: &str, params: &[SqlParam<'_>]) -> Result<u64, SqlError> {
        let mut stmt = prepare(self.conn, sql)?;
        bind(&mut stmt, params)?;
        let changed = stmt.raw_execute().map_err(sql_error)?;
        Ok(changed as u64)
    }

    async fn query(&mut self, sql: &str, params: &[SqlParam<'_>]) -> Result<Vec<Row>, SqlError> {
        query(self.conn, sql, params)
    }
}

/// Runs a query on `conn` and reads every row.
pub(crate) fn query(
    conn: &Connection,
    sql: &str,
    params: &[SqlParam<'_>],
) -> Result<Vec<Row>, SqlError> {
    let mut stmt = prepare(conn, sql)?;
    bind(&mut stmt, params)?;
    let columns: Arc<[String]> = stmt.column_names().map(String::from).collect();
    let width = columns.len();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(value(row.get_ref(i).map_err(sql_error)?)?);
        }
        out.push(Row::new(Arc::clone(&columns), values));
    }
    Ok(out)
}

/// Prepares `sql`, its `$N` placeholders written as SQLite's `?N` (see `projector_sql::placeholders`).
fn prepare<'c>(conn: &'c Connection, sql: &str) -> Result<CachedStatement<'c>, SqlError> {
    conn.prepare_cached(&translated(sql)?).map_err(sql_error)
}

/// Binds `params` to the statement's `?N` placeholders by number.
fn bind(stmt: &mut Statement<'_>, params: &[SqlParam<'_>]) -> Result<(), SqlError> {
    let count = stmt.parameter_count();
    if count > params.len() {
        return Err(SqlError::new(
            SqlErrorKind::Statement,
            format!(
                "placeholder ${count} has no parameter ({} given)",
                params.len()
            ),
        ));
    }
    for (index, param) in params.iter().take(count).enumerate() {
        stmt.raw_bind_parameter(index + 1, Param(*param))
            .map_err(sql_error)?;
    }
    Ok(())
}

/// A portable parameter as a rusqlite value.
struct Param<'a>(SqlParam<'a>);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            SqlParam::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            SqlParam::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(v)),
            SqlParam::Real(v) => ToSqlOutput::Borrowed(ValueRef::Real(v)),
            SqlParam::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            SqlParam::Bool(v) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(v))),
        })
    }
}

fn value(v: ValueRef<'_>) -> Result<SqlValue, SqlError> {
    Ok(match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Int(i),
        ValueRef::Real(r) => SqlValue::Real(r),
        ValueRef::Text(t) => SqlValue::Text(
            std::str::from_utf8(t)
                .map_err(|e| SqlError::new(SqlErrorKind::Conversion, e.to_string()))?
                .to_owned(),
        ),
        ValueRef::Blob(_) => {
            return Err(SqlError::new(
                SqlErrorKind::Conversion,
                "BLOB columns are not portable; store text",
            ));
        }
    })
}
