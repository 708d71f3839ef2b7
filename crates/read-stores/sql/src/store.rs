//! [`SqlReadStore`]: where [`SqlProjection`]s keep their tables, checkpoints and dead letters.
//!
//! Each projection's read model lives in its own namespace (a database file on SQLite, a schema
//! on PostgreSQL), in numbered generations (see `projector_core::read_model`).

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    ApplyError, BuildingGeneration, Checkpoint, DeadLetter, Generation, GlobalPosition, Partition,
    ProjectionName, ReadStoreError, RecordedEvent, ServingAt, ServingGeneration,
};

use crate::projection::SqlProjection;
use crate::value::{Row, SqlParam};

/// Storage for SQL read models, their checkpoints and dead letters, in generations.
#[async_trait]
pub trait SqlReadStore: Send + Sync + 'static {
    /// The generation serving reads of `projection`, if any was ever activated.
    async fn serving(
        &self,
        projection: &ProjectionName,
    ) -> Result<Option<ServingGeneration>, ReadStoreError>;

    /// The generations of `projection` being built (created, not yet activated nor dropped),
    /// oldest first. They survive a restart of the store, so a rebuild cut short by a crash or
    /// a failover can be carried on.
    async fn building(
        &self,
        projection: &ProjectionName,
    ) -> Result<Vec<BuildingGeneration>, ReadStoreError>;

    /// Creates an empty generation with the projection's schema and a zero checkpoint. It does
    /// not serve reads until [`SqlReadStore::activate`].
    ///
    /// # Errors
    /// [`ReadStoreError::BuildInProgress`] when the projection has a building generation
    /// already: one is built at a time, so carry it on, or drop it first if it is abandoned.
    async fn create_generation(
        &self,
        projection: &dyn SqlProjection,
    ) -> Result<Generation, ReadStoreError>;

    /// Makes the building `generation` serve reads of `projection` in place of `replacing`
    /// (the serving generation as the caller last saw it, `None` if none served), atomically,
    /// and drops the generation it replaces.
    ///
    /// # Errors
    /// Refused, changing nothing, when the state is not what the caller saw:
    /// [`ReadStoreError::ServingChanged`] when another generation serves,
    /// [`ReadStoreError::CheckpointMoved`] when the serving checkpoint moved, and
    /// [`ReadStoreError::NoGeneration`] when `generation` is not building (dropped, or
    /// serving already).
    async fn activate(
        &self,
        projection: &ProjectionName,
        generation: Generation,
        replacing: Option<ServingAt>,
    ) -> Result<(), ReadStoreError>;

    /// As [`activate`](Self::activate), for an inline `projection`, whose serving checkpoint
    /// each append moves: a store that applies inline projections in its appends first
    /// catches `generation` up to the head while holding the appends off, then swaps
    /// whatever the serving checkpoint is by then (the new generation holds all of it). By
    /// default, plain [`activate`](Self::activate).
    ///
    /// # Errors
    /// As [`activate`](Self::activate).
    async fn activate_inline(
        &self,
        projection: Arc<dyn SqlProjection>,
        generation: Generation,
        replacing: Option<ServingAt>,
    ) -> Result<(), ReadStoreError> {
        self.activate(&projection.name(), generation, replacing)
            .await
    }

    /// Deletes a building generation (an abandoned rebuild) whose checkpoint is still `at`.
    ///
    /// # Errors
    /// Refused, changing nothing: [`ReadStoreError::CheckpointMoved`] when its checkpoint is
    /// not `at` (another process is building it), [`ReadStoreError::ServingChanged`] when it
    /// serves reads. Dropping a generation that is gone already succeeds.
    async fn drop_generation(
        &self,
        projection: &ProjectionName,
        generation: Generation,
        at: GlobalPosition,
    ) -> Result<(), ReadStoreError>;

    /// The checkpoint of a generation.
    async fn checkpoint(
        &self,
        projection: &ProjectionName,
        generation: Generation,
    ) -> Result<Checkpoint, ReadStoreError>;

    /// Applies `events` with `projection` and moves the checkpoint from `from` to `to`, in one
    /// transaction. `events` may be empty, to move the checkpoint past events the projection
    /// does not handle.
    ///
    /// # Errors
    /// [`ReadStoreError::CheckpointMoved`] when the checkpoint is not at `from`: another writer
    /// applied this generation meanwhile, and nothing is applied twice.
    async fn apply(
        &self,
        projection: Arc<dyn SqlProjection>,
        generation: Generation,
        events: Arc<[RecordedEvent]>,
        from: GlobalPosition,
        to: Checkpoint,
    ) -> Result<(), ApplyError>;

    /// Records (or updates) a dead letter and, for a skipped event, moves the checkpoint from
    /// `from` past it, in one transaction.
    ///
    /// # Errors
    /// [`ReadStoreError::CheckpointMoved`] when the checkpoint is not at `from`: another
    /// process applied the generation meanwhile, and nothing is recorded or moved.
    async fn record_dead_letter(
        &self,
        generation: Generation,
        letter: DeadLetter,
        from: GlobalPosition,
        skip_to: Option<Checkpoint>,
    ) -> Result<(), ReadStoreError>;

    /// Applies the event of a dead letter again with `projection` and deletes the letter, in
    /// one transaction; moves the checkpoint from `from` to `to` when set (the projection
    /// stopped at it), else leaves it (it skipped it already).
    ///
    /// # Errors
    /// [`ReadStoreError::CheckpointMoved`] when the checkpoint is not at `from`, and
    /// [`ReadStoreError::NoDeadLetter`] when the generation has no letter at the event:
    /// nothing is applied.
    async fn retry_dead_letter(
        &self,
        projection: Arc<dyn SqlProjection>,
        generation: Generation,
        event: RecordedEvent,
        from: GlobalPosition,
        to: Option<Checkpoint>,
    ) -> Result<(), ApplyError>;

    /// The dead letters of the serving generation, oldest first.
    async fn dead_letters(
        &self,
        projection: &ProjectionName,
    ) -> Result<Vec<DeadLetter>, ReadStoreError>;

    /// Runs a read-only query against the serving generation of `projection`.
    async fn query(
        &self,
        projection: &ProjectionName,
        sql: &str,
        params: &[SqlParam<'_>],
    ) -> Result<Vec<Row>, ReadStoreError>;

    /// A view of this store for one partition of a projection (see
    /// [`projector_core::partition`]): its checkpoints, fences and dead-letter moves are that
    /// partition's own, kept in each generation beside the tables every partition shares; the
    /// generations it creates record their partition count; it swaps a rebuilt generation in
    /// only once every partition of it has caught up. `None` when the store cannot.
    fn partition(&self, partition: Partition) -> Option<Arc<dyn SqlReadStore>> {
        let _ = partition;
        None
    }

    /// How many partitions built `generation`: 1 when it was built whole.
    async fn partitions(
        &self,
        projection: &ProjectionName,
        generation: Generation,
    ) -> Result<u16, ReadStoreError> {
        let _ = (projection, generation);
        Ok(1)
    }
}
