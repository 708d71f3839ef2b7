//! One generation's index, open: a reader reloaded after each commit, a writer made on the
//! first write, and what the last commit recorded besides documents (its [`Payload`]).
//!
//! The checkpoint and the dead letters travel in the commit's payload, which the index
//! library writes with the commit's list of segments in one atomic file replace: a batch's
//! documents and the checkpoint past it become durable together, and a crash before the
//! commit leaves the previous commit, documents and checkpoint alike.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use projector_core::{
    ApplyError, Checkpoint, DeadLetter, Generation, GlobalPosition, ProjectionError,
    ProjectionName, ReadStoreError,
};
use serde::{Deserialize, Serialize};
use tantivy::indexer::IndexWriterOptions;
use tantivy::schema::Schema;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument};

use crate::document::Reserved;
use crate::error::SearchError;
use crate::priority;
use crate::store::SearchStoreOptions;

/// What a commit records besides its documents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Payload {
    /// Every event up to here is in the commit's documents.
    pub(crate) checkpoint: Checkpoint,
    /// The generation's dead letters, by position.
    #[serde(default)]
    pub(crate) dead_letters: Vec<DeadLetter>,
}

/// A document a batch changed: its new indexed form, or `None` when it was deleted.
#[derive(Debug)]
pub(crate) struct Change {
    pub(crate) key: String,
    pub(crate) document: Option<TantivyDocument>,
}

/// What reads see: a searcher and the checkpoint of the commit it reflects.
#[derive(Clone)]
pub(crate) struct View {
    pub(crate) searcher: Searcher,
    pub(crate) checkpoint: Checkpoint,
}

/// An open generation.
pub(crate) struct GenerationIndex {
    projection: ProjectionName,
    generation: Generation,
    index: Index,
    reserved: Reserved,
    reader: IndexReader,
    options: Option<SearchStoreOptions>,
    writing: Mutex<Writing>,
    /// The last commit's payload, and what reads see (the same commit, unless reloading the
    /// reader after it failed).
    committed: RwLock<(Arc<Payload>, View)>,
}

/// The writer, and whether the generation was dropped (writes to it are then refused).
struct Writing {
    writer: Option<IndexWriter>,
    dropped: bool,
}

