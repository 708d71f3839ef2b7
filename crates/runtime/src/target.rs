//! What a worker drives: a projection bound to the store that holds its read model.
//!
//! [`ProjectionTarget`] is the seam between the runtime and the kinds of read model. A SQL
//! projection over a [`SqlReadStore`] is one ([`SqlTarget`]); other kinds of store implement
//! the same trait and the worker runs them unchanged.

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    ApplyError, BuildingGeneration, Checkpoint, DeadLetter, EventFilter, Generation,
    GlobalPosition, PoisonPolicy, ProjectionName, ReadStoreError, RecordedEvent, ServingAt,
    SqlProjection, SqlReadStore,
};

/// A projection together with where its read model lives.
#[async_trait]
pub trait ProjectionTarget: Send + Sync + 'static {
    /// The projection's name.
    fn name(&self) -> ProjectionName;
    /// The version of the read model's shape.
    fn version(&self) -> u32;
    /// The events the projection handles.
    fn filter(&self) -> EventFilter;
    /// What to do with a poison event.
    fn poison_policy(&self) -> PoisonPolicy;

    /// The generation serving reads and the version of the projection that built it.
    async fn serving(&self) -> Result<Option<(Generation, u32)>, ReadStoreError>;
    /// The generations being built (not serving yet), with the version that created each,
    /// oldest first: what a rebuild cut short left behind.
    async fn building(&self) -> Result<Vec<BuildingGeneration>, ReadStoreError>;
    /// Creates an empty generation that does not serve yet; refused with
    /// `ReadStoreError::BuildInProgress` while another is building.
    async fn create_generation(&self) -> Result<Generation, ReadStoreError>;
    /// Makes the building `generation` serve reads in place of `replacing` (as the caller
    /// last saw it), dropping that one; refused, changing nothing, when the serving
    /// generation or its checkpoint is no longer what the caller saw.
    async fn activate(
        &self,
        generation: Generation,
        replacing: Option<ServingAt>,
    ) -> Result<(), ReadStoreError>;
    /// Drops a building generation whose checkpoint is still `at`; refused when it moved.
    async fn drop_generation(
        &self,
        generation: Generation,
        at: GlobalPosition,
    ) -> Result<(), ReadStoreError>;
    /// The checkpoint of a generation.
    async fn checkpoint(&self, generation: Generation) -> Result<Checkpoint, ReadStoreError>;
    /// Applies `events` and moves the checkpoint from `from` to `to`, atomically; refused with
    /// `ReadStoreError::CheckpointMoved` if the checkpoint is not at `from`.
    async fn apply(
        &self,
        generation: Generation,
        events: Arc<[RecordedEvent]>,
        from: GlobalPosition,
        to: Checkpoint,
    ) -> Result<(), ApplyError>;
    /// Records a dead letter, moving the checkpoint from `from` past it when `skip_to` is
    /// set; refused with `ReadStoreError::CheckpointMoved` if the checkpoint is not at `from`.
    async fn dead_letter(
        &self,
        generation: Generation,
        letter: DeadLetter,
        from: GlobalPosition,
        skip_to: Option<Checkpoint>,
    ) -> Result<(), ReadStoreError>;
    /// The dead letters of the serving generation.
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, ReadStoreError>;
}

/// A [`SqlProjection`] whose tables live in a [`SqlReadStore`].
pub struct SqlTarget {
    store: Arc<dyn SqlReadStore>,
    projection: Arc<dyn SqlProjection>,
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
        Self { store, projection }
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
}
