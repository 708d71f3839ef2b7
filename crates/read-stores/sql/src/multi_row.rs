//! Writing many rows with one statement: `INSERT ... VALUES (...), (...), ... [ON CONFLICT ...]`.
//!
//! A read store runs each statement on its own, so upserting a batch one row at a time costs
//! one execution per row (on a server, one parse-bind-execute each, however well pipelined).
//! One statement with many `VALUES` rows costs one. SQLite and PostgreSQL both take a `VALUES`
//! list with `ON CONFLICT ... DO UPDATE SET col = excluded.col`.
//!
//! Statements are made for chunks of 1, 2, 4, ... up to [`MAX_ROWS`] rows, so a table needs at
//! most a handful of distinct statements (each prepared once per connection) whatever the
//! batch sizes; the chunks of one call go to the backend as one batch.

use std::sync::OnceLock;

use crate::error::{SqlBatchError, SqlError, SqlErrorKind};
use crate::transaction::{SqlRun, SqlTransaction};
use crate::value::SqlParam;

/// The most rows one statement carries.
pub const MAX_ROWS: usize = 128;

/// Chunk sizes are the powers of two up to [`MAX_ROWS`]: `1 << 0 ..= 1 << MAX_SHIFT`.
const MAX_SHIFT: usize = MAX_ROWS.trailing_zeros() as usize;

/// The most placeholders one statement may have: SQLite's default limit (PostgreSQL's is
/// 65 535).
const MAX_PLACEHOLDERS: usize = 32_766;

/// A multi-row `INSERT` for one table, built from its head (`INSERT INTO t (a, b)`), its
/// column count and its tail (`ON CONFLICT (a) DO UPDATE SET b = excluded.b`, or empty).
///
/// Rows of one call must not share a conflict key: PostgreSQL refuses to update one row twice
/// in a statement. Fold a batch per key first, as projections that batch do anyway.
#[derive(Debug)]
pub struct MultiRowInsert {
    head: &'static str,
    columns: usize,
    tail: &'static str,
    statements: [OnceLock<String>; MAX_SHIFT + 1],
}

impl MultiRowInsert {
    /// The statement `{head} VALUES (...), ... {tail}` with `columns` values per row.
    pub const fn new(head: &'static str, columns: usize, tail: &'static str) -> Self {
        Self {
            head,
            columns,
            tail,
            statements: [const { OnceLock::new() }; MAX_SHIFT + 1],
        }
    }

    /// Writes `rows`, each `columns` values long, in `tx`, returning how many rows changed.
    ///
    /// # Errors
    /// When a row has the wrong number of values, or a statement fails: `index` is then the
    /// first row of the failing statement (the backend does not say which of its rows failed).
    pub async fn execute(
        &self,
        tx: &mut dyn SqlTransaction,
        rows: &[&[SqlParam<'_>]],
    ) -> Result<u64, SqlBatchError> {
        if let Some(index) = rows.iter().position(|row| row.len() != self.columns) {
            return Err(SqlBatchError {
                index,
                error: SqlError::new(
                    SqlErrorKind::Statement,
                    format!(
                        "row {index} has {} values; the statement takes {}",
                        rows[index].len(),
                        self.columns
                    ),
                ),
            });
        }
        let chunks = self.chunks(rows.len());
        let params: Vec<Vec<SqlParam<'_>>> = chunks
            .iter()
            .map(|&(start, len)| rows[start..start + len].concat())
            .collect();
        let runs: Vec<SqlRun<'_, '_>> = chunks
            .iter()
            .zip(&params)
            .map(|(&(_, len), params)| (self.statement(len), params.as_slice()))
            .collect();
        match tx.execute_batch(&runs).await {
            Ok(changed) => Ok(changed.iter().sum()),
            Err(failed) => Err(SqlBatchError {
                index: chunks.get(failed.index).map_or(0, |&(start, _)| start),
                error: failed.error,
            }),
        }
    }

    /// The most rows one statement of this table may carry.
    fn max_rows(&self) -> usize {
        let by_placeholders = MAX_PLACEHOLDERS / self.columns.max(1);
        let mut max = MAX_ROWS;
        while max > 1 && max > by_placeholders {
            max /= 2;
        }
        max
    }

    /// `(first row, rows)` of each statement for `rows` rows: full chunks of the largest size,
    /// then the rest by its binary digits.
    fn chunks(&self, rows: usize) -> Vec<(usize, usize)> {
        let max = self.max_rows();
        let mut chunks = Vec::new();
        let mut start = 0;
        while rows - start >= max {
            chunks.push((start, max));
            start += max;
        }
        let mut size = max / 2;
        while size > 0 {
            if rows - start >= size {
                chunks.push((start, size));
                start += size;
            }
            size /= 2;
        }
        chunks
    }

    /// The statement for `rows` rows, a power of two no larger than [`MAX_ROWS`].
    fn statement(&self, rows: usize) -> &str {
        let shift = (rows.trailing_zeros() as usize).min(MAX_SHIFT);
        self.statements[shift].get_or_init(|| {
            let mut sql = String::with_capacity(self.head.len() + self.tail.len() + rows * 8);
            sql.push_str(self.head);
            sql.push_str(" VALUES ");
            let mut placeholder = 0;
            for row in 0..(1usize << shift) {
                if row > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                for column in 0..self.columns {
                    if column > 0 {
                        sql.push_str(", ");
                    }
                    placeholder += 1;
                    sql.push('$');
                    sql.push_str(&placeholder.to_string());
                }
                sql.push(')');
            }
            if !self.tail.is_empty() {
                sql.push(' ');
                sql.push_str(self.tail);
            }
            sql
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static PAIRS: MultiRowInsert =
        MultiRowInsert::new("INSERT INTO t (a, b)", 2, "ON CONFLICT (a) DO NOTHING");

    #[test]
    fn statements_list_numbered_placeholders_row_by_row() {
        assert_eq!(
            PAIRS.statement(1),
            "INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT (a) DO NOTHING"
        );
        assert_eq!(
            PAIRS.statement(4),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6), ($7, $8) ON CONFLICT (a) DO NOTHING"
        );
    }

    #[test]
    fn chunks_cover_every_row_once_in_order_with_power_of_two_sizes() {
        for rows in 0..600 {
            let chunks = PAIRS.chunks(rows);
            let mut next = 0;
            for &(start, len) in &chunks {
                assert_eq!(start, next);
                assert!(len.is_power_of_two() && len <= MAX_ROWS);
                next += len;
            }
            assert_eq!(next, rows);
            assert!(chunks.len() <= rows / MAX_ROWS + MAX_SHIFT);
        }
    }

    #[test]
    fn wide_rows_get_smaller_chunks_within_the_placeholder_limit() {
        let wide = MultiRowInsert::new("INSERT INTO w", 1_000, "");
        assert_eq!(wide.max_rows(), 32);
        assert!(
            wide.chunks(100)
                .iter()
                .all(|&(_, len)| len * 1_000 <= MAX_PLACEHOLDERS)
        );
    }
}
