//! [`SearchTarget`]: a search projection bound to the store that holds its indexes, as the
//! projector drives it. Each call runs on a blocking thread: the index is local disk.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use projector_core::{
    ApplyError, BuildingGeneration, Checkpoint, DeadLetter, EventFilter, Generation,
    GlobalPosition, PoisonPolicy, ProjectionName, ProjectionTarget, ReadStoreError, RecordedEvent,
    ServingAt,
};

use crate::indexes::ProjectionIndexes;
use crate::projection::{Indexer, SearchProjection};
use crate::read::SearchRead;
use crate::store::SearchStore;
use crate::typed::{TypedSearch, TypedSearchProjection};

/// A [`SearchProjection`] whose index lives in a [`SearchStore`].
///
/// It is a *local* read model: each process keeps its own index on its own disk and projects
/// it itself, without a lease (see `ProjectionTarget::local`).
pub struct SearchTarget {
    store: SearchStore,
    projection: Arc<dyn Indexer>,
    indexes: Arc<ProjectionIndexes>,
    /// How long the last batch took to apply and commit, in microseconds: the interval
    /// before the next stretches with it (see `SearchStoreOptions::commit_interval`).
    last_commit_micros: Arc<AtomicU64>,
}

/// The batch interval stretches to this many times the last commit's duration.
const COMMIT_SHARE: u32 = 10;
/// The longest the stretched interval gets (a search server's usual refresh interval).
const LONGEST_STRETCH: Duration = Duration::from_secs(1);

impl std::fmt::Debug for SearchTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchTarget")
            .field("projection", &self.projection.name())
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl SearchTarget {
    /// Binds `projection` to `store`.
    pub fn new<P: SearchProjection>(store: SearchStore, projection: P) -> Self {
        let indexes = store.indexes(&projection.name());
        Self {
            store,
            projection: Arc::new(projection),
            indexes,
            last_commit_micros: Arc::default(),
        }
    }

    /// Binds a typed projection to `store`.
    pub fn typed<P: TypedSearchProjection>(store: SearchStore, projection: P) -> Self {
        Self::new(store, TypedSearch(projection))
    }

    /// The store holding the projection's indexes.
    pub fn store(&self) -> &SearchStore {
        &self.store
    }

    /// A read of the generation serving the projection's reads now (see [`SearchRead`]).
    ///
    /// # Errors
    /// `ReadStoreError::NoGeneration` when no generation serves.
    pub fn read(&self) -> Result<SearchRead, ReadStoreError> {
        self.store.read(&self.projection.name())
    }

    /// Runs `work` on the projection's indexes on a blocking thread.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&ProjectionIndexes) -> Result<T, ReadStoreError> + Send + 'static,
    ) -> Result<T, ReadStoreError> {
        let indexes = Arc::clone(&self.indexes);
        tokio::task::spawn_blocking(move || work(&indexes))
            .await
            .map_err(|e| ReadStoreError::Unavailable {
                message: format!("the search store's work did not finish: {e}"),
                source: None,
            })?
    }
}

#[async_trait]
impl ProjectionTarget for SearchTarget {
    fn name(&self) -> ProjectionName {
        self.projection.name()
    }

    fn version(&self) -> u32 {
        self.projection.version()
    }

    fn filter(&self) -> EventFilter {
        self.projection.handles()
    }

    fn poison_policy(&self) -> PoisonPolicy {
        self.projection.poison_policy()
    }

    fn start_from(&self) -> projector_core::StartFrom {
        self.projection.start_from()
    }

    /// Each process keeps its own index.
    fn local(&self) -> bool {
        true
    }

    async fn serving(&self) -> Result<Option<(Generation, u32)>, ReadStoreError> {
        let serving = self.blocking(|indexes| indexes.serving()).await?;
        Ok(serving.map(|s| (s.generation, s.version)))
    }

    async fn building(&self) -> Result<Vec<BuildingGeneration>, ReadStoreError> {
        self.blocking(|indexes| indexes.building()).await
    }

    async fn create_generation(&self) -> Result<Generation, ReadStoreError> {
        let projection = Arc::clone(&self.projection);
        self.blocking(move |indexes| {
            indexes.create(projection.version(), projection.full_schema()?)
        })
        .await
    }

