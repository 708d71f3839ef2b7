//! The data directory: `events.db` (the event store), `idempotency.db`, `read/` (the read
//! models) and `search/` (the search indexes, this process's own on either backend).

use std::path::{Path, PathBuf};

use anyhow::Context;
use projector_search::SearchStore;
use projector_sqlite::{
    Durability, SqliteControls, SqliteEventStore, SqliteEventStoreOptions, SqliteIdempotencyStore,
    SqliteReadStore, SqliteReadStoreOptions,
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

    /// Takes the group's and others' access away from an existing data directory and
    /// everything in it (made by hand, or by an older version), saying so in the log; the
    /// stores create a missing one, and their files, for their owner only.
    ///
    /// # Errors
    /// A file or directory in it whose mode cannot be read or changed.
    pub(crate) fn make_private(&self) -> anyhow::Result<()> {
        if !self.root.is_dir() {
            return Ok(());
        }
        let tightened = tighten(&self.root)
            .with_context(|| format!("making {} its owner's only", self.root.display()))?;
        if tightened > 0 {
            tracing::warn!(
                data = %self.root.display(),
                tightened,
                "the data directory was open to other users: tightened it to its owner only \
                 (0700 directories, 0600 files)"
            );
        }
        Ok(())
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
    /// The projection controls (pauses), in the read models' catalog database.
    pub(crate) fn open_controls(&self) -> anyhow::Result<SqliteControls> {
        SqliteControls::open(self.read_dir()).with_context(|| {
            format!(
                "opening the projection controls in {}",
                self.read_dir().display()
            )
        })
    }

    pub(crate) fn open_reads(&self) -> anyhow::Result<SqliteReadStore> {
        SqliteReadStore::open(self.read_dir(), SqliteReadStoreOptions::default())
            .with_context(|| format!("opening the read models in {}", self.read_dir().display()))
    }
}

/// Takes the group's and others' bits off `path` and, for a directory, everything under it
/// (symbolic links are left alone); returns how many entries changed.
///
/// A running server may remove files as this walks (a search index merging its segments, a
/// log file after a checkpoint): an entry that is gone needs no tightening.
#[cfg(unix)]
fn tighten(path: &Path) -> std::io::Result<usize> {
    match tighten_present(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        other => other,
    }
}

#[cfg(unix)]
fn tighten_present(path: &Path) -> std::io::Result<usize> {
    use std::os::unix::fs::PermissionsExt;

    let metadata = std::fs::symlink_metadata(path)?;
    if metadata.file_type().is_symlink() {
        return Ok(0);
    }
    let mut tightened = 0;
    let mode = metadata.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7700))?;
        tightened += 1;
    }
    if metadata.is_dir() {
        for entry in std::fs::read_dir(path)? {
            tightened += tighten(&entry?.path())?;
        }
    }
    Ok(tightened)
}

#[cfg(not(unix))]
fn tighten(_path: &Path) -> std::io::Result<usize> {
    Ok(0)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// An entry a running server removed while the walk was on its way is skipped, not an
    /// error: `status` beside a live server read such a race as a failure.
    #[test]
    fn entries_that_are_gone_are_skipped_and_the_rest_tightened() {
        let dir = tempfile::tempdir().expect("a directory");
        let file = dir.path().join("segment");
        std::fs::write(&file, "x").expect("a file");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("mode");
        assert_eq!(
            tighten(&dir.path().join("merged-away")).expect("skipped"),
            0
        );
        assert!(tighten(dir.path()).expect("tightened") >= 1);
        let mode = std::fs::metadata(&file).expect("file").permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}
