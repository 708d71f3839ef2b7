//! A query of a projection's serving generation in two round trips.
//!
//! A read takes a read-only transaction: its start, the catalog lookup that points the search
//! path at the serving schema, the query, and the commit. Sent one after another, each waits
//! for the answer before it, four round trips that each wake the database's backend and this
//! process. Sent in pairs, the start with the lookup and the query with the commit, the
//! database answers each pair at once. The query cannot join the first pair: its statement is
//! prepared for the schema the lookup names.

use deadpool_postgres::{Client, Object};
use futures::future::join;
use projector_core::{ProjectionName, ReadStoreError};
use projector_sql::{Row, SqlParam};
use tokio_postgres::types::ToSql;

use crate::error::{read_store_error, sql_error};
use crate::read_store::transaction;
use crate::read_store::values;

/// The serving schema, with the transaction's search path set to it in the same statement.
const SERVING_SCHEMA: &str = "SELECT schema_name, \
     set_config('search_path', quote_ident(schema_name), true) \
     FROM projector.generations WHERE projection = $1 AND state = 'serving'";

/// Runs `sql` with `params` against `projection`'s serving generation on `client`.
pub(crate) async fn query(
    client: Client,
    projection: &ProjectionName,
    sql: &str,
    params: &[SqlParam<'_>],
) -> Result<Vec<Row>, ReadStoreError> {
    let held = Held(Some(client));
    let result = match &held.0 {
        Some(client) => run(client, projection, sql, params).await,
        None => unreachable!("a read holds its connection until it ends"),
    };
    held.release();
    result
}

/// Every path through here ends the transaction it began, with the commit or a rollback.
async fn run(
    client: &Client,
    projection: &ProjectionName,
    sql: &str,
    params: &[SqlParam<'_>],
) -> Result<Vec<Row>, ReadStoreError> {
    // Prepared once per connection, before the transaction: the statement names its schema.
    let lookup = client
        .prepare_cached(SERVING_SCHEMA)
        .await
        .map_err(|e| read_store_error("reading the catalog", e))?;
    let (begun, serving) = join(
        client.batch_execute("START TRANSACTION READ ONLY"),
        client.query_opt(&lookup, &[&projection.as_str()]),
    )
    .await;
    let schema: String = match (begun, serving) {
        (Ok(()), Ok(Some(row))) => match row.try_get(0) {
            Ok(schema) => schema,
            Err(e) => return rolled_back(client, read_store_error("reading the catalog", e)).await,
        },
        (Ok(()), Ok(None)) => {
            let missing = ReadStoreError::NoGeneration {
                projection: projection.clone(),
                generation: "serving".into(),
            };
            return rolled_back(client, missing).await;
        }
        (Err(e), _) | (_, Err(e)) => {
            return rolled_back(client, read_store_error("reading the catalog", e)).await;
        }
    };
    let bound = match transaction::prepare(client, &schema, sql).await {
        Ok(statement) => transaction::bind(&statement, params).map(|params| (statement, params)),
        Err(e) => Err(e),
    };
    let (statement, params) = match bound {
        Ok(bound) => bound,
        Err(e) => return rolled_back(client, e.into()).await,
    };
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
    // A failed query aborts the transaction; the commit then ends it as a rollback.
    let (rows, ended) = join(
        client.query(&statement, &refs),
        client.batch_execute("COMMIT"),
    )
    .await;
    let rows = rows.map_err(sql_error)?;
    ended.map_err(|e| read_store_error("ending a query", e))?;
    Ok(values::rows(&rows)?)
}

/// Ends the transaction without its query, and answers `error`.
async fn rolled_back(client: &Client, error: ReadStoreError) -> Result<Vec<Row>, ReadStoreError> {
    // A connection that cannot roll back is broken, and the pool drops it when it comes back.
    let _ = client.batch_execute("ROLLBACK").await;
    Err(error)
}

/// A pooled connection a read holds. A read dropped before it ends (its caller gone, or its
/// deadline passed) may leave the connection inside its transaction, so unless released it is
/// closed instead of going back to the pool.
struct Held(Option<Client>);

impl Held {
    /// Gives the connection back to the pool: the read ended its transaction.
    fn release(mut self) {
        drop(self.0.take());
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(Object::take(client));
        }
    }
}
