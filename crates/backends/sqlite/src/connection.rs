//! Opening SQLite connections with the settings every file of this backend uses.

use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::durability::Durability;

/// How long a connection waits on another's lock before failing with `SQLITE_BUSY`.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (creating if needed) a read-write connection in WAL mode with `durability`. The file
/// is its owner's only (so are its `-wal` and `-shm` files, which SQLite makes with the
/// database file's mode).
pub(crate) fn open_writer(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    create_private_file(path).map_err(|e| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!(
                "cannot create {} for its owner only: {e}",
                path.display()
            )),
        )
    })?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets readers run beside the writer; the journal mode is a property of the file.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", durability.pragma())?;
    tune(&conn, WRITER_CACHE_KIB)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// [`open_writer`] for a file written to all the time (events, read models): its checkpoints
/// run on a thread of their own instead of inside every so many commits.
pub(crate) fn open_busy_writer(
    path: &Path,
    durability: Durability,
) -> rusqlite::Result<Connection> {
    let mut conn = open_writer(path, durability)?;
    crate::checkpointer::attach(&mut conn, path, durability)?;
    Ok(conn)
}

/// Opens a read-only connection to an existing database.
pub(crate) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    tune(&conn, READER_CACHE_KIB)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// The write connection's page cache. Writes touch the tails of a few indexes, and SQLite
/// sweeps the whole cache's hash table at every commit, so a small cache commits faster.
const WRITER_CACHE_KIB: i64 = 8 * 1024;
/// A read connection's page cache: reads range over the whole file.
const READER_CACHE_KIB: i64 = 64 * 1024;

/// Settings for speed that do not weaken durability: the page cache, in KiB, and temporary
/// tables in memory.
fn tune(conn: &Connection, cache_kib: i64) -> rusqlite::Result<()> {
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // One plan per statement, whatever is bound to it. Without this SQLite plans a bound
    // `LIMIT ?` (and a few other parameters) for the value bound, and so prepares a cached
    // statement again each time it is reused: every stream and feed read paid a parse.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

/// Creates the database file at `path` readable by its owner only (`0600`), or takes the
/// group's and others' access away from an existing one and its `-wal` and `-shm` files:
/// events, read models and idempotency keys are the application's data, not the machine's.
pub(crate) fn create_private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path)?;
        let mut files = vec![path.to_path_buf()];
        for suffix in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            files.push(name.into());
        }
        for file in files {
            let Ok(metadata) = std::fs::metadata(&file) else {
                continue;
            };
            let mode = metadata.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o700))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates `dir` and its missing parents readable by their owner only: events, read models
/// and idempotency keys are the application's data, not the machine's.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;

    /// The feed and stream reads bind their `LIMIT`: reused from the statement cache with
    /// other values, they run as prepared, never prepared again.
    #[test]
    fn cached_reads_with_a_bound_limit_are_not_prepared_again() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("events.db");
        let writer = open_writer(&path, Durability::Normal).expect("the writer");
        writer
            .execute_batch(include_str!("sql/events_schema.sql"))
            .expect("the schema");
        let reader = open_reader(&path).expect("a reader");
        for limit in [1_i64, 0, 500, 1, 2] {
            let mut feed = reader
                .prepare_cached(include_str!("sql/read_all.sql"))
                .expect("the feed read");
            feed.query(rusqlite::params![0_i64, limit])
                .expect("read")
                .next()
                .expect("a step");
            assert_eq!(
                feed.get_status(StatementStatus::RePrepare),
                0,
                "LIMIT {limit}"
            );
            let mut stream = reader
                .prepare_cached(include_str!("sql/read_stream_forwards.sql"))
                .expect("the stream read");
            stream
                .query(rusqlite::params!["order-1", 1_i64, limit])
                .expect("read")
                .next()
                .expect("a step");
            assert_eq!(
                stream.get_status(StatementStatus::RePrepare),
                0,
                "LIMIT {limit}"
            );
        }
    }
}
