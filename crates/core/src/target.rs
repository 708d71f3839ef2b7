//! What the projector drives: a projection bound to the store that holds its read model.
//!
//! [`ProjectionTarget`] is the seam between the runtime and the kinds of read model (SQL tables,
//! a cache, a search index). Each kind implements it in its own crate, and the worker runs every
//! kind unchanged: catch-up and live, batches, retries, dead letters, rebuilds, leases.
//!
//! # What a store must guarantee
//! - **Atomic apply with checkpoint.** [`ProjectionTarget::apply`] commits a batch's changes and
//!   the generation's new checkpoint together or not at all, and refuses, changing nothing, a
//!   batch that does not start at the checkpoint (`ReadStoreError::CheckpointMoved`). A store
//!   that cannot commit both together must make every write idempotent, guarded by the position
//!   of the event it reflects, so a batch applied again changes nothing.
//! - **Generations.** Building a generation beside the serving one and swapping it in is atomic
//!   for readers, and every write to the catalog or a checkpoint names the state its caller saw
//!   and is refused when another process changed it (see `ReadStoreError::is_fenced`).
//! - **Durability to match.** A checkpoint survives exactly as long as the data it covers: a
//!   store that can lose data (a cache without persistence) loses its catalog with it, so the
//!   projection is found missing and built again. Such a store says so
//!   ([`ProjectionTarget::volatile`]): its worker then checks, while idle, that the serving
//!   generation is still there, rather than noticing only at the next write.
//! - **Shared or local.** A store every process reaches (SQL tables, Redis) holds one read
//!   model, which the process holding the projection's lease writes. A store on a process's own
//!   disk (a search index) holds that process's copy: it says so ([`ProjectionTarget::local`]),
//!   and every process projects its own, without a lease.

use std::sync::Arc;

use async_trait::async_trait;

use crate::event::RecordedEvent;
use crate::ids::ProjectionName;
use crate::partition::Partition;
use crate::position::GlobalPosition;
use crate::projection::{EventFilter, PoisonPolicy};
use crate::read_model::{
    ApplyError, BuildingGeneration, Checkpoint, DeadLetter, Generation, ReadStoreError, ServingAt,
};
use crate::start::StartFrom;

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
    /// Whether the read model can vanish without the projector's doing (a cache that keeps
    /// nothing on disk, restarted or flushed). The worker then looks for its serving
    /// generation while idle, and builds the read model again when it is gone.
    fn volatile(&self) -> bool {
        false
    }

    /// Whether each process keeps a read model of its own (an index on its own disk), like a
    /// local cache, rather than one shared by every process. The projector then runs it in
    /// every process, without a lease, and each reports its own checkpoint.
    fn local(&self) -> bool {
        false
    }

    /// The shortest time between two batches applied at the head of the feed. A store whose
    /// every commit costs much whatever its size (a search index writes a segment per commit)
    /// gathers the events of that time into one batch, as a search server's refresh interval
    /// does; reads waiting for a position may wait that much longer. While catching up, full
    /// batches follow each other without a pause. Zero, the default, leaves it to the
    /// projector's own interval (a few milliseconds, unless configured otherwise).
    fn batch_interval(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    /// Where a new generation (a first build, a new version, a rebuild) starts reading the
    /// feed; the events before it are never applied. The first event, by default.
    fn start_from(&self) -> StartFrom {
        StartFrom::Beginning
    }

    /// Whether the event store also applies this projection inside its append transaction
    /// (an inline projection), so its serving generation is at the head once a write is
    /// answered. The projector still runs it, for rebuilds and to catch up what inline
    /// skipped. False by default.
    fn inline(&self) -> bool {
        false
    }

    /// The partition of its projection this target applies, when the projection runs as
    /// several (see [`crate::partition`]); `None`, the default, for a whole projection. The
    /// projector reads the feed once for all the partitions it runs of one projection.
    fn partition(&self) -> Option<Partition> {
        None
    }

    /// Whether this target applies `event` (its partition's share of the feed); every event
    /// by default. The projector hands a partition only these, and moves its checkpoint past
    /// the rest.
    fn takes(&self, event: &RecordedEvent) -> bool {
        let _ = event;
        true
    }

    /// The events every partition of its projection applies, whatever their stream (see
    /// [`crate::Projection::spanning_events`]); none by default.
    fn spanning(&self) -> EventFilter {
        EventFilter::none()
    }

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

    /// Applies the event of a dead letter again and deletes the letter, atomically: an
    /// operator retrying it once mended. `to` moves the checkpoint past it (the projection
    /// stopped there); `None` leaves the checkpoint where it is (the projection skipped it
    /// already, so it is applied out of order). Refused, changing nothing, with
    /// `ReadStoreError::CheckpointMoved` if the checkpoint is not at `from`, and with
    /// `ReadStoreError::NoDeadLetter` when the generation has no letter at the event.
    async fn retry_dead_letter(
        &self,
        generation: Generation,
        event: RecordedEvent,
        from: GlobalPosition,
        to: Option<Checkpoint>,
    ) -> Result<(), ApplyError>;
}

