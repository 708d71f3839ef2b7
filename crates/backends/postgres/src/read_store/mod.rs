//! [`PgReadStore`]: SQL read models on PostgreSQL, one schema per generation of each
//! projection.
//!
//! A schema per generation means a rebuild fills new tables beside the serving ones under the
//! same unqualified names, and the swap is one catalog update in the transaction that drops
//! the replaced schema. The catalog (`projector.generations`) is read on every query, in the
//! query's own transaction, so every process sees a swap made by any other at once.

pub(crate) mod catalog;
pub(crate) mod generation;
mod params;
mod serving_read;
pub(crate) mod transaction;
mod values;

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use projector_core::{
    ApplyError, BuildingGeneration, Checkpoint, DeadLetter, Generation, GlobalPosition, Partition,
    ProjectionName, ReadStoreError, RecordedEvent, ServingAt, ServingGeneration,
};
use projector_sql::{Row, SqlParam, SqlProjection, SqlReadStore};

use crate::error::{read_store_error, read_store_pool_error};
use crate::migrate::{migrate, verify};
use crate::pool::{self, PoolSetupError};
use crate::rows::to_u64;
use catalog::schema_name;
use generation::Passed;

/// How the read store connects.
#[derive(Clone, Copy, Debug)]
pub struct PgReadStoreOptions {
    /// Apply the embedded migrations on connect. Default: `true`. Off, a schema behind this
    /// build is refused, changing nothing.
    pub run_migrations: bool,
    /// Connections kept for projections and queries. Default: 8.
    pub pool_size: usize,
    /// Make every batch's commit wait for its WAL flush. Default: `false`: a read model
    /// commits its checkpoint with its rows, so a commit lost to a crash of the database
    /// server is simply projected again (`synchronous_commit = off` never loses consistency,
    /// only the last moments of work).
    pub durable_commits: bool,
    /// Cancel any statement running longer (`statement_timeout`). Default: none. Set it on a
    /// store that serves queries, so a slow or hostile read cannot hold a connection.
    pub statement_timeout: Option<std::time::Duration>,
}

impl Default for PgReadStoreOptions {
    fn default() -> Self {
        Self {
            run_migrations: true,
            pool_size: 8,
            durable_commits: false,
            statement_timeout: None,
        }
    }
}

/// SQL read models in PostgreSQL schemas `rm_<projection>_g<n>`, listed in the catalog
/// `projector.generations`.
///
/// Cloning is cheap and shares the pool.
#[derive(Clone, Debug)]
pub struct PgReadStore {
    pool: Pool,
    lazy_commit: bool,
    /// How long a query may wait for the database, with a statement timeout: a network that
    /// stops answering (nothing closed) cannot hold a query longer.
    query_deadline: Option<std::time::Duration>,
    /// The partition whose checkpoint this view moves; `None`: the whole generation's.
    partition: Option<Partition>,
}

impl PgReadStore {
    /// Connects to the database at `url` and applies the migrations unless told not to.
    ///
    /// # Errors
    /// [`ReadStoreError::Unavailable`] when the URL is invalid, the database cannot be reached
    /// or a migration fails.
    pub async fn connect(url: &str, options: PgReadStoreOptions) -> Result<Self, ReadStoreError> {
        let setup = |e: PoolSetupError| ReadStoreError::unavailable(e.to_string(), e);
        let mut config = pool::config(url).map_err(setup)?;
        if let Some(timeout) = options.statement_timeout {
            config = pool::with_settings(
                config,
                &format!("-c statement_timeout={}", timeout.as_millis().max(1)),
            );
        }
        let tls = pool::connector(url).map_err(setup)?;
        let pool = pool::build(config, &tls, options.pool_size).map_err(setup)?;
        let mut store = Self::with_pool(pool, options).await?;
        store.query_deadline = options
            .statement_timeout
            .map(|timeout| timeout + pool::ANSWER_GRACE);
        Ok(store)
    }

    /// The controls of the projections (their pauses), on this store's pool.
    pub fn controls(&self) -> crate::PgControls {
        crate::PgControls::new(self.pool.clone())
    }

