//! [`SqlTransaction`] over a PostgreSQL transaction whose `search_path` is one generation's
//! schema.
//!
//! `execute_batch` pipelines: every run is sent before any answer is read, so a batch of
//! upserts costs one round trip, not one per row.
//!
//! Statements are prepared once per connection and generation: the cache key carries the
//! schema, so a statement planned against one generation's tables is never reused against
//! another's, whose shape may differ after a version change.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use projector_sql::{Row, SqlBatchError, SqlError, SqlErrorKind, SqlParam, SqlRun, SqlTransaction};
use tokio_postgres::types::ToSql;

use crate::error::sql_error;
use crate::read_store::params::PgParam;
use crate::read_store::values;

/// A projection's view of the open transaction. The read store begins it, sets its
/// `search_path`, and commits it with the checkpoint or rolls it back; this only runs
/// statements.
pub(crate) struct PgTransaction<'t, 'c> {
    tx: &'t deadpool_postgres::Transaction<'c>,
    schema: &'t str,
}

impl<'t, 'c> PgTransaction<'t, 'c> {
    pub(crate) fn new(tx: &'t deadpool_postgres::Transaction<'c>, schema: &'t str) -> Self {
        Self { tx, schema }
    }
}

/// Prepares `sql` (cached per connection and schema) on `client`, a transaction whose search
/// path is `schema`.
pub(crate) async fn prepare(
    client: &impl GenericClient,
    schema: &str,
    sql: &str,
) -> Result<tokio_postgres::Statement, SqlError> {
    client
        .prepare_cached(&format!("/* {schema} */ {sql}"))
        .await
        .map_err(sql_error)
}

/// The portable parameters for `statement`, refused as a statement error when their number
/// differs from its placeholders (the driver would report it as a connection-level error).
pub(crate) fn bind<'p>(
    statement: &tokio_postgres::Statement,
    params: &[SqlParam<'p>],
) -> Result<Vec<PgParam<'p>>, SqlError> {
    if statement.params().len() != params.len() {
        return Err(SqlError::new(
            SqlErrorKind::Statement,
            format!(
                "the statement has {} placeholders but {} parameters were given",
                statement.params().len(),
                params.len()
            ),
        ));
    }
    Ok(params.iter().map(|p| PgParam(*p)).collect())
}

/// Runs a query on `tx` and reads every row.
pub(crate) async fn query(
    tx: &deadpool_postgres::Transaction<'_>,
    schema: &str,
    sql: &str,
    params: &[SqlParam<'_>],
) -> Result<Vec<Row>, SqlError> {
    let statement = prepare(tx, schema, sql).await?;
    let params = bind(&statement, params)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
    let rows = tx.query(&statement, &refs).await.map_err(sql_error)?;
    values::rows(&rows)
}

#[async_trait]
impl SqlTransaction for PgTransaction<'_, '_> {
    async fn execute(&mut self, sql: &str, params: &[SqlParam<'_>]) -> Result<u64, SqlError> {
        let statement = prepare(self.tx, self.schema, sql).await?;
        let params = bind(&statement, params)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        self.tx.execute(&statement, &refs).await.map_err(sql_error)
    }

    async fn execute_batch(&mut self, runs: &[SqlRun<'_, '_>]) -> Result<Vec<u64>, SqlBatchError> {
        let mut bound = Vec::with_capacity(runs.len());
        for (index, (sql, params)) in runs.iter().enumerate() {
            let failed = |error| SqlBatchError { index, error };
            let statement = prepare(self.tx, self.schema, sql).await.map_err(failed)?;
            let params = bind(&statement, params).map_err(failed)?;
            bound.push((statement, params));
        }
        let refs: Vec<Vec<&(dyn ToSql + Sync)>> = bound
            .iter()
            .map(|(_, params)| params.iter().map(|p| p as _).collect())
            .collect();
        // Polled together, the driver writes every request before the first answer arrives.
        // After a failure the server refuses the rest of the transaction, so the first error
        // in order is the cause.
        let answers = futures::future::join_all(
            bound
                .iter()
                .zip(&refs)
                .map(|((statement, _), params)| self.tx.execute(statement, params)),
        )
        .await;
        answers
            .into_iter()
            .enumerate()
            .map(|(index, answer)| {
                answer.map_err(|e| SqlBatchError {
                    index,
                    error: sql_error(e),
                })
            })
            .collect()
    }

    async fn query(&mut self, sql: &str, params: &[SqlParam<'_>]) -> Result<Vec<Row>, SqlError> {
        query(self.tx, self.schema, sql, params).await
    }
}
