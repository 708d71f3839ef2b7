//! [`SearchProjection`]: a projection whose read model is a search index of documents keyed by
//! id, and how the store runs one.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use projector_core::{Projection, ProjectionError, RecordedEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tantivy::Searcher;
use tantivy::schema::{Schema, SchemaBuilder};

use crate::batch::SearchBatch;
use crate::document::{DocumentBuilder, Reserved};
use crate::generation::Change;

/// A projection whose read model is a search index: documents keyed by a string id, each kept
/// whole as its source (JSON) and indexed in the fields the projection declares.
///
/// The methods are synchronous: the index is on local disk, so the store runs a batch on a
/// blocking thread from the first `get` to the commit. `apply` must have no other side
/// effects, because a failed batch is applied again; a panic in it is a failure of the batch
/// like any other.
pub trait SearchProjection: Projection {
    /// A document as the index keeps its source.
    type Document: Clone + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Adds the fields it indexes (the store adds the key `_id` and the source `_source`).
    fn schema(&self, schema: &mut SchemaBuilder);

    /// The indexed fields of `document`: a pure function of it.
    ///
    /// # Errors
    /// A [`ProjectionError`] for a document it cannot index (a field its schema lacks).
    fn index(
        &self,
        document: &Self::Document,
        fields: &mut DocumentBuilder<'_>,
    ) -> Result<(), ProjectionError>;

    /// Applies a batch of events (in feed order, only those that pass
    /// [`Projection::handles`]) to the documents of `batch`.
    ///
    /// # Errors
    /// A [`ProjectionError`] naming the failing event's position where known, so the projector
    /// can keep the rest of the batch and isolate the event.
    fn apply(
        &self,
        batch: &mut SearchBatch<Self::Document>,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError>;
}

/// A search projection as the store runs it, whatever its documents.
pub(crate) trait Indexer: Projection {
    /// The schema of its index: the store's fields and its own.
    fn full_schema(&self) -> Result<Schema, crate::SearchError>;

    /// The changed documents of a batch over what `searcher` reads, indexed for `schema`.
    fn changes(
        &self,
        searcher: &Searcher,
        reserved: Reserved,
        schema: &Schema,
        events: &[RecordedEvent],
    ) -> Result<Vec<Change>, ProjectionError>;
}

impl<P: SearchProjection> Indexer for P {
    fn full_schema(&self) -> Result<Schema, crate::SearchError> {
        crate::document::schema(|schema| self.schema(schema))
    }

    fn changes(
        &self,
        searcher: &Searcher,
        reserved: Reserved,
        schema: &Schema,
        events: &[RecordedEvent],
    ) -> Result<Vec<Change>, ProjectionError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut batch = SearchBatch::new(searcher.clone(), reserved);
        catch_unwind(AssertUnwindSafe(|| self.apply(&mut batch, events)))
            .unwrap_or_else(|panic| Err(ProjectionError::panicked(panic.as_ref())))?;
        index_all(self, batch.into_changes(), reserved, schema)
    }
}

/// Each changed document indexed: the key, and the source with its indexed fields.
fn index_all<P: SearchProjection>(
    projection: &P,
    changes: BTreeMap<String, Option<P::Document>>,
    reserved: Reserved,
    schema: &Schema,
) -> Result<Vec<Change>, ProjectionError> {
    changes
        .into_iter()
        .map(|(key, document)| {
            let document = match document {
                None => None,
                Some(document) => {
                    let source = serde_json::to_string(&document).map_err(|e| {
                        ProjectionError::new(format!("the document {key:?} does not encode: {e}"))
                    })?;
                    let mut fields = DocumentBuilder::new(schema);
                    catch_unwind(AssertUnwindSafe(|| {
                        projection.index(&document, &mut fields)
                    }))
                    .unwrap_or_else(|panic| Err(ProjectionError::panicked(panic.as_ref())))
                    .map_err(|e| ProjectionError {
                        message: format!("indexing the document {key:?}: {}", e.message),
                        ..e
                    })?;
                    Some(fields.finish(reserved, &key, &source))
                }
            };
            Ok(Change { key, document })
        })
        .collect()
}