    /// A read store on an existing pool (e.g. the event store's, for one database).
    ///
    /// # Errors
    /// [`ReadStoreError::Unavailable`] when a migration fails.
    pub async fn with_pool(
        pool: Pool,
        options: PgReadStoreOptions,
    ) -> Result<Self, ReadStoreError> {
        if options.run_migrations {
            migrate(&pool)
                .await
                .map_err(|e| ReadStoreError::unavailable(format!("migrating: {e}"), e))?;
        } else {
            verify(&pool)
                .await
                .map_err(|e| ReadStoreError::unavailable(format!("checking the schema: {e}"), e))?;
        }
        Ok(Self {
            pool,
            lazy_commit: !options.durable_commits,
            query_deadline: None,
            partition: None,
        })
    }

    /// The schema serving `projection`'s reads, if any; for tools that inspect it.
    ///
    /// # Errors
    /// [`ReadStoreError::Unavailable`] when the catalog cannot be read.
    pub async fn serving_schema(
        &self,
        projection: &ProjectionName,
    ) -> Result<Option<String>, ReadStoreError> {
        Ok(self
            .serving(projection)
            .await?
            .map(|s| schema_name(projection, s.generation)))
    }

    async fn client(&self, context: &str) -> Result<deadpool_postgres::Client, ReadStoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| read_store_pool_error(context, e))
    }

    async fn serving_generation(
        &self,
        client: &deadpool_postgres::Client,
        projection: &ProjectionName,
    ) -> Result<Generation, ReadStoreError> {
        catalog::serving(client, projection)
            .await?
            .map(|s| s.generation)
            .ok_or_else(|| ReadStoreError::NoGeneration {
                projection: projection.clone(),
                generation: "serving".into(),
            })
    }
}

impl PgReadStore {
    /// Runs `sql` against the serving generation, in a read-only transaction.
    async fn query_serving(
        &self,
        projection: &ProjectionName,
        sql: &str,
        params: &[SqlParam<'_>],
    ) -> Result<Vec<Row>, ReadStoreError> {
        let client = self.client("querying a read model").await?;
        serving_read::query(client, projection, sql, params).await
    }
}

/// How many times a query is tried against the serving generation when swaps keep dropping
/// the one it picked.
const QUERY_ATTEMPTS: u32 = 5;

/// Whether a query failed because its generation's schema was dropped under it.
fn schema_dropped(error: &ReadStoreError) -> bool {
    let Some(error) = projector_sql::sql_error(error) else {
        return false;
    };
    let code = std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<tokio_postgres::Error>())
        .and_then(tokio_postgres::Error::code);
    matches!(
        code,
        Some(c) if *c == tokio_postgres::error::SqlState::UNDEFINED_TABLE
            || *c == tokio_postgres::error::SqlState::INVALID_SCHEMA_NAME
    )
}

fn commit_error(context: &'static str) -> impl Fn(tokio_postgres::Error) -> ReadStoreError {
    move |e| read_store_error(context, e)
}

#[async_trait]
impl SqlReadStore for PgReadStore {
    async fn serving(
        &self,
        projection: &ProjectionName,
    ) -> Result<Option<ServingGeneration>, ReadStoreError> {
        let client = self.client("reading the catalog").await?;
        catalog::serving(&client, projection).await
    }

    async fn building(
        &self,
        projection: &ProjectionName,
    ) -> Result<Vec<BuildingGeneration>, ReadStoreError> {
        let client = self.client("reading the catalog").await?;
        catalog::building(&client, projection).await
    }

    async fn create_generation(
        &self,
        projection: &dyn SqlProjection,
    ) -> Result<Generation, ReadStoreError> {
        let name = projection.name();
        let mut client = self.client("creating a generation").await?;
        let tx = client
            .transaction()
            .await
            .map_err(commit_error("creating a generation"))?;
        catalog::lock(&tx).await?;
        let generation = catalog::add_building(&tx, &name, projection.version()).await?;
        generation::create_schema(
            &tx,
            &name,
            generation,
            projection.schema(),
            self.partition.map(Partition::count),
        )
        .await?;
        tx.commit()
            .await
            .map_err(commit_error("creating a generation"))?;
        Ok(generation)
    }

