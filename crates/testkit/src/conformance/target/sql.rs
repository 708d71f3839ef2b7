//! The target conformance fixture of SQL read models: [`SqlFixture`] binds a tally
//! [`SqlProjection`] to any [`SqlReadStore`] through `projector_sql::SqlTarget`.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    EventFilter, Projection, ProjectionError, ProjectionName, ProjectionTarget, ReadStoreError,
    RecordedEvent,
};
use projector_sql::{SqlProjection, SqlReadStore, SqlTarget, SqlTransaction};

use super::{TALLY, TargetFixture};

/// Counts the events it applies in one row; `Tally(version)`.
#[derive(Debug)]
pub struct Tally(pub u32);

impl Projection for Tally {
    fn name(&self) -> ProjectionName {
        TALLY
    }

    fn version(&self) -> u32 {
        self.0
    }

    fn handles(&self) -> EventFilter {
        EventFilter::All
    }
}

#[async_trait]
impl SqlProjection for Tally {
    fn schema(&self) -> &[&str] {
        &["CREATE TABLE tally (id BIGINT PRIMARY KEY, applied BIGINT NOT NULL)"]
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            tx.execute(
                "INSERT INTO tally (id, applied) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET applied = tally.applied + 1",
                &[],
            )
            .await
            .map_err(|e| e.at(event.position))?;
        }
        Ok(())
    }
}

type Open =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Arc<dyn SqlReadStore>> + Send>> + Send + Sync>;

/// SQL tables of one read store, opened again on the same storage by `open`.
pub struct SqlFixture {
    open: Open,
    /// `None` only while reopening.
    store: Option<Arc<dyn SqlReadStore>>,
    _guard: Box<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for SqlFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlFixture").finish_non_exhaustive()
    }
}

impl SqlFixture {
    /// The store under test.
    ///
    /// # Panics
    /// Never outside a reopen.
    pub fn store(&self) -> Arc<dyn SqlReadStore> {
        Arc::clone(self.store.as_ref().expect("the store is open"))
    }

    /// Opens the store with `open`, which opens it again on the same storage at each
    /// [`TargetFixture::reopen`]; `guard` keeps the storage (a directory, a database) alive.
    pub async fn open<F, Fut>(open: F, guard: impl Any + Send + Sync) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Arc<dyn SqlReadStore>> + Send + 'static,
    {
        let open: Open = Box::new(move || Box::pin(open()));
        let store = Some(open().await);
        Self {
            open,
            store,
            _guard: Box::new(guard),
        }
    }
}

#[async_trait]
impl TargetFixture for SqlFixture {
    fn target(&self, version: u32) -> Arc<dyn ProjectionTarget> {
        Arc::new(SqlTarget::new(self.store(), Arc::new(Tally(version))))
    }

    async fn tally(&self) -> Result<i64, ReadStoreError> {
        let rows = self
            .store()
            .query(&TALLY, "SELECT applied FROM tally WHERE id = 1", &[])
            .await?;
        match rows.first() {
            Some(row) => row.get(0).map_err(|e| ReadStoreError::Query {
                message: e.to_string(),
                transient: false,
                source: None,
            }),
            None => Ok(0),
        }
    }

    async fn reopen(&mut self) {
        // The old store closes first, as when its process dies.
        self.store = None;
        self.store = Some((self.open)().await);
    }
}
