//! The data directory: `events.db` (the event store) and `read/` (the read models), and the
//! projections the built-in services run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use projector_core::ProjectionName;
use projector_sql::SqlProjection;
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

    /// Opens the read store for projecting.
    pub(crate) fn open_reads(&self) -> anyhow::Result<SqliteReadStore> {
        SqliteReadStore::open(self.read_dir(), SqliteReadStoreOptions::default())
            .with_context(|| format!("opening the read models in {}", self.read_dir().display()))
    }
}

/// The projections of the built-in services, or the named subset of them.
pub(crate) fn projections(names: &[String]) -> anyhow::Result<Vec<Arc<dyn SqlProjection>>> {
    let mut all = projector_orders::projections::all();
    all.extend(projector_issues::projections::all());
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|name| {
            let name = ProjectionName::parse(name.as_str())
                .with_context(|| format!("projection {name:?}"))?;
            all.iter()
                .find(|p| p.name() == name)
                .cloned()
                .with_context(|| {
                    let known: Vec<String> = all.iter().map(|p| p.name().to_string()).collect();
                    format!("no projection named {name}; known: {}", known.join(", "))
                })
        })
        .collect()
}
