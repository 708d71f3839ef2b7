//! [`SqlTarget`]: a SQL projection bound to the read store that holds its tables, as the
//! projector drives it.

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    ApplyError, BuildingGeneration, Checkpoint, DeadLetter, EventFilter, Generation,
    GlobalPosition, PoisonPolicy, ProjectionName, ProjectionTarget, ReadStoreError, RecordedEvent,
    ServingAt,
};

use crate::projection::SqlProjection;
use crate::store::SqlReadStore;
use crate::typed::{TypedSql, TypedSqlProjection};

/// A [`SqlProjection`] whose tables live in a [`SqlReadStore`].
pub struct SqlTarget {
    store: Arc<dyn SqlReadStore>,
    projection: Arc<dyn SqlProjection>,
    /// Whether the event store applies it inline (see [`SqlTarget::not_inline`]).
    inline: bool,
}

impl std::fmt::Debug for SqlTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlTarget")
            .field("projection", &self.projection.name())
            .finish_non_exhaustive()
    }
}

impl SqlTarget {
    /// Binds `projection` to `store`.
    pub fn new(store: Arc<dyn SqlReadStore>, projection: Arc<dyn SqlProjection>) -> Self {
        let inline = projection.inline();
        Self {
            store,
            projection,
            inline,
        }
    }

    /// The same target, reported as projected after the commit even if the projection is
    /// declared inline: for an event store that does not apply inline projections, so the
    /// status never claims a consistency the writes do not give.
    pub fn not_inline(mut self) -> Self {
        self.inline = false;
        self
    }

    /// Binds a typed projection to `store`.
    pub fn typed<P: TypedSqlProjection>(store: Arc<dyn SqlReadStore>, projection: P) -> Self {
        Self::new(store, Arc::new(TypedSql(projection)))
    }
}

#[async_trait]
impl ProjectionTarget for SqlTarget {
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

    fn inline(&self) -> bool {
        self.inline
    }

    async fn serving(&self) -> Result<Option<(Generation, u32)>, ReadStoreError> {
        Ok(self
            .store
            .serving(&self.projection.name())
            .await?
            .map(|s| (s.generation, s.version)))
    }

    async fn building(&self) -> Result<Vec<BuildingGeneration>, ReadStoreError> {
        self.store.building(&self.projection.name()).await
    }

    async fn create_generation(&self) -> Result<Generation, ReadStoreError> {
        self.store.create_generation(self.projection.as_ref()).await
    }

    async fn activate(
        &self,
        generation: Generation,
        replacing: Option<ServingAt>,
    ) -> Result<(), ReadStoreError> {
        self.store
            .activate(&self.projection.name(), generation, replacing)
            .await
    }

    async fn drop_generation(
        &self,
        generation: Generation,
        at: GlobalPosition,
    ) -> Result<(), ReadStoreError> {
        self.store
            .drop_generation(&self.projection.name(), generation, at)
            .await
    }

    async fn checkpoint(&self, generation: Generation) -> Result<Checkpoint, ReadStoreError> {
        self.store
            .checkpoint(&self.projection.name(), generation)
            .await
    }

    async fn apply(
        &self,
        generation: Generation,
        events: Arc<[RecordedEvent]>,
        from: GlobalPosition,
        to: Checkpoint,
    ) -> Result<(), ApplyError> {
        self.store
            .apply(Arc::clone(&self.projection), generation, events, from, to)
            .await
    }

    async fn dead_letter(
        &self,
        generation: Generation,
        letter: DeadLetter,
        from: GlobalPosition,
        skip_to: Option<Checkpoint>,
    ) -> Result<(), ReadStoreError> {
        self.store
            .record_dead_letter(generation, letter, from, skip_to)
            .await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, ReadStoreError> {
        self.store.dead_letters(&self.projection.name()).await
    }

    async fn retry_dead_letter(
        &self,
        generation: Generation,
        event: RecordedEvent,
        from: GlobalPosition,
        to: Option<Checkpoint>,
    ) -> Result<(), ApplyError> {
        self.store
            .retry_dead_letter(Arc::clone(&self.projection), generation, event, from, to)
            .await
    }
}