impl std::fmt::Debug for GenerationIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerationIndex")
            .field("projection", &self.projection)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl GenerationIndex {
    /// Creates an empty index of `schema` in `dir`, at checkpoint zero.
    pub(crate) fn create(
        projection: &ProjectionName,
        generation: Generation,
        dir: &Path,
        schema: Schema,
        options: SearchStoreOptions,
    ) -> Result<Self, SearchError> {
        crate::store::create_private_dir(dir)
            .map_err(SearchError::io("creating the index", dir))?;
        let index =
            Index::create_in_dir(dir, schema).map_err(SearchError::index("creating the index"))?;
        Self::from_index(projection, generation, index, Some(options))
    }

    /// Opens the index in `dir` at its last commit; with `options`, for writing too.
    pub(crate) fn open(
        projection: &ProjectionName,
        generation: Generation,
        dir: &Path,
        options: Option<SearchStoreOptions>,
    ) -> Result<Self, SearchError> {
        let index = Index::open_in_dir(dir).map_err(SearchError::index("opening the index"))?;
        Self::from_index(projection, generation, index, options)
    }

    fn from_index(
        projection: &ProjectionName,
        generation: Generation,
        index: Index,
        options: Option<SearchStoreOptions>,
    ) -> Result<Self, SearchError> {
        let reserved = Reserved::of(&index.schema())?;
        let payload = decode(
            index
                .load_metas()
                .map_err(SearchError::index("reading the last commit"))?
                .payload,
        )?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(SearchError::index("opening a reader"))?;
        let view = View {
            searcher: reader.searcher(),
            checkpoint: payload.checkpoint,
        };
        Ok(Self {
            projection: projection.clone(),
            generation,
            index,
            reserved,
            reader,
            options,
            writing: Mutex::new(Writing {
                writer: None,
                dropped: false,
            }),
            committed: RwLock::new((Arc::new(payload), view)),
        })
    }

    /// The index's schema: the store's fields and the projection's.
    pub(crate) fn schema(&self) -> Schema {
        self.index.schema()
    }

    pub(crate) fn reserved(&self) -> Reserved {
        self.reserved
    }

    /// The last commit's payload.
    pub(crate) fn payload(&self) -> Arc<Payload> {
        Arc::clone(
            &self
                .committed
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .0,
        )
    }

    /// What reads see now.
    pub(crate) fn view(&self) -> View {
        self.committed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clone()
    }

    /// Applies the documents `changes` computes from the last commit's searcher, and moves the
    /// checkpoint from `from` to `to`, in one commit; refused when the checkpoint is not at
    /// `from` or the generation was dropped.
    pub(crate) fn apply(
        &self,
        from: GlobalPosition,
        to: Checkpoint,
        changes: impl FnOnce(&Searcher) -> Result<Vec<Change>, ProjectionError>,
    ) -> Result<(), ApplyError> {
        let mut writing = self.writing();
        let payload = self.fence(&writing, from)?;
        let view = self.current_view().map_err(ReadStoreError::from)?;
        let changes = changes(&view.searcher)?;
        let next = Payload {
            checkpoint: to,
            dead_letters: payload.dead_letters.clone(),
        };
        Ok(self.commit(&mut writing, changes, next)?)
    }

    /// Records `letter` (adding to the attempts of one at the same position), moving the
    /// checkpoint from `from` to `skip_to` if set, in one commit.
    pub(crate) fn record(
        &self,
        letter: DeadLetter,
        from: GlobalPosition,
        skip_to: Option<Checkpoint>,
    ) -> Result<(), ReadStoreError> {
        let mut writing = self.writing();
        let payload = self.fence(&writing, from)?;
        let mut letters = payload.dead_letters.clone();
        match letters.iter_mut().find(|l| l.position == letter.position) {
            Some(known) => {
                known.attempts = known.attempts.saturating_add(letter.attempts);
                known.error = letter.error;
                known.last_failed_at = letter.last_failed_at;
                known.skipped = letter.skipped;
            }
            None => letters.push(letter),
        }
        letters.sort_by_key(|l| l.position);
        let next = Payload {
            checkpoint: skip_to.unwrap_or(payload.checkpoint),
            dead_letters: letters,
        };
        self.commit(&mut writing, Vec::new(), next)
    }

    /// Applies the documents `changes` computes for a dead letter's event and deletes the
    /// letter at `position`, moving the checkpoint from `from` to `to` when set, in one
    /// commit; refused when the checkpoint is not at `from` or there is no such letter.
    pub(crate) fn retry(
        &self,
        position: GlobalPosition,
        from: GlobalPosition,
        to: Option<Checkpoint>,
        changes: impl FnOnce(&Searcher) -> Result<Vec<Change>, ProjectionError>,
    ) -> Result<(), ApplyError> {
        let mut writing = self.writing();
        let payload = self.fence(&writing, from)?;
        let mut letters = payload.dead_letters.clone();
        let before = letters.len();
        letters.retain(|l| l.position != position);
        if letters.len() == before {
            return Err(ReadStoreError::NoDeadLetter {
                projection: self.projection.clone(),
                position,
            }
            .into());
        }
        let view = self.current_view().map_err(ReadStoreError::from)?;
        let changes = changes(&view.searcher)?;
        let next = Payload {
            checkpoint: to.unwrap_or(payload.checkpoint),
            dead_letters: letters,
        };
        Ok(self.commit(&mut writing, changes, next)?)
    }

    /// Retires the generation if its checkpoint is still `at`: runs `leave` (taking it out of
    /// the catalog) while no write can commit, then refuses writes from now on and closes the
    /// writer. Nothing changes when the checkpoint moved or `leave` fails.
    pub(crate) fn retire_at(
        &self,
        at: GlobalPosition,
        leave: impl FnOnce() -> Result<(), ReadStoreError>,
    ) -> Result<(), ReadStoreError> {
        let mut writing = self.writing();
        self.fence(&writing, at)?;
        leave()?;
        writing.dropped = true;
        writing.writer = None;
        Ok(())
    }

    fn writing(&self) -> MutexGuard<'_, Writing> {
        self.writing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The last commit's payload, if the generation is still there and its checkpoint is at
    /// `from`.
    fn fence(
        &self,
        writing: &Writing,
        from: GlobalPosition,
    ) -> Result<Arc<Payload>, ReadStoreError> {
        if writing.dropped {
            return Err(ReadStoreError::NoGeneration {
                projection: self.projection.clone(),
                generation: self.generation.to_string(),
            });
        }
        let payload = self.payload();
        if payload.checkpoint.position != from {
            return Err(ReadStoreError::CheckpointMoved {
                projection: self.projection.clone(),
                expected: from,
                found: payload.checkpoint.position,
            });
        }
        Ok(payload)
    }

    /// The view of the last commit, reloading the reader if an earlier reload failed: a batch
    /// must read what was committed last.
    fn current_view(&self) -> Result<View, SearchError> {
        let (payload, view) = self
            .committed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if view.checkpoint == payload.checkpoint {
            return Ok(view);
        }
        self.reload(&payload)
    }

    /// Reloads the reader after the commit of `payload`, and makes it what reads see.
    fn reload(&self, payload: &Arc<Payload>) -> Result<View, SearchError> {
        self.reader
            .reload()
            .map_err(SearchError::index("reloading the reader"))?;
        let view = View {
            searcher: self.reader.searcher(),
            checkpoint: payload.checkpoint,
        };
        let mut committed = self
            .committed
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *committed = (Arc::clone(payload), view.clone());
        Ok(view)
    }

    /// Deletes the changed keys' documents, adds their new ones and commits them with `next`;
    /// on failure rolls the writer back, so nothing of the batch stays pending. The writer is
    /// made and used at the index's lower CPU priority (see [`priority`](crate::priority)).
    fn commit(
        &self,
        writing: &mut Writing,
        changes: Vec<Change>,
        next: Payload,
    ) -> Result<(), ReadStoreError> {
        let payload = serde_json::to_string(&next)
            .map_err(|e| SearchError::Corrupt(format!("a payload that does not encode: {e}")))?;
        let nice = self.options.map_or(0, |options| options.indexing_nice);
        priority::lowered(nice, || self.write(writing, changes, &payload))??;
        let next = Arc::new(next);
        {
            let mut committed = self
                .committed
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            committed.0 = Arc::clone(&next);
        }
        if let Err(error) = self.reload(&next) {
            // Committed all the same; reads see the commit before until a reload succeeds.
            tracing::warn!(projection = %self.projection, generation = %self.generation, %error,
                "the search index committed but its reader did not reload");
        }
        Ok(())
    }

    /// The writer's part of [`commit`](Self::commit): the changes and the commit of `payload`.
    fn write(
        &self,
        writing: &mut Writing,
        changes: Vec<Change>,
        payload: &str,
    ) -> Result<(), SearchError> {
        if writing.writer.is_none() {
            writing.writer = Some(self.writer()?);
        }
        let Some(writer) = writing.writer.as_mut() else {
            return Err(SearchError::ReadOnly);
        };
        let committed = (|| {
            for change in changes {
                writer.delete_term(self.reserved.key(&change.key));
                if let Some(document) = change.document {
                    writer.add_document(document)?;
                }
            }
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(payload);
            prepared.commit()
        })();
        if let Err(error) = committed {
            if writer.rollback().is_err() {
                // A writer that cannot roll back is closed; the next write opens another.
                writing.writer = None;
            }
            return Err(SearchError::index("committing a batch")(error));
        }
        Ok(())
    }

    fn writer(&self) -> Result<IndexWriter, SearchError> {
        let options = self.options.ok_or(SearchError::ReadOnly)?;
        self.index
            .writer_with_options(
                IndexWriterOptions::builder()
                    .memory_budget_per_thread(options.writer_memory)
                    .num_worker_threads(1)
                    .num_merge_threads(1)
                    .build(),
            )
            .map_err(SearchError::index("opening the index writer"))
    }
}

/// The payload of a commit; the index's first state (no commit yet) is at checkpoint zero.
fn decode(payload: Option<String>) -> Result<Payload, SearchError> {
    match payload {
        None => Ok(Payload::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            SearchError::Corrupt(format!("a commit payload that does not parse: {e}"))
        }),
    }
}

/// The directory of `generation` in a projection's directory `dir`.
pub(crate) fn generation_dir(dir: &Path, generation: Generation) -> PathBuf {
    dir.join(generation.to_string())
}
