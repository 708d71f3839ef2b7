//! Why the search store failed, and how that becomes the projector's `ReadStoreError`.

use std::path::PathBuf;

use projector_core::ReadStoreError;

/// Why opening or writing the search store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// Another process (or another store in this one) has the store's directory.
    ///
    /// # Handling
    /// Stop that process, or give this one a directory of its own: each process keeps its own
    /// indexes.
    #[error(
        "the search indexes in {} are in use by another process; each process needs a \
         directory of its own", root.display()
    )]
    Locked {
        /// The store's directory.
        root: PathBuf,
    },

    /// A file of the store could not be read or written.
    ///
    /// # Handling
    /// Retry later (a full disk, a permission); the index keeps its last commit.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The index library failed.
    ///
    /// # Handling
    /// Retry later; the index keeps its last commit.
    #[error("{what}: {source}")]
    Index {
        /// What was being done.
        what: &'static str,
        /// The library's error.
        #[source]
        source: tantivy::TantivyError,
    },

    /// A file of the store does not hold what the store wrote there.
    ///
    /// # Handling
    /// A bug or a file edited by hand: move the projection's directory away and let the
    /// projector build it again from the events.
    #[error("the search store holds {0}")]
    Corrupt(String),

    /// No thread could be started to write the index on.
    ///
    /// # Handling
    /// Retry later (the process is at its limit of threads); the index keeps its last commit.
    #[error("starting a thread to write the index on: {0}")]
    Thread(#[source] std::io::Error),

    /// The store was opened read-only (to report on it beside the process that writes it).
    ///
    /// # Handling
    /// Write through the process that owns the store.
    #[error("the search store is open read-only")]
    ReadOnly,
}

impl SearchError {
    /// An I/O failure of `what` on `path`.
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| SearchError::Io { what, path, source }
    }

    /// A failure of the index library while doing `what`.
    pub(crate) fn index(what: &'static str) -> impl FnOnce(tantivy::TantivyError) -> Self {
        move |source| SearchError::Index { what, source }
    }
}

impl From<SearchError> for ReadStoreError {
    fn from(error: SearchError) -> Self {
        match error {
            SearchError::Corrupt(_) | SearchError::ReadOnly => ReadStoreError::Query {
                message: error.to_string(),
                transient: false,
                source: Some(Box::new(error)),
            },
            SearchError::Locked { .. }
            | SearchError::Io { .. }
            | SearchError::Index { .. }
            | SearchError::Thread(_) => ReadStoreError::Unavailable {
                message: error.to_string(),
                source: Some(Box::new(error)),
            },
        }
    }
}