    async fn activate(
        &self,
        generation: Generation,
        replacing: Option<ServingAt>,
    ) -> Result<(), ReadStoreError> {
        self.blocking(move |indexes| indexes.activate(generation, replacing))
            .await
    }

    async fn drop_generation(
        &self,
        generation: Generation,
        at: GlobalPosition,
    ) -> Result<(), ReadStoreError> {
        self.blocking(move |indexes| indexes.drop_generation(generation, at))
            .await
    }

    async fn checkpoint(&self, generation: Generation) -> Result<Checkpoint, ReadStoreError> {
        self.blocking(move |indexes| Ok(indexes.generation(generation)?.payload().checkpoint))
            .await
    }

    fn batch_interval(&self) -> Duration {
        let Some(options) = self.store.options() else {
            return Duration::ZERO;
        };
        let last = Duration::from_micros(self.last_commit_micros.load(Ordering::Relaxed));
        stretched(options.commit_interval, last)
    }

    async fn apply(
        &self,
        generation: Generation,
        events: Arc<[RecordedEvent]>,
        from: GlobalPosition,
        to: Checkpoint,
    ) -> Result<(), ApplyError> {
        let projection = Arc::clone(&self.projection);
        let indexes = Arc::clone(&self.indexes);
        let last_commit_micros = Arc::clone(&self.last_commit_micros);
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let index = indexes.generation(generation)?;
            let schema = index.schema();
            let reserved = index.reserved();
            let applied = index.apply(from, to, |searcher| {
                projection.changes(searcher, reserved, &schema, &events)
            });
            let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            last_commit_micros.store(took, Ordering::Relaxed);
            applied
        })
        .await
        .map_err(|e| {
            ApplyError::Store(ReadStoreError::Unavailable {
                message: format!("the search store's work did not finish: {e}"),
                source: None,
            })
        })?
    }

    async fn dead_letter(
        &self,
        generation: Generation,
        letter: DeadLetter,
        from: GlobalPosition,
        skip_to: Option<Checkpoint>,
    ) -> Result<(), ReadStoreError> {
        self.blocking(move |indexes| {
            indexes
                .generation(generation)?
                .record(letter, from, skip_to)
        })
        .await
    }

    async fn retry_dead_letter(
        &self,
        generation: Generation,
        event: RecordedEvent,
        from: GlobalPosition,
        to: Option<Checkpoint>,
    ) -> Result<(), ApplyError> {
        let projection = Arc::clone(&self.projection);
        let indexes = Arc::clone(&self.indexes);
        tokio::task::spawn_blocking(move || {
            let index = indexes.generation(generation)?;
            let schema = index.schema();
            let reserved = index.reserved();
            index.retry(event.position, from, to, |searcher| {
                projection.changes(searcher, reserved, &schema, std::slice::from_ref(&event))
            })
        })
        .await
        .map_err(|e| {
            ApplyError::Store(ReadStoreError::Unavailable {
                message: format!("the search store's work did not finish: {e}"),
                source: None,
            })
        })?
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, ReadStoreError> {
        self.blocking(|indexes| {
            let (_, index) = indexes.serving_index()?;
            Ok(index.payload().dead_letters.clone())
        })
        .await
    }
}

/// The time to gather live events for before the next commit: `interval`, stretched to
/// [`COMMIT_SHARE`] times the `last` commit's duration, up to [`LONGEST_STRETCH`] (or
/// `interval`, if longer).
fn stretched(interval: Duration, last: Duration) -> Duration {
    let busy = last.saturating_mul(COMMIT_SHARE);
    interval.max(busy.min(LONGEST_STRETCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_stretches_with_slow_commits_up_to_a_second() {
        let ms = Duration::from_millis;
        assert_eq!(stretched(ms(100), ms(4)), ms(100), "a quick commit");
        assert_eq!(stretched(ms(100), ms(30)), ms(300));
        assert_eq!(
            stretched(ms(100), ms(400)),
            ms(1_000),
            "stretched at most to a second"
        );
        assert_eq!(
            stretched(ms(2_000), ms(400)),
            ms(2_000),
            "a longer interval stays"
        );
        assert_eq!(stretched(Duration::ZERO, Duration::ZERO), Duration::ZERO);
    }
}
