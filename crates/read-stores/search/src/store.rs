//! [`SearchStore`]: a directory of search indexes, one subdirectory per projection and one
//! index per generation, used by one process at a time.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use projector_core::{Generation, ProjectionName, ReadStoreError};

use crate::error::SearchError;
use crate::generation::generation_dir;
use crate::indexes::ProjectionIndexes;
use crate::read::SearchRead;

/// The file whose lock marks the store as one process's.
const LOCK_FILE: &str = "lock";

/// How a [`SearchStore`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchStoreOptions {
    /// How much a generation's writer buffers in memory before it writes a segment, in bytes;
    /// at least 15 MB. Default: 32 MiB.
    pub writer_memory: usize,
    /// The shortest time between two commits at the head of the feed: each commit writes a
    /// segment (and makes a fresh writer buffer), so live events are gathered for this long
    /// into one commit, as a search server's refresh interval does. Under load the time
    /// stretches to ten times what the last commit took (up to a second, or this interval if
    /// longer), so commits take at most about a tenth of the index's time. A search waiting
    /// for a position waits up to that much longer. Default: 100 ms.
    pub commit_interval: Duration,
    /// How much lower the CPU priority of the index's writing (indexing and merging threads)
    /// is than the rest of the process's, as a nice increment on Linux (ignored elsewhere).
    /// Under CPU pressure the event store's writer and the SQL read models then come first,
    /// and the index catches up in larger batches; on an idle CPU it changes nothing. 0 keeps
    /// them equal. Default: 10.
    pub indexing_nice: u8,
}

impl Default for SearchStoreOptions {
    fn default() -> Self {
        Self {
            writer_memory: 32 << 20,
            commit_interval: Duration::from_millis(100),
            indexing_nice: 10,
        }
    }
}

/// A directory of search indexes. Cloning shares it.
///
/// Layout: `<root>/lock`, and per projection `<root>/<projection>/catalog.json` and one index
/// directory per generation, `<root>/<projection>/g<n>/`.
#[derive(Clone)]
pub struct SearchStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    /// `None` when read-only.
    options: Option<SearchStoreOptions>,
    /// Held (locked) while the store is open for writing.
    _lock: Option<File>,
    projections: Mutex<HashMap<ProjectionName, Arc<ProjectionIndexes>>>,
}

impl std::fmt::Debug for SearchStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchStore")
            .field("root", &self.inner.root)
            .field("read_only", &self.inner.options.is_none())
            .finish_non_exhaustive()
    }
}

impl SearchStore {
    /// Opens the store in `root` (created owner-only if missing) with default options, for
    /// this process alone.
    ///
    /// # Errors
    /// [`SearchError::Locked`] when another process has it open; [`SearchError::Io`] when the
    /// directory cannot be made or locked.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, SearchError> {
        Self::open_with(root, SearchStoreOptions::default())
    }

    /// Opens the store in `root` with `options`, for this process alone.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(
        root: impl Into<PathBuf>,
        options: SearchStoreOptions,
    ) -> Result<Self, SearchError> {
        let root = root.into();
        create_private_dir(&root).map_err(SearchError::io("creating the search store", &root))?;
        let path = root.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(SearchError::io(
                "opening the lock of the search store",
                &path,
            ))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(SearchError::Locked { root }),
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(SearchError::io("locking the search store", &path)(error));
            }
        }
        Ok(Self::new(root, Some(options), Some(lock)))
    }

    /// Opens the store in `root` to read it beside the process that writes it (for reports):
    /// each projection's catalog and checkpoints as they are when first read. Writes are
    /// refused with [`SearchError::ReadOnly`]; a missing directory holds nothing.
    pub fn open_read_only(root: impl Into<PathBuf>) -> Self {
        Self::new(root.into(), None, None)
    }

    fn new(root: PathBuf, options: Option<SearchStoreOptions>, lock: Option<File>) -> Self {
        Self {
            inner: Arc::new(Inner {
                root,
                options,
                _lock: lock,
                projections: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The options it writes with; `None` when read-only.
    pub fn options(&self) -> Option<SearchStoreOptions> {
        self.inner.options
    }

    /// The directory of one generation's index.
    pub fn generation_dir(&self, projection: &ProjectionName, generation: Generation) -> PathBuf {
        generation_dir(&self.inner.root.join(projection.as_str()), generation)
    }

    /// A read of the generation serving `projection`'s reads, as its last commit left it
    /// (see [`SearchRead`]). The first read of a projection opens its index.
    ///
    /// # Errors
    /// `ReadStoreError::NoGeneration` when no generation serves yet; `Unavailable` when the
    /// index cannot be opened.
    pub fn read(&self, projection: &ProjectionName) -> Result<SearchRead, ReadStoreError> {
        let (serving, index) = self.indexes(projection).serving_index()?;
        Ok(SearchRead::new(serving, &index))
    }

    /// The generations of `projection` in this store, shared by every target of it.
    pub(crate) fn indexes(&self, projection: &ProjectionName) -> Arc<ProjectionIndexes> {
        let mut projections = self
            .inner
            .projections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(projections.entry(projection.clone()).or_insert_with(|| {
            Arc::new(ProjectionIndexes::new(
                projection.clone(),
                self.inner.root.join(projection.as_str()),
                self.inner.options,
            ))
        }))
    }
}

/// Creates `dir` and its missing parents readable by their owner only: the indexes hold the
/// application's data.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
