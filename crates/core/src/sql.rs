//! The portable SQL a projection writes its read model with, the same on SQLite and PostgreSQL.
//!
//! Statements use `$1`, `$2`, ... placeholders (numbered in order of first use); columns use
//! the types `TEXT`, `BIGINT`, `DOUBLE PRECISION` and `BOOLEAN`; upserts use
//! `INSERT ... ON CONFLICT (...) DO UPDATE SET col = excluded.col`. Times are stored as RFC 3339
//! text in UTC, which sorts in time order on both backends.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::error::BoxError;

/// A time as portable SQL text: RFC 3339 in UTC with microseconds
/// (`2026-01-01T00:00:00.000000Z`), fixed-width so it sorts in time order as text.
pub fn sql_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads a time written by [`sql_time`] (or any RFC 3339 text).
///
/// # Errors
/// A [`SqlErrorKind::Conversion`] error for text that is not RFC 3339.
pub fn parse_sql_time(text: &str) -> Result<DateTime<Utc>, SqlError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            SqlError::new(
                SqlErrorKind::Conversion,
                format!("{text:?} is not a time: {e}"),
            )
        })
}

/// A value bound to a statement's placeholder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SqlParam<'a> {
    /// SQL `NULL`.
    Null,
    /// A `BIGINT`.
    Int(i64),
    /// A `DOUBLE PRECISION`.
    Real(f64),
    /// A `TEXT`.
    Text(&'a str),
    /// A `BOOLEAN`.
    Bool(bool),
}

impl From<i64> for SqlParam<'_> {
    fn from(v: i64) -> Self {
        SqlParam::Int(v)
    }
}

impl From<i32> for SqlParam<'_> {
    fn from(v: i32) -> Self {
        SqlParam::Int(v.into())
    }
}

impl From<u32> for SqlParam<'_> {
    fn from(v: u32) -> Self {
        SqlParam::Int(v.into())
    }
}

impl From<f64> for SqlParam<'_> {
    fn from(v: f64) -> Self {
        SqlParam::Real(v)
    }
}

impl From<bool> for SqlParam<'_> {
    fn from(v: bool) -> Self {
        SqlParam::Bool(v)
    }
}

impl<'a> From<&'a str> for SqlParam<'a> {
    fn from(v: &'a str) -> Self {
        SqlParam::Text(v)
    }
}

impl<'a> From<&'a String> for SqlParam<'a> {
    fn from(v: &'a String) -> Self {
        SqlParam::Text(v)
    }
}

impl<'a, T: Into<SqlParam<'a>>> From<Option<T>> for SqlParam<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlParam::Null, Into::into)
    }
}

/// A value read from a result column.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SqlValue {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// A boolean (SQLite returns booleans as integers).
    Bool(bool),
}

impl SqlValue {
    /// Borrows the value as a parameter, e.g. to write a read row back.
    pub fn as_param(&self) -> SqlParam<'_> {
        match self {
            SqlValue::Null => SqlParam::Null,
            SqlValue::Int(v) => SqlParam::Int(*v),
            SqlValue::Real(v) => SqlParam::Real(*v),
            SqlValue::Text(v) => SqlParam::Text(v),
            SqlValue::Bool(v) => SqlParam::Bool(*v),
        }
    }
}

impl From<SqlParam<'_>> for SqlValue {
    fn from(p: SqlParam<'_>) -> Self {
        match p {
            SqlParam::Null => SqlValue::Null,
            SqlParam::Int(v) => SqlValue::Int(v),
            SqlParam::Real(v) => SqlValue::Real(v),
            SqlParam::Text(v) => SqlValue::Text(v.to_owned()),
            SqlParam::Bool(v) => SqlValue::Bool(v),
        }
    }
}

/// A Rust type a result column converts into.
pub trait FromSqlValue: Sized {
    /// Converts the column's value, or says why it cannot.
    fn from_sql_value(value: &SqlValue) -> Result<Self, String>;
}

