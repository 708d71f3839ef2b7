//! [`TypedSearchProjection`]: a search projection that declares the event set it reads and
//! receives those events decoded, with their position and metadata; errors from `apply` are
//! tagged with the event's position.

use projector_core::{
    Envelope, EventFilter, PoisonPolicy, ProjectedEvents, Projection, ProjectionError,
    ProjectionName, RecordedEvent, StartFrom,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tantivy::schema::SchemaBuilder;

use crate::batch::SearchBatch;
use crate::document::DocumentBuilder;
use crate::projection::SearchProjection;

/// A projection whose read model is a search index, fed the decoded events of one event set.
///
/// Bind it with [`SearchTarget::typed`](crate::SearchTarget::typed). Partial updates read the
/// document as it was through the batch (`get`, which sees the batch's own changes), change
/// it, and `put` it back.
pub trait TypedSearchProjection: Send + Sync + 'static {
    /// The events it reads.
    type Event: ProjectedEvents;

    /// A document as the index keeps its source.
    type Document: Clone + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Its name: the directory of its index.
    const NAME: ProjectionName;

    /// The version of its documents' shape and schema; changing it rebuilds the index from
    /// the first event.
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

    /// Adds the fields it indexes (the store adds the key `_id` and the source `_source`).
    fn schema(&self, schema: &mut SchemaBuilder);

    /// The indexed fields of `document`: a pure function of it.
    ///
    /// # Errors
    /// A [`ProjectionError`] for a document it cannot index.
    fn index(
        &self,
        document: &Self::Document,
        fields: &mut DocumentBuilder<'_>,
    ) -> Result<(), ProjectionError>;

    /// Applies one event.
    ///
    /// # Errors
    /// Any [`ProjectionError`]; the event's position is added when it names none.
    fn apply(
        &self,
        batch: &mut SearchBatch<Self::Document>,
        event: &Envelope<'_, Self::Event>,
    ) -> Result<(), ProjectionError>;

    /// Applies a batch, in feed order; by default one event at a time.
    ///
    /// # Errors
    /// A [`ProjectionError`] naming the failing event's position where known.
    fn apply_batch(
        &self,
        batch: &mut SearchBatch<Self::Document>,
        events: &[Envelope<'_, Self::Event>],
    ) -> Result<(), ProjectionError> {
        for event in events {
            self.apply(batch, event)
                .map_err(|e| e.or_at(event.position))?;
        }
        Ok(())
    }
}

/// A [`TypedSearchProjection`] as the search store runs projections.
#[derive(Debug)]
pub struct TypedSearch<P>(pub P);

impl<P: TypedSearchProjection> Projection for TypedSearch<P> {
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

impl<P: TypedSearchProjection> SearchProjection for TypedSearch<P> {
    type Document = P::Document;

    fn schema(&self, schema: &mut SchemaBuilder) {
        self.0.schema(schema);
    }

    fn index(
        &self,
        document: &Self::Document,
        fields: &mut DocumentBuilder<'_>,
    ) -> Result<(), ProjectionError> {
        self.0.index(document, fields)
    }

    fn apply(
        &self,
        batch: &mut SearchBatch<Self::Document>,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let decoded = events
            .iter()
            .map(Envelope::decode)
            .collect::<Result<Vec<_>, _>>()?;
        let result = self.0.apply_batch(batch, &decoded);
        match (result, decoded.as_slice()) {
            (Err(error), [only]) => Err(error.or_at(only.position)),
            (result, _) => result,
        }
    }
}
