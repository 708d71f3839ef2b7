//! [`TypedRedisProjection`]: a Redis projection that declares the event set it reads and
//! receives those events decoded, with their position and metadata; errors from `apply` are
//! tagged with the event's position.

use std::future::Future;

use async_trait::async_trait;
use projector_core::{
    Envelope, EventFilter, PoisonPolicy, ProjectedEvents, Projection, ProjectionError,
    ProjectionName, RecordedEvent, StartFrom,
};

use crate::batch::RedisBatch;
use crate::projection::RedisProjection;

/// A projection whose read model is Redis keys, fed the decoded events of one event set.
///
/// Bind it with [`RedisTarget::typed`](crate::RedisTarget::typed). Reads through the batch
/// see the generation as the batch found it (writes are buffered until the batch commits), so
/// a projection that reads what it writes folds the batch first: override `apply_batch`.
pub trait TypedRedisProjection: Send + Sync + 'static {
    /// The events it reads.
    type Event: ProjectedEvents;

    /// Its name: the key of its checkpoint and the prefix of its keys.
    const NAME: ProjectionName;

    /// The version of its keys' shape; changing it rebuilds them from the first event.
    const VERSION: u32 = 1;

    /// What the projector does with an event that keeps failing.
    const POISON_POLICY: PoisonPolicy = PoisonPolicy::Stop;

    /// Where a new generation of its read model starts, for one that needs only recent
    /// history (a backfill); the first event by default.
    fn start_from(&self) -> StartFrom {
        StartFrom::Beginning
    }

    /// The events it is given: its event set's types, from its category's streams.
    fn handles(&self) -> EventFilter {
        Self::Event::selects()
    }

    /// Applies one event.
    ///
    /// # Errors
    /// Any [`ProjectionError`]; the event's position is added when it names none.
    fn apply(
        &self,
        batch: &mut RedisBatch,
        event: &Envelope<'_, Self::Event>,
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send;

    /// Applies a batch, in feed order; by default one event at a time.
    ///
    /// # Errors
    /// A [`ProjectionError`] naming the failing event's position where known.
    fn apply_batch(
        &self,
        batch: &mut RedisBatch,
        events: &[Envelope<'_, Self::Event>],
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send {
        async move {
            for event in events {
                self.apply(batch, event)
                    .await
                    .map_err(|e| e.or_at(event.position))?;
            }
            Ok(())
        }
    }
}

/// A [`TypedRedisProjection`] as the Redis store runs projections.
#[derive(Debug)]
pub struct TypedRedis<P>(pub P);

impl<P: TypedRedisProjection> Projection for TypedRedis<P> {
    fn name(&self) -> ProjectionName {
        P::NAME
    }

    fn version(&self) -> u32 {
        P::VERSION
    }

    fn handles(&self) -> EventFilter {
        self.0.handles()
    }

    fn poison_policy(&self) -> PoisonPolicy {
        P::POISON_POLICY
    }

    fn start_from(&self) -> StartFrom {
        self.0.start_from()
    }
}

#[async_trait]
impl<P: TypedRedisProjection> RedisProjection for TypedRedis<P> {
    async fn apply(
        &self,
        batch: &mut RedisBatch,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let decoded = events
            .iter()
            .map(Envelope::decode)
            .collect::<Result<Vec<_>, _>>()?;
        let result = self.0.apply_batch(batch, &decoded).await;
        match (result, decoded.as_slice()) {
            (Err(error), [only]) => Err(error.or_at(only.position)),
            (result, _) => result,
        }
    }
}
