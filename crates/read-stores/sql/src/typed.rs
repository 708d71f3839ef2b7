//! [`TypedSqlProjection`]: a SQL projection that declares the event set it reads and receives
//! those events decoded, with their position and metadata.
//!
//! An error from `apply` (a failed statement through `?`, a refusal) is tagged with the
//! event's position, so the projector keeps the rest of the batch and isolates the event
//! without the projection saying where it was.

use std::future::Future;

use async_trait::async_trait;
use projector_core::{
    Envelope, EventFilter, PoisonPolicy, ProjectedEvents, Projection, ProjectionError,
    ProjectionName, RecordedEvent, StartFrom,
};

use crate::projection::SqlProjection;
use crate::transaction::SqlTransaction;

/// A projection whose read model is SQL tables, fed the decoded events of one event set.
///
/// Bind it with [`SqlTarget::typed`](crate::SqlTarget::typed). `apply` runs inside the read
/// store's transaction, which commits the batch with the checkpoint; it must have no other
/// side effects, because a failed batch is rolled back and applied again.
pub trait TypedSqlProjection: Send + Sync + 'static {
    /// The events it reads.
    type Event: ProjectedEvents;

    /// Its name: the key of its checkpoint and the namespace of its tables.
    const NAME: ProjectionName;

    /// The version of its tables' shape; changing it rebuilds them from the first event.
    const VERSION: u32 = 1;

    /// Portable DDL creating its tables and indexes in a fresh namespace.
    const SCHEMA: &'static [&'static str];

    /// What the projector does with an event that keeps failing.
    const POISON_POLICY: PoisonPolicy = PoisonPolicy::Stop;

    /// Whether it is an inline projection (see [`SqlProjection::inline`]).
    const INLINE: bool = false;

    /// Where a new generation of its read model starts, for one that needs only recent
    /// history (a backfill); the first event by default.
    fn start_from(&self) -> StartFrom {
        StartFrom::Beginning
    }

    /// The events it is given: its event set's types, from its category's streams.
    fn handles(&self) -> EventFilter {
        Self::Event::selects()
    }

    /// Whether it can run as several partitions, its rows keyed by stream (see
    /// [`projector_core::partition`]). Not by default.
    const PARTITIONABLE: bool = false;

    /// The events that concern every partition rather than only their stream's (see
    /// [`Projection::spanning_events`]); none by default.
    fn spanning_events(&self) -> EventFilter {
        EventFilter::none()
    }

    /// Applies one event.
    ///
    /// # Errors
    /// Any [`ProjectionError`]; the event's position is added when it names none.
    fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        event: &Envelope<'_, Self::Event>,
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send;

    /// Applies a batch, in feed order. By default one event at a time; override it to write
    /// a batch in fewer statements (a `MultiRowInsert`, `execute_batch`).
    ///
    /// # Errors
    /// A [`ProjectionError`] naming the failing event's position where known (one without a
    /// position makes the projector apply the batch's events one at a time to find it).
    fn apply_batch(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[Envelope<'_, Self::Event>],
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send {
        async move {
            for event in events {
                self.apply(tx, event)
                    .await
                    .map_err(|e| e.or_at(event.position))?;
            }
            Ok(())
        }
    }
}

/// A [`TypedSqlProjection`] as the read stores run SQL projections.
#[derive(Debug)]
pub struct TypedSql<P>(pub P);

impl<P: TypedSqlProjection> Projection for TypedSql<P> {
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

    fn partitionable(&self) -> bool {
        P::PARTITIONABLE
    }

    fn spanning_events(&self) -> EventFilter {
        self.0.spanning_events()
    }
}

#[async_trait]
impl<P: TypedSqlProjection> SqlProjection for TypedSql<P> {
    fn schema(&self) -> &[&str] {
        P::SCHEMA
    }

    fn inline(&self) -> bool {
        P::INLINE
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let decoded = events
            .iter()
            .map(Envelope::decode)
            .collect::<Result<Vec<_>, _>>()?;
        let result = self.0.apply_batch(tx, &decoded).await;
        match (result, decoded.as_slice()) {
            (Err(error), [only]) => Err(error.or_at(only.position)),
            (result, _) => result,
        }
    }
}
