//! [`SearchRead`]: a searcher of the generation serving a projection's reads, with the
//! checkpoint it reflects.

use projector_core::{Checkpoint, Generation, ReadStoreError, ServingGeneration};
use serde::de::DeserializeOwned;
use tantivy::schema::{Schema, Value};
use tantivy::{DocAddress, Searcher, TantivyDocument};

use crate::batch::source;
use crate::document::Reserved;
use crate::generation::GenerationIndex;

/// A read of one generation as one commit left it: a tantivy [`Searcher`] and the
/// checkpoint of that commit, taken together, so the answer reflects every event up to
/// [`checkpoint`](Self::checkpoint) and no later one. The projector reloads the serving
/// generation's reader after each commit and a swap changes which generation serves; a
/// handle keeps reading what it was taken on, even once that generation is swapped out.
#[derive(Clone)]
pub struct SearchRead {
    searcher: Searcher,
    reserved: Reserved,
    generation: Generation,
    version: u32,
    checkpoint: Checkpoint,
}

impl std::fmt::Debug for SearchRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchRead")
            .field("generation", &self.generation)
            .field("version", &self.version)
            .field("checkpoint", &self.checkpoint)
            .finish_non_exhaustive()
    }
}

impl SearchRead {
    pub(crate) fn new(serving: ServingGeneration, index: &GenerationIndex) -> Self {
        let view = index.view();
        Self {
            searcher: view.searcher,
            reserved: index.reserved(),
            generation: serving.generation,
            version: serving.version,
            checkpoint: view.checkpoint,
        }
    }

    /// The searcher, to run queries with.
    pub fn searcher(&self) -> &Searcher {
        &self.searcher
    }

    /// The index's schema: the projection's fields, and the store's `_id` and `_source`.
    pub fn schema(&self) -> &Schema {
        self.searcher.schema()
    }

    /// The generation read.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The projection version that built it.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The checkpoint of the commit read: every event up to it, and none after it.
    pub fn checkpoint(&self) -> Checkpoint {
        self.checkpoint
    }

    /// The key and source of a hit.
    ///
    /// # Errors
    /// `ReadStoreError::Query` when the document cannot be read or its source is not a `D`.
    pub fn hit<D: DeserializeOwned>(
        &self,
        address: DocAddress,
    ) -> Result<(String, D), ReadStoreError> {
        let document: TantivyDocument = self
            .searcher
            .doc(address)
            .map_err(|e| query_error(format!("reading a hit: {e}")))?;
        let text = |field| {
            document
                .get_first(field)
                .and_then(|value| value.as_str().map(str::to_owned))
                .ok_or_else(|| query_error("a hit without its key or source".to_owned()))
        };
        let id = text(self.reserved.id)?;
        let source = text(self.reserved.source)?;
        let document = serde_json::from_str(&source)
            .map_err(|e| query_error(format!("the document {id:?} does not read back: {e}")))?;
        Ok((id, document))
    }

    /// The document keyed `id`, if there is one.
    ///
    /// # Errors
    /// `ReadStoreError::Query` when it cannot be read or its source is not a `D`.
    pub fn get<D: DeserializeOwned>(&self, id: &str) -> Result<Option<D>, ReadStoreError> {
        let Some(source) = source(&self.searcher, self.reserved, id).map_err(query_error)? else {
            return Ok(None);
        };
        serde_json::from_str(&source)
            .map(Some)
            .map_err(|e| query_error(format!("the document {id:?} does not read back: {e}")))
    }
}

/// A query that failed: the index could not be read, or holds what the reader does not expect.
pub(crate) fn query_error(message: String) -> ReadStoreError {
    ReadStoreError::Query {
        message,
        transient: false,
        source: None,
    }
}
