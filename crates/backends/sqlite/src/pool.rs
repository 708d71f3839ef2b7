//! A small pool of read-only connections, whose reads run on the caller's thread while they
//! are short and on tokio's blocking threads once they are not.
//!
//! Hand-written because it is short: deadpool-sqlite pins its own rusqlite (and so its own
//! libsqlite3-sys, which may be linked only once), and reusing connections is all we need:
//! each keeps its prepared-statement cache warm.
//!
//! Most reads are a point lookup or a short stream: tens of microseconds in SQLite's page
//! cache. Handing each to a blocking thread and back costs more than that, and under load the
//! hand-offs, not the reads, set the latency. So a read first runs on the caller's thread with
//! a budget of virtual-machine steps; one that outruns it (a scan, a long feed read) or would
//! wait on a lock is interrupted, which a read-only statement allows without a trace, and runs
//! again from the start on a blocking thread. An async worker is held at most one budget.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::connection::{BUSY_TIMEOUT, open_reader};
use crate::error::join_error;

/// How many steps of SQLite's virtual machine a read may take on the caller's thread: a point
/// lookup takes a few dozen, a stream of a few events about a hundred.
const INLINE_STEPS: i32 = 1_000;

/// How long a connection on a blocking thread sleeps between tries of a locked database.
const BUSY_SLEEP: Duration = Duration::from_millis(1);

thread_local! {
    /// Where this thread's read stands, for the handlers SQLite calls during it.
    static READ_ON_CALLER: Cell<InlineRead> = const { Cell::new(InlineRead::None) };
}

/// Whether a read runs on this thread under the inline budget, and how it went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InlineRead {
    /// No read runs here under the budget: connections wait and run as long as they need.
    None,
    /// A read runs here within its budget.
    Running,
    /// The read outran its budget or met a lock, and was interrupted.
    Moved,
}

/// Why a pooled call did not run to completion.
#[derive(Debug)]
pub(crate) enum PoolError {
    /// A new connection could not be opened.
    Open(rusqlite::Error),
    /// The read panicked, or its blocking task was cancelled.
    Join(String),
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolError::Open(e) => write!(f, "cannot open a read connection: {e}"),
            PoolError::Join(e) => f.write_str(e),
        }
    }
}

/// Read-only connections to one database file, at most `max_open` of them at once: a flood
/// of reads waits for a connection instead of opening one (and taking a blocking thread) each.
#[derive(Debug)]
pub(crate) struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    open: Arc<Semaphore>,
}

impl ReaderPool {
    /// A pool of at most `max_open` connections, all kept open between calls.
    pub(crate) fn new(path: PathBuf, max_open: usize) -> Arc<Self> {
        Arc::new(Self {
            path,
            idle: Mutex::new(Vec::new()),
            max_idle: max_open.max(1),
            open: Arc::new(Semaphore::new(max_open.max(1))),
        })
    }

    /// Runs the read `f` with a read-only connection: on this thread if a connection is idle
    /// and the read is short, else on a blocking thread. `f` may run twice, so it must only
    /// read.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, PoolError>
    where
        F: Fn(&Connection) -> T + Send + 'static,
        T: Send + 'static,
    {
        if let Some(read) = self.run_here(&f) {
            return read;
        }
        let pool = Arc::clone(self);
        let permit = Arc::clone(&self.open)
            .acquire_owned()
            .await
            .map_err(|_| PoolError::Join("the reader pool is closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = match pool.take() {
                Some(conn) => conn,
                None => pool.open_one()?,
            };
            let out = f(&conn);
            pool.give_back(conn);
            Ok(out)
        })
        .await
        .map_err(|e| PoolError::Join(join_error(e)))?
    }

    /// Runs `f` on this thread within the budget, if a connection is idle; `None` when none
    /// is, or when the read was interrupted and must run on a blocking thread.
    fn run_here<T>(&self, f: &impl Fn(&Connection) -> T) -> Option<Result<T, PoolError>> {
        let _permit = self.open.try_acquire().ok()?;
        let conn = self.take()?;
        READ_ON_CALLER.set(InlineRead::Running);
        let out = catch_unwind(AssertUnwindSafe(|| f(&conn)));
        let how = READ_ON_CALLER.replace(InlineRead::None);
        let Ok(out) = out else {
            // A connection a panic left mid-read is not reused.
            return Some(Err(PoolError::Join("a storage read panicked".into())));
        };
        self.give_back(conn);
        if how == InlineRead::Moved {
            metrics::counter!("projector_sqlite_reads_moved_total").increment(1);
            return None;
        }
        Some(Ok(out))
    }

    /// A new connection, with the handlers that keep a read on the caller's thread short.
    fn open_one(&self) -> Result<Connection, PoolError> {
        let mut conn = open_reader(&self.path).map_err(PoolError::Open)?;
        conn.progress_handler(INLINE_STEPS, Some(move_inline_read))
            .map_err(PoolError::Open)?;
        conn.busy_handler(Some(wait_unless_inline))
            .map_err(PoolError::Open)?;
        Ok(conn)
    }

    fn take(&self) -> Option<Connection> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn give_back(&self, conn: Connection) {
        // A read left inside a transaction would hold its snapshot for the next caller.
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }
}

