//! SQLite stores on real files, laid out as the server lays out its data directory: the event
//! store in `events.db`, the read store under `read/`.
//!
//! Every suite opens its SQLite stores with these, so a store opened in a test is the store a
//! user runs.

use std::path::Path;
use std::sync::Arc;

use projector_core::ReadStoreError;
use projector_sqlite::{
    SqliteEventStore, SqliteEventStoreOptions, SqliteReadStore, SqliteReadStoreOptions,
};
use tempfile::TempDir;

use crate::temp_dir;

/// The event store of the data directory `dir` (`events.db`), with the default options.
///
/// A second writer on the same file is refused while the first lives.
pub fn event_store(dir: &Path) -> SqliteEventStore {
    event_store_with(dir, SqliteEventStoreOptions::default())
}

/// The event store of the data directory `dir` (`events.db`), with `options`.
pub fn event_store_with(dir: &Path, options: SqliteEventStoreOptions) -> SqliteEventStore {
    SqliteEventStore::open(dir.join("events.db"), options).expect("event store")
}

/// The read store of the data directory `dir` (`read/`), with the default options.
pub fn read_store(dir: &Path) -> SqliteReadStore {
    SqliteReadStore::open(dir.join("read"), SqliteReadStoreOptions::default()).expect("read store")
}

/// The read store of the data directory `dir` (`read/`) opened read-only, as a read node or a
/// test looking over a running server's shoulder opens it.
///
/// # Errors
/// While the server has not made its read store yet.
pub fn read_only_read_store(dir: &Path) -> Result<SqliteReadStore, ReadStoreError> {
    let options = SqliteReadStoreOptions {
        read_only: true,
        ..SqliteReadStoreOptions::default()
    };
    SqliteReadStore::open(dir.join("read"), options)
}

/// Both stores of a fresh data directory, and the directory, which must outlive them.
pub fn stores() -> (TempDir, Arc<SqliteEventStore>, Arc<SqliteReadStore>) {
    let dir = temp_dir();
    let events = Arc::new(event_store(dir.path()));
    let reads = Arc::new(read_store(dir.path()));
    (dir, events, reads)
}
