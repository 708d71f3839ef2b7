//! Temporary directories for the stores that live in files (SQLite, the search index).

use tempfile::TempDir;

/// A fresh temporary directory, removed with everything in it when dropped.
pub fn temp_dir() -> TempDir {
    tempfile::tempdir().expect("temporary directory")
}
