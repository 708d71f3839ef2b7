//! [`RedisProjection`]: a projection whose read model is Redis keys beside its checkpoint.

use async_trait::async_trait;
use projector_core::{Projection, ProjectionError, RecordedEvent};

use crate::batch::RedisBatch;

/// A projection whose read model is keys in Redis (strings, hashes, sets, sorted sets).
///
/// `apply` reads what it needs through the batch and buffers its writes there; the store
/// then applies the writes and the new checkpoint in one script, or nothing if another process
/// moved the checkpoint meanwhile. `apply` must have no other side effects: a failed batch is
/// applied again. The store calls it through `projector_core::catching_panics`, so a panic is
/// a failure of the batch like any other.
#[async_trait]
pub trait RedisProjection: Projection {
    /// Applies a batch of events (in feed order, only those that pass
    /// [`Projection::handles`]).
    ///
    /// # Errors
    /// A [`ProjectionError`] naming the failing event's position where known, so the projector
    /// can keep the rest of the batch and isolate the event.
    async fn apply(
        &self,
        batch: &mut RedisBatch,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError>;
}
