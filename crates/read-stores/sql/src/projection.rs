//! [`SqlProjection`]: a projection whose read model is SQL tables beside its checkpoint.

use async_trait::async_trait;
use projector_core::{Projection, ProjectionError, RecordedEvent, catching_panics};

use crate::transaction::SqlTransaction;

/// A projection whose read model is SQL tables in the read store, next to its checkpoint.
///
/// `apply` runs inside the read store's transaction; the store commits the batch and the
/// checkpoint together. It must have no other side effects, because a failed batch is rolled
/// back and applied again.
#[async_trait]
pub trait SqlProjection: Projection {
    /// Portable DDL that creates the read model's tables and indexes in a fresh namespace.
    fn schema(&self) -> &[&str];

    /// Whether its read model commits in the same transaction as the events that change it
    /// (an inline projection): a read right after a write's answer sees the write. It costs
    /// the append its `apply`, and a failure in it refuses the append. False by default.
    fn inline(&self) -> bool {
        false
    }

    /// Applies a batch of events (in feed order, only those that pass [`Projection::handles`]).
    ///
    /// # Errors
    /// A [`ProjectionError`] naming the failing event's position where known, so the projector
    /// can keep the rest of the batch and isolate the event.
    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError>;
}

/// Applies `events` with `projection` in `tx`, a panic in the projection's code becoming a
/// [`ProjectionError`] (see [`projector_core::catching_panics`]). Read stores call SQL
/// projections through this.
///
/// # Errors
/// The projection's own error, or one saying it panicked.
pub async fn apply_catching_panics(
    projection: &dyn SqlProjection,
    tx: &mut dyn SqlTransaction,
    events: &[RecordedEvent],
) -> Result<(), ProjectionError> {
    catching_panics(projection.apply(tx, events)).await
}
