//! Opening both stores an application embeds from one directory.

use std::path::Path;
use std::sync::Arc;

use projector_core::{ReadStoreError, StoreError};

use crate::event_store::{SqliteEventStore, SqliteEventStoreOptions};
use crate::read_store::{SqliteReadStore, SqliteReadStoreOptions};

/// Why [`open_dir`] failed: which of the two stores would not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenDirError {
    /// The event store (`events.db`).
    #[error("cannot open the event store: {0}")]
    Events(#[from] StoreError),
    /// The read store (`read/`).
    #[error("cannot open the read store: {0}")]
    Reads(#[from] ReadStoreError),
}

/// The event store (`<dir>/events.db`) and the read store (`<dir>/read/`) of an application
/// that keeps both in one directory, with default options, shared as the projector needs.
///
/// # Errors
/// Either store's error; `dir` is created if missing.
pub fn open_dir(
    dir: impl AsRef<Path>,
) -> Result<(Arc<SqliteEventStore>, Arc<SqliteReadStore>), OpenDirError> {
    let dir = dir.as_ref();
    crate::connection::create_private_dir(dir)
        .map_err(|e| StoreError::unavailable("cannot create the directory", e))?;
    let events = SqliteEventStore::open(dir.join("events.db"), SqliteEventStoreOptions::default())?;
    let reads = SqliteReadStore::open(dir.join("read"), SqliteReadStoreOptions::default())?;
    Ok((Arc::new(events), Arc::new(reads)))
}
