//! Copying a busy file's write-ahead log back into the database on a thread of its own.
//!
//! By default SQLite runs that copy (a checkpoint) inside the commit that takes the log past
//! 1 000 pages, so every so many commits one of them also writes those pages to the database
//! file and syncs it, and every caller queued behind that commit waits for it. Here the
//! committing connection only signals; a thread with its own connection runs a passive
//! checkpoint beside the next commits, which it never blocks. Should the log still grow to
//! [`INLINE_PAGES`] (the thread starved, say), the committing connection checkpoints inline,
//! as SQLite would have, so the log stays bounded.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, MAIN_DB, OpenFlags};

use crate::durability::Durability;

/// Log pages after which a commit asks for a checkpoint: SQLite's own threshold.
const SIGNAL_PAGES: i32 = 1_000;
/// Log pages after which the committing connection checkpoints inline.
const INLINE_PAGES: i32 = 4 * SIGNAL_PAGES;

/// Moves `conn`'s checkpoints to a thread with its own connection to `path`, opened with the
/// same `durability`, so a checkpoint syncs what SQLite's own would. The thread ends, and is
/// joined, when `conn` is closed.
pub(crate) fn attach(
    conn: &mut Connection,
    path: &Path,
    durability: Durability,
) -> rusqlite::Result<()> {
    let checkpointer = Checkpointer::spawn(path, durability)?;
    // The log's size at the last commit. The log starts over only once a checkpoint has
    // copied all of it, so its size stays past the threshold between checkpoints: the thread
    // is woken each time the log passes another multiple of it, as often as SQLite would.
    let mut last_pages = 0;
    conn.wal_hook(Some(move |wal: &mut Wal, pages: i32| {
        let crossed = pages / SIGNAL_PAGES > last_pages / SIGNAL_PAGES;
        last_pages = pages;
        if pages >= INLINE_PAGES {
            // The commit has happened whatever this returns: a failed checkpoint is retried
            // at the next commit, and must not be reported as the commit's failure.
            if let Err(error) = wal.checkpoint() {
                tracing::warn!(%error, pages, "an inline checkpoint failed");
            }
        } else if crossed {
            checkpointer.signal();
        }
        Ok(())
    }))
}

/// The checkpoint thread and the way to wake it.
struct Checkpointer {
    signals: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    fn spawn(path: &Path, durability: Durability) -> rusqlite::Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.pragma_update(None, "synchronous", durability.pragma())?;
        // One pending signal is enough: a checkpoint copies everything committed before it.
        let (signals, wakeups) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("projector-sqlite-checkpointer".into())
            .spawn(move || run(&conn, &wakeups))
            .map_err(|e| {
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!("cannot start the checkpoint thread: {e}")),
                )
            })?;
        Ok(Self {
            signals: Some(signals),
            thread: Some(thread),
        })
    }

    /// Wakes the thread, unless a wake-up is already pending.
    fn signal(&self) {
        if let Some(signals) = &self.signals {
            match signals.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => {
                    tracing::warn!("the checkpoint thread has stopped");
                }
            }
        }
    }
}

/// Runs a passive checkpoint at each wake-up: it copies what no reader still needs and never
/// waits for the writer or the readers.
fn run(conn: &Connection, wakeups: &Receiver<()>) {
    while wakeups.recv().is_ok() {
        // Commits made during a checkpoint are left for the next: one more pass copies that
        // short tail, so the log can start over at the writer's next commit.
        for _ in 0..2 {
            match conn.wal_checkpoint_v2(Some(MAIN_DB), CheckpointMode::PASSIVE) {
                Ok((log, copied)) if copied < log => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::debug!(%error, "a background checkpoint failed; the next one retries");
                    break;
                }
            }
        }
    }
}

impl Drop for Checkpointer {
    /// Stops the thread and waits for it, so no checkpoint outlives the writer's connection.
    fn drop(&mut self) {
        self.signals.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use projector_testkit::wait::eventually_sync;

    use super::*;

    /// Only a checkpoint writes pages into the database file; the writer's commits stop below
    /// the inline threshold, so the file can only grow if the thread copied the log. How much
    /// it holds at the end depends on where the last signal fell among the inserts, so the
    /// test asks only for what the first signal guarantees.
    #[tokio::test]
    async fn the_thread_copies_the_log_into_the_database_file() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("events.db");
        let mut writer =
            crate::connection::open_writer(&path, Durability::Normal).expect("the writer");
        attach(&mut writer, &path, Durability::Normal).expect("the checkpointer");
        writer
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            .expect("the schema");
        let body = "x".repeat(3_000);
        // About two log pages per insert: past the signal, short of the inline threshold.
        for _ in 0..1_000 {
            writer
                .execute("INSERT INTO t (body) VALUES (?1)", [&body])
                .expect("an insert");
        }
        // The first signal comes at 1 000 log pages, about 500 inserts of one table page each;
        // the checkpoint it wakes copies at least those. Without it the file holds one page.
        let copied = 400 * 4_096;
        eventually_sync("the thread to copy the log into the database file", || {
            match std::fs::metadata(&path).expect("the file").len() {
                size if size >= copied => Ok(()),
                size => Err(format!("the database file holds {size} bytes")),
            }
        })
        .await;
        // Closing the writer joins the thread; the file then opens and reads as usual.
        drop(writer);
        let again = Connection::open(&path).expect("reopened");
        let count: i64 = again
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("a count");
        assert_eq!(count, 1_000);
    }
}
