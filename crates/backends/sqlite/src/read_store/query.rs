//! Queries against the serving generation of a projection.
//!
//! A swap deletes the replaced generation's files. A query that picked that generation just
//! before can then fail to open it; the catalog names the new one by then, so the query runs
//! again there. Each retry means another swap came in between, so a few are plenty.

use std::sync::Arc;

use projector_core::{Generation, ProjectionName, ReadStoreError};
use projector_sql::{Row, SqlParam, SqlValue};

use super::generation::GenerationDb;
use super::{SqliteReadStore, transaction};
use crate::error::read_store_error;
use crate::pool::PoolError;

/// How many times a query is tried when swaps keep replacing the generation it picked.
const QUERY_ATTEMPTS: u32 = 5;

impl SqliteReadStore {
    /// Runs a read-only query against the serving generation of `projection`.
    pub(super) async fn query_serving(
        &self,
        projection: &ProjectionName,
        sql: &str,
        params: &[SqlParam<'_>],
    ) -> Result<Vec<Row>, ReadStoreError> {
        let sql: Arc<str> = Arc::from(sql);
        let params: Arc<[SqlValue]> = params.iter().map(|p| SqlValue::from(*p)).collect();
        let mut attempts = 1;
        loop {
            let (generation, db) = self.serving_db(projection).await?;
            match run(&db, Arc::clone(&sql), Arc::clone(&params)).await {
                Err(_)
                    if attempts < QUERY_ATTEMPTS && self.swapped_since(projection, generation) =>
                {
                    attempts += 1;
                }
                result => return result,
            }
        }
    }

    /// The serving generation and its database, opening it if needed.
    async fn serving_db(
        &self,
        projection: &ProjectionName,
    ) -> Result<(Generation, Arc<GenerationDb>), ReadStoreError> {
        if let Some(serving) = self.inner.cached_serving(projection) {
            return Ok(serving);
        }
        let projection = projection.clone();
        self.blocking(move |inner| {
            let generation = inner.serving_generation(&projection)?;
            Ok((generation, inner.db(&projection, generation)?))
        })
        .await
    }

    fn swapped_since(&self, projection: &ProjectionName, generation: Generation) -> bool {
        self.inner.serving_generation(projection).ok() != Some(generation)
    }
}

async fn run(
    db: &GenerationDb,
    sql: Arc<str>,
    params: Arc<[SqlValue]>,
) -> Result<Vec<Row>, ReadStoreError> {
    let rows = db
        .readers()
        .run(move |conn| {
            let params: Vec<SqlParam<'_>> = params.iter().map(SqlValue::as_param).collect();
            transaction::query(conn, &sql, &params)
        })
        .await
        .map_err(|e| match e {
            PoolError::Open(e) => read_store_error("opening a read connection", e),
            PoolError::Join(message) => ReadStoreError::Unavailable {
                message,
                source: None,
            },
        })??;
    Ok(rows)
}
