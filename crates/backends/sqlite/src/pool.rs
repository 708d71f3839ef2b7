//! A small pool of read-only connections, used on tokio's blocking threads.
//!
//! Hand-written because it is twenty lines: deadpool-sqlite pins its own rusqlite (and so its
//! own libsqlite3-sys, which may be linked only once), and reusing connections is all we need:
//! each keeps its prepared-statement cache warm.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::connection::open_reader;
use crate::error::join_error;

/// Why a pooled call did not run to completion.
#[derive(Debug)]
pub(crate) enum PoolError {
    /// A new connection could not be opened.
    Open(rusqlite::Error),
    /// The blocking task panicked or was cancelled.
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

    /// Runs `f` with a read-only connection on a blocking thread.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, PoolError>
    where
        F: FnOnce(&Connection) -> T + Send + 'static,
        T: Send + 'static,
    {
        let pool = Arc::clone(self);
        let permit = Arc::clone(&self.open)
            .acquire_owned()
            .await
            .map_err(|_| PoolError::Join("the reader pool is closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = match pool.take() {
                Some(conn) => conn,
                None => open_reader(&pool.path).map_err(PoolError::Open)?,
            };
            let out = f(&conn);
            pool.give_back(conn);
            Ok(out)
        })
        .await
        .map_err(|e| PoolError::Join(join_error(e)))?
    }

    fn take(&self) -> Option<Connection> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }
}
