//! Search read models for projector: full-text indexes that projections keep current, one
//! per process, on local disk.
//!
//! A [`SearchProjection`] (or a [`TypedSearchProjection`], fed decoded events) keeps documents
//! keyed by a string id through a [`SearchBatch`]: it `get`s a document as it was (seeing the
//! batch's own changes first), changes it, and `put`s it back or `delete`s it. Each document
//! is kept whole as its JSON source, so a partial update (an order shipped, a price changed)
//! needs no other store, and indexed in the fields the projection declares. A
//! [`SearchTarget`] binds it to a [`SearchStore`] for the projector, which drives it like any
//! other kind of read model (`projector_core::ProjectionTarget`). Queries take a
//! [`SearchRead`]: a tantivy searcher of the serving generation with the checkpoint it
//! reflects. The crate re-exports [`tantivy`], so queries are written against the same
//! version.
//!
//! # What is atomic
//! - **a batch**: the changed documents and the checkpoint past the batch are one commit of
//!   the index; the checkpoint travels in the commit's payload, which the index writes with
//!   the commit's list of segments in one atomic file replace. A crash before the commit
//!   leaves the previous commit, documents and checkpoint alike, so the batch is applied again
//!   and nothing twice. Dead letters travel in the payload too, so a skip moves the checkpoint
//!   and records its letter together.
//! - **the catalog**: which generation serves and which are being built is a small file per
//!   projection, replaced atomically (written to a temporary file, synced, renamed over the
//!   old one, the directory synced). Creating, swapping and dropping generations check what the
//!   caller saw (`BuildInProgress`, `ServingChanged`, `CheckpointMoved`, `NoGeneration`).
//!
//! # Generations
//! Each generation is an index directory of its own (`<root>/<projection>/g<n>`). A rebuild
//! fills a new one beside the serving one; the swap rewrites the catalog, after which reads
//! take the new generation, and removes the old directory. A [`SearchRead`] taken before the
//! swap keeps reading the old generation whole: its files stay mapped until it is dropped.
//!
//! # Local to each process
//! The indexes live on the process's own disk, like a cache: with several processes on one
//! PostgreSQL database, each keeps and projects its own (no lease; see
//! `ProjectionTarget::local`), and each reports its own checkpoint. One process uses a store's
//! directory at a time: it holds the store's lock file, and a second process gets
//! [`SearchError::Locked`]. [`SearchStore::open_read_only`] reads the store beside it, for
//! reports.
//!
//! # Layout
//! - [`store`]: [`SearchStore`] (a directory of indexes, locked) and [`SearchStoreOptions`].
//! - [`projection`]: the [`SearchProjection`] trait; [`typed`]: [`TypedSearchProjection`];
//!   [`batch`]: [`SearchBatch`]; [`document`]: [`DocumentBuilder`] and the store's own fields.
//! - [`target`]: [`SearchTarget`], the projection bound to its store for the projector.
//! - [`read`]: [`SearchRead`], reads of the serving generation.
//! - [`error`]: [`SearchError`], why the store failed.
//! - `catalog`, `indexes`, `generation`: the catalog file, a projection's generations, and
//!   one open generation with its payload; `priority`: the index's own threads at a lower CPU
//!   priority.
//!
//! It is not:
//! - shared storage: every process builds its own indexes from the events;
//! - a search server: queries run in the process, against its own indexes.

pub mod batch;
mod catalog;
pub mod document;
pub mod error;
mod generation;
mod indexes;
mod priority;
pub mod projection;
pub mod read;
pub mod store;
pub mod target;
pub mod typed;

pub use batch::SearchBatch;
pub use document::{DocumentBuilder, ID_FIELD, SOURCE_FIELD};
pub use error::SearchError;
pub use projection::SearchProjection;
pub use read::SearchRead;
pub use store::{SearchStore, SearchStoreOptions};
pub use target::SearchTarget;
pub use typed::{TypedSearch, TypedSearchProjection};

/// The search library the indexes are written with, for queries against the same version.
pub use tantivy;