impl FromSqlValue for i64 {
    fn from_sql_value(value: &SqlValue) -> Result<Self, String> {
        match value {
            SqlValue::Int(v) => Ok(*v),
            SqlValue::Bool(v) => Ok(i64::from(*v)),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}

impl FromSqlValue for u64 {
    fn from_sql_value(value: &SqlValue) -> Result<Self, String> {
        let v = i64::from_sql_value(value)?;
        u64::try_from(v).map_err(|_| format!("expected a non-negative integer, found {v}"))
    }
}

impl FromSqlValue for f64 {
    fn from_sql_value(value: &SqlValue) -> Result<Self, String> {
        match value {
            SqlValue::Real(v) => Ok(*v),
            // Integral values come back as integers from SQLite's REAL affinity.
            SqlValue::Int(v) => Ok(*v as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}

impl FromSqlValue for bool {
    fn from_sql_value(value: &SqlValue) -> Result<Self, String> {
        match value {
            SqlValue::Bool(v) => Ok(*v),
            SqlValue::Int(v) => Ok(*v != 0),
            other => Err(format!("expected a boolean, found {other:?}")),
        }
    }
}

impl FromSqlValue for String {
    fn from_sql_value(value: &SqlValue) -> Result<Self, String> {
        match value {
            SqlValue::Text(v) => Ok(v.clone()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}

impl<T: FromSqlValue> FromSqlValue for Option<T> {
    fn from_sql_value(value: &SqlValue) -> Result<Self, String> {
        match value {
            SqlValue::Null => Ok(None),
            other => T::from_sql_value(other).map(Some),
        }
    }
}

/// One result row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<SqlValue>,
}

impl Row {
    /// A row of `values` under the shared column names.
    pub fn new(columns: Arc<[String]>, values: Vec<SqlValue>) -> Self {
        Self { columns, values }
    }

    /// The value of column `index` converted to `T`.
    ///
    /// # Errors
    /// A [`SqlErrorKind::Conversion`] error naming the column.
    pub fn get<T: FromSqlValue>(&self, index: usize) -> Result<T, SqlError> {
        let value = self.values.get(index).ok_or_else(|| {
            SqlError::new(
                SqlErrorKind::Conversion,
                format!("no column {index} in a row of {}", self.values.len()),
            )
        })?;
        T::from_sql_value(value).map_err(|reason| {
            let name = self.columns.get(index).map_or("?", String::as_str);
            SqlError::new(SqlErrorKind::Conversion, format!("column {name}: {reason}"))
        })
    }

    /// The column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The raw values.
    pub fn values(&self) -> &[SqlValue] {
        &self.values
    }
}

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

/// One run of [`SqlTransaction::execute_batch`]: a statement and its parameters.
pub type SqlRun<'s, 'p> = (&'s str, &'s [SqlParam<'p>]);

/// The failure of one run of [`SqlTransaction::execute_batch`].
#[derive(Debug, thiserror::Error)]
#[error("run {index} of the batch failed: {error}")]
pub struct SqlBatchError {
    /// Which run failed, counting from 0.
    pub index: usize,
    /// Why.
    #[source]
    pub error: SqlError,
}

/// An open read-model transaction that a projection applies its batch in. The read store
/// commits it together with the projection's checkpoint, or rolls both back.
#[async_trait]
pub trait SqlTransaction: Send {
    /// Runs a statement, returning how many rows it changed.
    async fn execute(&mut self, sql: &str, params: &[SqlParam<'_>]) -> Result<u64, SqlError>;

    /// Runs each statement of `runs` with its parameters, in order, returning how many rows
    /// each changed.
    ///
    /// Prefer it to a loop of [`execute`](Self::execute) when writing many rows: a backend
    /// across a network sends every run before reading any answer (one round trip for the lot,
    /// not one per run). The default runs them one by one.
    ///
    /// # Errors
    /// The first run that failed, by its index in `runs`; runs after it may not have run.
    async fn execute_batch(&mut self, runs: &[SqlRun<'_, '_>]) -> Result<Vec<u64>, SqlBatchError> {
        let mut changed = Vec::with_capacity(runs.len());
        for (index, (sql, params)) in runs.iter().enumerate() {
            changed.push(
                self.execute(sql, params)
                    .await
                    .map_err(|error| SqlBatchError { index, error })?,
            );
        }
        Ok(changed)
    }

    /// Runs a query, returning all its rows.
    async fn query(&mut self, sql: &str, params: &[SqlParam<'_>]) -> Result<Vec<Row>, SqlError>;

    /// Runs a query, returning its first row if any.
    async fn query_opt(
        &mut self,
        sql: &str,
        params: &[SqlParam<'_>],
    ) -> Result<Option<Row>, SqlError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }
}
