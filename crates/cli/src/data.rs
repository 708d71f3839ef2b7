//! The data directory: `events.db` (the event store), `idempotency.db`, `read/` (the read
//! models) and `search/` (the search indexes, this process's own on either backend).

use std::path::{Path, PathBuf};

use anyhow::Context;
use projector_search::SearchStore;
use projector_sqlite::{
    Durability, SqliteEventStore, SqliteEventStoreOptions, SqliteIdempotencyStore, SqliteReadStore,
    SqliteReadStoreOptions,
};

/// A data directory.
#[derive(Clone, Debug)]
pub(crate) struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn events_path(&self) -> PathBuf {
        self.root.join("events.db")
    }

    pub(crate) fn read_dir(&self) -> PathBuf {
        self.root.join("read")
    }

    pub(crate) fn search_dir(&self) -> PathBuf {
        self.root.join("search")
    }

    /// Opens the event store for appending (this process becomes its only writer).
    pub(crate) fn open_events(&self, durability: Durability) -> anyhow::Result<SqliteEventStore> {
        let options = SqliteEventStoreOptions {
            durability,
            ..SqliteEventStoreOptions::default()
        };
        SqliteEventStore::open(self.events_path(), options)
            .with_context(|| format!("opening the event store in {}", self.root.display()))
    }

    /// Opens the store of idempotency keys.
    pub(crate) fn open_idempotency(&self) -> anyhow::Result<SqliteIdempotencyStore> {
        SqliteIdempotencyStore::open(self.root.join("idempotency.db"))
            .with_context(|| format!("opening the idempotency keys in {}", self.root.display()))
    }

    /// Opens the search indexes for this process alone.
    pub(crate) fn open_search(&self) -> anyhow::Result<SearchStore> {
        SearchStore::open(self.search_dir()).with_context(|| {
            "opening the search indexes (each process needs a data directory of its own: --data)"
        })
    }

    /// Opens the read store for projecting.
    pub(crate) fn open_reads(&self) -> anyhow::Result<SqliteReadStore> {
        SqliteReadStore::open(self.read_dir(), SqliteReadStoreOptions::default())
            .with_context(|| format!("opening the read models in {}", self.read_dir().display()))
    }
}
