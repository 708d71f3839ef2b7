//! The transaction a SQL projection applies its batch in.

use async_trait::async_trait;

use crate::error::{SqlBatchError, SqlError};
use crate::value::{Row, SqlParam};

/// One run of [`SqlTransaction::execute_batch`]: a statement and its parameters.
pub type SqlRun<'s, 'p> = (&'s str, &'s [SqlParam<'p>]);

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
