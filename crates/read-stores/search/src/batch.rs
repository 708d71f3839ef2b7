//! [`SearchBatch`]: the documents one batch reads and changes, keyed by id.

use std::collections::BTreeMap;

use projector_core::ProjectionError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::schema::Value;
use tantivy::{Searcher, TantivyDocument};

use crate::document::Reserved;

/// The documents a batch changes, over the generation as its last commit left it.
///
/// [`get`](Self::get) sees the batch's own changes first (a document put or deleted earlier in
/// the batch), then the last commit. At the end of the batch the store deletes every changed
/// key's old document and adds the new ones, and commits them with the checkpoint.
#[derive(Debug)]
pub struct SearchBatch<D> {
    searcher: Searcher,
    reserved: Reserved,
    changes: BTreeMap<String, Option<D>>,
}

impl<D: Clone + Serialize + DeserializeOwned> SearchBatch<D> {
    pub(crate) fn new(searcher: Searcher, reserved: Reserved) -> Self {
        Self {
            searcher,
            reserved,
            changes: BTreeMap::new(),
        }
    }

    /// The document keyed `id`: as this batch last put it, `None` if this batch deleted it,
    /// else as the last commit holds it.
    ///
    /// # Errors
    /// A transient [`ProjectionError`] when the index cannot be read (the batch is tried
    /// again); a permanent one when the stored source is not a document of this type.
    pub fn get(&self, id: &str) -> Result<Option<D>, ProjectionError> {
        if let Some(changed) = self.changes.get(id) {
            return Ok(changed.clone());
        }
        let Some(source) =
            source(&self.searcher, self.reserved, id).map_err(|message| ProjectionError {
                position: None,
                transient: true,
                message,
            })?
        else {
            return Ok(None);
        };
        serde_json::from_str(&source).map(Some).map_err(|e| {
            ProjectionError::new(format!("the document {id:?} does not read back: {e}"))
        })
    }

    /// Puts `document` under `id`, in place of what was there.
    pub fn put(&mut self, id: impl Into<String>, document: D) {
        self.changes.insert(id.into(), Some(document));
    }

    /// Deletes the document keyed `id`, if there is one.
    pub fn delete(&mut self, id: impl Into<String>) {
        self.changes.insert(id.into(), None);
    }

    /// How many documents the batch changes.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether the batch changes no document.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes, by key: the new document, or `None` for a deletion.
    pub(crate) fn into_changes(self) -> BTreeMap<String, Option<D>> {
        self.changes
    }
}

/// The source of the document keyed `id` in what `searcher` reads.
pub(crate) fn source(
    searcher: &Searcher,
    reserved: Reserved,
    id: &str,
) -> Result<Option<String>, String> {
    let query = TermQuery::new(reserved.key(id), IndexRecordOption::Basic);
    let hits = searcher
        .search(&query, &TopDocs::with_limit(1).order_by_score())
        .map_err(|e| format!("looking up the document {id:?}: {e}"))?;
    let Some((_, address)) = hits.first() else {
        return Ok(None);
    };
    let document: TantivyDocument = searcher
        .doc(*address)
        .map_err(|e| format!("reading the document {id:?}: {e}"))?;
    document
        .get_first(reserved.source)
        .and_then(|value| value.as_str().map(str::to_owned))
        .map(Some)
        .ok_or_else(|| format!("the document {id:?} has no source"))
}