    async fn activate(
        &self,
        projection: &ProjectionName,
        generation: Generation,
        replacing: Option<ServingAt>,
    ) -> Result<(), ReadStoreError> {
        let mut client = self.client("swapping generations").await?;
        let tx = client
            .transaction()
            .await
            .map_err(commit_error("swapping generations"))?;
        catalog::lock(&tx).await?;
        // The head lock every append holds to its commit: an append applying an inline
        // projection reads the serving generation under it, so none commits between the
        // replaced generation's checkpoint check below and the swap. Taken after the catalog
        // lock, which no append takes, so the two cannot wait on each other.
        tx.query_one(include_str!("../sql/lock_head.sql"), &[])
            .await
            .map_err(commit_error("waiting for the appends"))?;
        catalog::activate(&tx, projection, generation, replacing, self.partition).await?;
        tx.commit()
            .await
            .map_err(commit_error("swapping generations"))
    }

    async fn activate_inline(
        &self,
        projection: Arc<dyn SqlProjection>,
        generation: Generation,
        replacing: Option<ServingAt>,
    ) -> Result<(), ReadStoreError> {
        let name = projection.name();
        let Some(serving) = replacing else {
            return self.activate(&name, generation, None).await;
        };
        let mut client = self.client("swapping generations").await?;
        let mut tx = client
            .transaction()
            .await
            .map_err(commit_error("swapping generations"))?;
        catalog::lock(&tx).await?;
        let head = tx
            .query_one(include_str!("../sql/lock_head.sql"), &[])
            .await
            .map_err(commit_error("waiting for the appends"))?;
        let head = GlobalPosition::new(to_u64(
            head.try_get::<_, i64>(0)
                .map_err(commit_error("reading the head"))?,
        ));
        let caught_up =
            crate::inline::catch_up_generation(&mut tx, projection.as_ref(), generation, head)
                .await
                .map_err(commit_error("catching the new generation up"))?;
        let replacing = if caught_up {
            // At the head, with no append able to commit before the swap: the new generation
            // holds everything the serving one does, wherever the appends moved its checkpoint.
            let at = catalog::locked_checkpoint(&tx, &name, serving.generation, None).await?;
            ServingAt {
                checkpoint: at.unwrap_or(serving.checkpoint),
                ..serving
            }
        } else {
            serving
        };
        catalog::activate(&tx, &name, generation, Some(replacing), self.partition).await?;
        tx.commit()
            .await
            .map_err(commit_error("swapping generations"))
    }

    async fn drop_generation(
        &self,
        projection: &ProjectionName,
        generation: Generation,
        at: GlobalPosition,
    ) -> Result<(), ReadStoreError> {
        let mut client = self.client("dropping a generation").await?;
        let tx = client
            .transaction()
            .await
            .map_err(commit_error("dropping a generation"))?;
        catalog::lock(&tx).await?;
        catalog::retire(&tx, projection, generation, at, self.partition).await?;
        tx.commit()
            .await
            .map_err(commit_error("dropping a generation"))
    }

    async fn checkpoint(
        &self,
        projection: &ProjectionName,
        generation: Generation,
    ) -> Result<Checkpoint, ReadStoreError> {
        let mut client = self.client("reading a checkpoint").await?;
        let schema = schema_name(projection, generation);
        let tx = generation::begin(&mut client, &schema, false).await?;
        let checkpoint =
            generation::checkpoint(&tx, projection, generation, false, self.partition).await?;
        tx.commit()
            .await
            .map_err(commit_error("reading a checkpoint"))?;
        Ok(checkpoint)
    }

    async fn apply(
        &self,
        projection: Arc<dyn SqlProjection>,
        generation: Generation,
        events: Arc<[RecordedEvent]>,
        from: GlobalPosition,
        checkpoint: Checkpoint,
    ) -> Result<(), ApplyError> {
        let mut client = self.client("applying a batch").await?;
        let name = projection.name();
        let schema = schema_name(&name, generation);
        if events.is_empty() && self.partition.is_none() {
            match generation::pass(&client, &schema, from, checkpoint, self.lazy_commit).await {
                Passed::Moved => return Ok(()),
                // Moved to the batch's end by another writer, or by the appends for an inline
                // read model: where this batch would have left it.
                Passed::Found(found) if found == checkpoint.position => return Ok(()),
                Passed::Found(found) => {
                    return Err(ApplyError::Store(ReadStoreError::CheckpointMoved {
                        projection: name,
                        expected: from,
                        found,
                    }));
                }
                Passed::Unknown => {}
            }
        }
        let tx = generation::begin(&mut client, &schema, self.lazy_commit).await?;
        generation::apply(
            &tx,
            projection.as_ref(),
            generation,
            &events,
            from,
            checkpoint,
            self.partition,
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| ApplyError::Store(read_store_error("committing a batch", e)))
    }

