//! The portable SQL a projection writes its read model with, the same on SQLite and PostgreSQL:
//! parameters, result values and rows, and times as text.
//!
//! Statements use `$1`, `$2`, ... placeholders (numbered in order of first use); columns use
//! the types `TEXT`, `BIGINT`, `DOUBLE PRECISION` and `BOOLEAN`; upserts use
//! `INSERT ... ON CONFLICT (...) DO UPDATE SET col = excluded.col`. Times are stored as RFC 3339
//! text in UTC, which sorts in time order on both backends.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use projector_core::{GlobalPosition, StreamId, StreamVersion};
use serde::Serialize;

use crate::error::{SqlError, SqlErrorKind};

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

impl From<u16> for SqlParam<'_> {
    fn from(v: u16) -> Self {
        SqlParam::Int(v.into())
    }
}

impl From<i16> for SqlParam<'_> {
    fn from(v: i16) -> Self {
        SqlParam::Int(v.into())
    }
}

impl From<u8> for SqlParam<'_> {
    fn from(v: u8) -> Self {
        SqlParam::Int(v.into())
    }
}

/// Positions and versions fit a `BIGINT`: a store would need 2^63 events to pass it.
impl From<GlobalPosition> for SqlParam<'_> {
    fn from(v: GlobalPosition) -> Self {
        SqlParam::Int(i64::try_from(v.get()).unwrap_or(i64::MAX))
    }
}

impl From<StreamVersion> for SqlParam<'_> {
    fn from(v: StreamVersion) -> Self {
        SqlParam::Int(i64::try_from(v.get()).unwrap_or(i64::MAX))
    }
}

impl<'a> From<&'a StreamId> for SqlParam<'a> {
    fn from(v: &'a StreamId) -> Self {
        SqlParam::Text(v.as_str())
    }
}

impl<'a, T> From<&'a T> for SqlParam<'a>
where
    T: Copy + Into<SqlParam<'a>>,
{
    fn from(v: &'a T) -> Self {
        (*v).into()
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

/// How a row's column is named: its index from 0, or its name.
pub trait ColumnIndex: std::fmt::Display + Copy {
    /// The column's index among `columns`, if it has one.
    fn index_in(self, columns: &[String]) -> Option<usize>;
}

impl ColumnIndex for usize {
    fn index_in(self, _columns: &[String]) -> Option<usize> {
        Some(self)
    }
}

impl ColumnIndex for &str {
    fn index_in(self, columns: &[String]) -> Option<usize> {
        columns.iter().position(|c| c == self)
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

    /// The value of a column, by its name (`row.get("total")`) or by its index from 0
    /// (`row.get(0)`), converted to `T`.
    ///
    /// # Errors
    /// A [`SqlErrorKind::Conversion`] error naming the column.
    pub fn get<T: FromSqlValue>(&self, column: impl ColumnIndex) -> Result<T, SqlError> {
        let index = column.index_in(&self.columns).ok_or_else(|| {
            SqlError::new(
                SqlErrorKind::Conversion,
                format!("no column {column} in a row of {:?}", self.columns),
            )
        })?;
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
