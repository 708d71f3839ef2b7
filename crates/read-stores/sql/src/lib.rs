//! SQL read models for projector: portable SQL that runs the same on SQLite and PostgreSQL,
//! [`SqlProjection`]s that write tables beside their checkpoint, and the [`SqlReadStore`]
//! contract the SQLite and PostgreSQL backends implement.
//!
//! A SQL projection is bound to its store by a [`SqlTarget`], which the projector drives like
//! any other kind of read model (`projector_core::ProjectionTarget`). Each batch and its
//! checkpoint commit in one transaction, so every event takes effect exactly once.
//!
//! # Layout
//! - [`value`]: parameters, result values, rows, and times as text.
//! - [`error`]: why a statement failed, and how that becomes a projection's or a read store's
//!   error.
//! - [`transaction`]: [`SqlTransaction`], where a projection applies its batch.
//! - [`multi_row`]: many rows in one `INSERT ... VALUES`.
//! - [`projection`]: the [`SqlProjection`] trait, fed stored events.
//! - [`typed`]: the [`TypedSqlProjection`] trait, fed the decoded events of one event set.
//! - [`store`]: the [`SqlReadStore`] trait: generations, checkpoints, dead letters, queries.
//! - [`target`]: [`SqlTarget`], a SQL projection bound to its store.
//! - [`placeholders`]: the portable `$N` placeholders for drivers that number them `?N`.
//!
//! It is not: a storage engine (see `projector-sqlite`, `projector-postgres`).

pub mod error;
pub mod multi_row;
pub mod placeholders;
pub mod projection;
pub mod store;
pub mod target;
pub mod transaction;
pub mod typed;
pub mod value;

pub use error::{SqlBatchError, SqlError, SqlErrorKind, sql_error};
pub use multi_row::MultiRowInsert;
pub use projection::{SqlProjection, apply_catching_panics};
pub use store::SqlReadStore;
pub use target::{PartitionsError, SqlTarget};
pub use transaction::{SqlRun, SqlTransaction};
pub use typed::{TypedSql, TypedSqlProjection};
pub use value::{ColumnIndex, FromSqlValue, Row, SqlParam, SqlValue, parse_sql_time, sql_time};

/// Statement parameters from plain values: `params![id, 3, Some("x")]` is a
/// `&[SqlParam]` of each value's [`SqlParam::from`].
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::SqlParam::from($value)),*][..]
    };
}