/// SQLite's busy handler: a read on the caller's thread does not wait on a lock but moves to
/// a blocking thread; elsewhere a read waits for the lock up to [`BUSY_TIMEOUT`].
fn wait_unless_inline(tries: i32) -> bool {
    if move_inline_read() {
        return false;
    }
    let waited = BUSY_SLEEP * u32::try_from(tries).unwrap_or(0);
    if waited >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(BUSY_SLEEP);
    true
}

/// Marks a read running on this thread as moved; whether one was. It is also SQLite's progress
/// handler, called every [`INLINE_STEPS`] steps of a statement: a read on the caller's thread
/// has then used its budget and is interrupted (`true`); elsewhere it goes on.
fn move_inline_read() -> bool {
    let running = READ_ON_CALLER.get() == InlineRead::Running;
    if running {
        READ_ON_CALLER.set(InlineRead::Moved);
    }
    running
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::thread::ThreadId;

    use super::*;

    /// A file at `path` in `journal_mode` holding one small table; the connection that made it.
    fn table(path: &Path, journal_mode: &str) -> Connection {
        let conn = Connection::open(path).expect("open");
        conn.pragma_update(None, "journal_mode", journal_mode)
            .expect("journal mode");
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
             INSERT INTO t VALUES (1, 'one'), (2, 'two');",
        )
        .expect("schema");
        conn
    }

    /// A pool on a fresh WAL file holding one small table.
    fn pool(dir: &tempfile::TempDir) -> Arc<ReaderPool> {
        let path = dir.path().join("pool.db");
        table(&path, "WAL");
        ReaderPool::new(path, 2)
    }

    /// What a read found, and the thread it ran on.
    type Read<T> = rusqlite::Result<(T, ThreadId)>;

    /// Runs `f` on `pool`, expecting it to succeed (`what` names it).
    async fn read<T: Send + 'static>(
        pool: &Arc<ReaderPool>,
        f: fn(&Connection) -> Read<T>,
        what: &str,
    ) -> (T, ThreadId) {
        pool.run(f).await.expect("pool").expect(what)
    }

    fn point_read(conn: &Connection) -> Read<String> {
        let v = conn.query_row("SELECT v FROM t WHERE id = 2", [], |r| r.get(0))?;
        Ok((v, std::thread::current().id()))
    }

    /// Counts to a million: far past the budget.
    fn long_read(conn: &Connection) -> Read<i64> {
        let n = conn.query_row(
            "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1000000)
             SELECT count(*) FROM c",
            [],
            |r| r.get(0),
        )?;
        Ok((n, std::thread::current().id()))
    }

    #[tokio::test]
    async fn a_short_read_runs_on_the_callers_thread_once_a_connection_is_idle() {
        let dir = tempfile::tempdir().expect("dir");
        let pool = pool(&dir);
        let here = std::thread::current().id();
        let (v, first) = read(&pool, point_read, "first read").await;
        assert_eq!(v, "two");
        assert_ne!(
            first, here,
            "no connection was idle: the first read opens one elsewhere"
        );
        let (v, second) = read(&pool, point_read, "second read").await;
        assert_eq!(v, "two");
        assert_eq!(
            second, here,
            "the idle connection read on the caller's thread"
        );
    }

    #[tokio::test]
    async fn a_long_read_is_moved_to_a_blocking_thread_and_completes_there() {
        let dir = tempfile::tempdir().expect("dir");
        let pool = pool(&dir);
        read(&pool, point_read, "warm a connection").await;
        let here = std::thread::current().id();
        let (n, ran_on) = read(&pool, long_read, "long read").await;
        assert_eq!(n, 1_000_000, "the moved read ran whole, from the start");
        assert_ne!(ran_on, here, "the long read left the caller's thread");
        assert_eq!(
            READ_ON_CALLER.get(),
            InlineRead::None,
            "nothing of the moved read is left on the caller's thread"
        );
        let (v, again) = read(&pool, point_read, "read after").await;
        assert_eq!(v, "two");
        assert_eq!(
            again, here,
            "the interrupted connection serves short reads again"
        );
    }

    #[tokio::test]
    async fn a_read_that_meets_a_lock_moves_instead_of_waiting_on_the_callers_thread() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("pool.db");
        // A rollback-journal file: a writer's exclusive lock keeps every reader out.
        let writer = table(&path, "DELETE");
        let pool = ReaderPool::new(path, 2);
        read(&pool, point_read, "warm a connection").await;
        writer
            .execute_batch("BEGIN EXCLUSIVE; UPDATE t SET v = 'deux' WHERE id = 2;")
            .expect("lock");
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            writer.execute_batch("COMMIT").expect("commit");
        });
        let here = std::thread::current().id();
        let (v, ran_on) = read(&pool, point_read, "read once the lock is gone").await;
        assert_eq!(v, "deux");
        assert_ne!(
            ran_on, here,
            "the read waited for the lock on a blocking thread"
        );
        release.join().expect("writer");
    }
}