    async fn record_dead_letter(
        &self,
        generation: Generation,
        letter: DeadLetter,
        from: GlobalPosition,
        skip_to: Option<Checkpoint>,
    ) -> Result<(), ReadStoreError> {
        let mut client = self.client("recording a dead letter").await?;
        let schema = schema_name(&letter.projection, generation);
        let tx = generation::begin(&mut client, &schema, false).await?;
        generation::record_dead_letter(&tx, generation, &letter, from, skip_to, self.partition)
            .await?;
        tx.commit()
            .await
            .map_err(commit_error("recording a dead letter"))
    }

    async fn retry_dead_letter(
        &self,
        projection: Arc<dyn SqlProjection>,
        generation: Generation,
        event: RecordedEvent,
        from: GlobalPosition,
        to: Option<Checkpoint>,
    ) -> Result<(), ApplyError> {
        let mut client = self.client("retrying a dead letter").await?;
        let schema = schema_name(&projection.name(), generation);
        let tx = generation::begin(&mut client, &schema, false).await?;
        generation::retry_dead_letter(
            &tx,
            projection.as_ref(),
            generation,
            &event,
            from,
            to,
            self.partition,
        )
        .await?;
        tx.commit()
            .await
            .map_err(|e| ApplyError::Store(read_store_error("committing a retry", e)))
    }

    async fn dead_letters(
        &self,
        projection: &ProjectionName,
    ) -> Result<Vec<DeadLetter>, ReadStoreError> {
        let mut client = self.client("reading dead letters").await?;
        let generation = self.serving_generation(&client, projection).await?;
        let schema = schema_name(projection, generation);
        let tx = generation::begin(&mut client, &schema, false).await?;
        let letters = generation::dead_letters(&tx, projection, generation).await?;
        tx.commit()
            .await
            .map_err(commit_error("reading dead letters"))?;
        Ok(letters)
    }

    async fn query(
        &self,
        projection: &ProjectionName,
        sql: &str,
        params: &[SqlParam<'_>],
    ) -> Result<Vec<Row>, ReadStoreError> {
        // Another process may swap generations between this query's catalog read and its
        // statement, dropping the schema it named: the catalog then names the new one. Each
        // retry means another swap came in between, so a few are plenty.
        let query = async {
            let mut attempts = 1;
            loop {
                match self.query_serving(projection, sql, params).await {
                    Err(error) if schema_dropped(&error) && attempts < QUERY_ATTEMPTS => {
                        attempts += 1;
                    }
                    result => return result,
                }
            }
        };
        let Some(deadline) = self.query_deadline else {
            return query.await;
        };
        tokio::time::timeout(deadline, query)
            .await
            .unwrap_or_else(|_| {
                Err(ReadStoreError::Unavailable {
                    message: format!(
                        "querying {projection}: the database did not answer within {} ms",
                        deadline.as_millis()
                    ),
                    source: None,
                })
            })
    }

    fn partition(&self, partition: Partition) -> Option<Arc<dyn SqlReadStore>> {
        Some(Arc::new(Self {
            partition: Some(partition),
            ..self.clone()
        }))
    }

    async fn partitions(
        &self,
        projection: &ProjectionName,
        generation: Generation,
    ) -> Result<u16, ReadStoreError> {
        let mut client = self.client("counting partitions").await?;
        let schema = schema_name(projection, generation);
        let tx = generation::begin(&mut client, &schema, false).await?;
        let count = generation::partitions(&tx, &schema).await?;
        tx.commit()
            .await
            .map_err(commit_error("counting partitions"))?;
        Ok(count)
    }
}