/// A shared target is a target, so lists of targets of several kinds can be handed around.
#[async_trait]
impl<T: ProjectionTarget + ?Sized> ProjectionTarget for Arc<T> {
    fn name(&self) -> ProjectionName {
        (**self).name()
    }

    fn version(&self) -> u32 {
        (**self).version()
    }

    fn filter(&self) -> EventFilter {
        (**self).filter()
    }

    fn poison_policy(&self) -> PoisonPolicy {
        (**self).poison_policy()
    }

    fn inline(&self) -> bool {
        (**self).inline()
    }

    fn volatile(&self) -> bool {
        (**self).volatile()
    }

    fn local(&self) -> bool {
        (**self).local()
    }

    fn batch_interval(&self) -> std::time::Duration {
        (**self).batch_interval()
    }

    fn start_from(&self) -> StartFrom {
        (**self).start_from()
    }

    fn partition(&self) -> Option<Partition> {
        (**self).partition()
    }

    fn takes(&self, event: &RecordedEvent) -> bool {
        (**self).takes(event)
    }

    fn spanning(&self) -> EventFilter {
        (**self).spanning()
    }

    async fn serving(&self) -> Result<Option<(Generation, u32)>, ReadStoreError> {
        (**self).serving().await
    }

    async fn building(&self) -> Result<Vec<BuildingGeneration>, ReadStoreError> {
        (**self).building().await
    }

    async fn create_generation(&self) -> Result<Generation, ReadStoreError> {
        (**self).create_generation().await
    }

    async fn activate(
        &self,
        generation: Generation,
        replacing: Option<ServingAt>,
    ) -> Result<(), ReadStoreError> {
        (**self).activate(generation, replacing).await
    }

    async fn drop_generation(
        &self,
        generation: Generation,
        at: GlobalPosition,
    ) -> Result<(), ReadStoreError> {
        (**self).drop_generation(generation, at).await
    }

    async fn checkpoint(&self, generation: Generation) -> Result<Checkpoint, ReadStoreError> {
        (**self).checkpoint(generation).await
    }

    async fn apply(
        &self,
        generation: Generation,
        events: Arc<[RecordedEvent]>,
        from: GlobalPosition,
        to: Checkpoint,
    ) -> Result<(), ApplyError> {
        (**self).apply(generation, events, from, to).await
    }

    async fn dead_letter(
        &self,
        generation: Generation,
        letter: DeadLetter,
        from: GlobalPosition,
        skip_to: Option<Checkpoint>,
    ) -> Result<(), ReadStoreError> {
        (**self)
            .dead_letter(generation, letter, from, skip_to)
            .await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, ReadStoreError> {
        (**self).dead_letters().await
    }

    async fn retry_dead_letter(
        &self,
        generation: Generation,
        event: RecordedEvent,
        from: GlobalPosition,
        to: Option<Checkpoint>,
    ) -> Result<(), ApplyError> {
        (**self)
            .retry_dead_letter(generation, event, from, to)
            .await
    }
}
