//! The target conformance checks, on search indexes in a temporary directory.

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    EventFilter, Projection, ProjectionError, ProjectionName, ProjectionTarget, ReadStoreError,
    RecordedEvent,
};
use projector_search::tantivy::schema::SchemaBuilder;
use projector_search::{DocumentBuilder, SearchBatch, SearchProjection, SearchStore, SearchTarget};
use projector_testkit::conformance::target::{TALLY, TargetFixture};

/// The key of the one document the tally keeps.
const APPLIED: &str = "applied";

/// Counts the events it applies in one document: reads the count, writes it back.
struct Tally(u32);

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

impl SearchProjection for Tally {
    type Document = i64;

    fn schema(&self, _schema: &mut SchemaBuilder) {}

    fn index(
        &self,
        _count: &i64,
        _fields: &mut DocumentBuilder<'_>,
    ) -> Result<(), ProjectionError> {
        Ok(())
    }

    fn apply(
        &self,
        batch: &mut SearchBatch<i64>,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let applied = batch.get(APPLIED)?.unwrap_or(0);
        batch.put(APPLIED, applied + events.len() as i64);
        Ok(())
    }
}

/// A store in a temporary directory.
struct SearchFixture {
    dir: tempfile::TempDir,
    store: Option<SearchStore>,
}

impl SearchFixture {
    fn store(&self) -> &SearchStore {
        self.store.as_ref().expect("the store is open")
    }
}

async fn fixture() -> Option<SearchFixture> {
    let dir = projector_testkit::temp_dir();
    let store = SearchStore::open(dir.path().join("search")).expect("store");
    Some(SearchFixture {
        dir,
        store: Some(store),
    })
}

#[async_trait]
impl TargetFixture for SearchFixture {
    fn target(&self, version: u32) -> Arc<dyn ProjectionTarget> {
        Arc::new(SearchTarget::new(self.store().clone(), Tally(version)))
    }

    async fn tally(&self) -> Result<i64, ReadStoreError> {
        // Reads touch the disk: off the async threads, as a server runs them.
        let store = self.store().clone();
        tokio::task::spawn_blocking(move || {
            let read = store.read(&TALLY)?;
            Ok(read.get::<i64>(APPLIED)?.unwrap_or(0))
        })
        .await
        .expect("the read finished")
    }

    async fn reopen(&mut self) {
        // The lock is the old store's until it is dropped.
        self.store = None;
        self.store = Some(SearchStore::open(self.dir.path().join("search")).expect("store"));
    }
}

projector_testkit::target_conformance!(fixture());
