//! [`SqliteEventStore`]: the embedded event store.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use projector_core::{
    AppendOutcome, EventAppender, EventFeed, EventFilter, ExpectedVersion, GlobalPosition,
    HeadWatch, KeptRead, NewEvent, RECENT_EVENTS, ReadDirection, RecentEvents, RecordedEvent,
    StoreError, StreamId, StreamReader, StreamVersion, validate_append,
};
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::{mpsc, oneshot, watch};

use crate::answer_wait::AnswerWait;
use crate::connection::open_busy_writer;
use crate::durability::Durability;
use crate::error::store_error;
use crate::inline::InlineProjections;
use crate::pool::{PoolError, ReaderPool};
use crate::rows::collect_events;
use crate::writer::{self, AppendRequest, Committer, GroupLimits, InlineSlot, PoisonFlag};

/// How the event store is opened.
#[derive(Clone, Copy, Debug)]
pub struct SqliteEventStoreOptions {
    /// How hard each commit works to survive a crash; see [`Durability`]. Default: `Full`.
    pub durability: Durability,
    /// How many read connections stay open between reads. Default: 4.
    pub readers: usize,
    /// The most events one group commit gathers. Default: 8 192.
    pub max_group_events: usize,
    /// How many appends may wait for the writer before callers wait to enqueue. Default: 4 096.
    pub queue_depth: usize,
}

impl Default for SqliteEventStoreOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Full,
            readers: 4,
            max_group_events: 8_192,
            queue_depth: 4_096,
        }
    }
}

/// The embedded event store: one SQLite file in WAL mode, one writer thread doing group
/// commit, a pool of read connections.
///
/// Cloning is cheap and shares the store. The writer stops once every clone is dropped, after
/// committing what was queued.
#[derive(Clone, Debug)]
pub struct SqliteEventStore {
    inner: Arc<Inner>,
    /// Where this handle's reads go: the store's pool, or one of their own
    /// ([`SqliteEventStore::with_readers`]).
    readers: Arc<ReaderPool>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    durability: Durability,
    head: HeadWatch,
    writer: Option<WriterHandle>,
}

#[derive(Debug)]
struct WriterHandle {
    /// `None` once the store is closed.
    requests: Mutex<Option<mpsc::Sender<AppendRequest>>>,
    /// The events the writer committed last, which reads at the head are answered from.
    recent: Arc<RecentEvents>,
    poison: PoisonFlag,
    inline: InlineSlot,
    /// The appends waiting for their answers.
    answers: AnswerWait,
    /// The writer's state, for a caller that commits its own append.
    committer: Arc<Committer>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// An exclusive lock on `<file>.lock`, held while this process may append.
    _lock: File,
}

impl SqliteEventStore {
    /// Opens the store at `path` (creating the file and schema if needed) for reading and
    /// appending. Only one process may hold a store open for appending.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be opened or another process holds it.
    pub fn open(
        path: impl AsRef<Path>,
        options: SqliteEventStoreOptions,
    ) -> Result<Self, StoreError> {
        Self::open_with(path, options, |_| Ok(()))
    }

    /// [`SqliteEventStore::open`], with `prepare` run on the writer's connection before the
    /// writer starts: the crate's tests use it to make a commit fail on purpose.
    pub(crate) fn open_with(
        path: impl AsRef<Path>,
        options: SqliteEventStoreOptions,
        prepare: impl FnOnce(&mut Connection) -> rusqlite::Result<()>,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::connection::create_private_dir(dir).map_err(|e| {
                StoreError::unavailable(format!("cannot create {}", dir.display()), e)
            })?;
        }
        let lock = lock_exclusively(&path)?;
        let mut conn = open_busy_writer(&path, options.durability)
            .map_err(|e| store_error(&format!("opening {}", path.display()), e))?;
        conn.execute_batch(include_str!("../sql/events_schema.sql"))
            .map_err(|e| store_error("creating the events schema", e))?;
        prepare(&mut conn).map_err(|e| store_error("preparing the writer", e))?;
        let head = read_head(&conn).map_err(|e| store_error("reading the head", e))?;

        let (head_tx, head_rx) = watch::channel(head);
        let (requests, queue) = mpsc::channel(options.queue_depth.max(1));
        let poison = PoisonFlag::default();
        let limits = GroupLimits {
            max_events: options.max_group_events.max(1),
        };
        let inline = InlineSlot::default();
        let recent = Arc::new(RecentEvents::new(RECENT_EVENTS));
        let (thread, committer) = writer::spawn(
            conn,
            queue,
            head_tx,
            Arc::clone(&recent),
            Arc::clone(&poison),
            Arc::clone(&inline),
            limits,
        )
        .map_err(|e| StoreError::unavailable("cannot start the writer thread", e))?;

        Ok(Self {
            readers: ReaderPool::new(path.clone(), options.readers),
            inner: Arc::new(Inner {
                path,
                durability: options.durability,
                head: head_rx,
                writer: Some(WriterHandle {
                    requests: Mutex::new(Some(requests)),
                    recent,
                    poison,
                    inline,
                    answers: AnswerWait::default(),
                    committer,
                    thread: Mutex::new(Some(thread)),
                    _lock: lock,
                }),
            }),
        })
    }

    /// Applies `inline` in every later group commit: their read models commit with the
    /// events that change them, and an append they fail on is refused. Replaces any set
    /// before; a store opened read-only ignores it.
    pub fn set_inline(&self, inline: InlineProjections) {
        if let Some(writer) = &self.inner.writer {
            *writer
                .inline
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(inline));
        }
    }

    /// Opens an existing store for reading only, beside a process that appends to it.
    /// [`EventFeed::head`] reads the file; the head watch follows the appends of the writing
    /// process within [`READ_ONLY_POLL`], so a projector on this store keeps up with them.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file does not exist or cannot be read.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(StoreError::Unavailable {
                message: format!("no event store at {}", path.display()),
                source: None,
            });
        }
        let conn = crate::connection::open_reader(&path)
            .map_err(|e| store_error(&format!("opening {}", path.display()), e))?;
        let head = read_head(&conn).map_err(|e| store_error("reading the head", e))?;
        let (head_tx, head_rx) = watch::channel(head);
        spawn_head_poller(conn, head_tx)
            .map_err(|e| StoreError::unavailable("cannot start the head poller", e))?;
        Ok(Self {
            readers: ReaderPool::new(path.clone(), 2),
            inner: Arc::new(Inner {
                path,
                durability: Durability::Full,
                head: head_rx,
                writer: None,
            }),
        })
    }

    /// A handle on this same store whose reads go through a pool of their own, of at most
    /// `readers` connections; appends still go through the one writer. For reads a client
    /// drives (an order's history over HTTP): a flood of them waits for this pool, while
    /// projections keep reading through the store's own.
    pub fn with_readers(&self, readers: usize) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            readers: ReaderPool::new(self.inner.path.clone(), readers),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The durability appends are committed with.
    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    /// Stops accepting appends, waits for the writer to commit what was already queued, and
    /// returns. Reads keep working.
    pub async fn close(&self) {
        let Some(writer) = &self.inner.writer else {
            return;
        };
        // Dropping the sender closes the queue once in-flight appends have enqueued; the writer
        // then drains it and exits.
        drop(lock(&writer.requests).take());
        let thread = lock(&writer.thread).take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        match self.readers.run(f).await {
            Ok(result) => result,
            Err(PoolError::Open(e)) => Err(store_error("opening a read connection", e)),
            Err(PoolError::Join(message)) => Err(StoreError::Unavailable {
                message,
                source: None,
            }),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            // Dropping the last sender lets the writer commit what is queued and stop.
            drop(lock(&writer.requests).take());
            if let Some(thread) = lock(&writer.thread).take() {
                let _ = thread.join();
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn lock_exclusively(path: &Path) -> Result<File, StoreError> {
    let lock_path = path.with_extension("lock");
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&lock_path)
        .map_err(|e| StoreError::unavailable(format!("cannot open {}", lock_path.display()), e))?;
    file.try_lock().map_err(|e| StoreError::Unavailable {
        message: format!(
            "{} is in use by another process ({e}); stop it or open the store read-only",
            path.display()
        ),
        source: None,
    })?;
    Ok(file)
}

/// How often a store open read-only looks for the appends of the process that writes it.
pub const READ_ONLY_POLL: Duration = Duration::from_millis(100);

/// Moves a read-only store's head watch as another process appends to the file; ends once
/// nobody watches the head any more.
fn spawn_head_poller(conn: Connection, head: watch::Sender<GlobalPosition>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("projector-sqlite-head".into())
        .spawn(move || {
            while !head.is_closed() {
                std::thread::sleep(READ_ONLY_POLL);
                match read_head(&conn) {
                    Ok(now) => {
                        head.send_if_modified(|seen| {
                            let moved = *seen != now;
                            *seen = now;
                            moved
                        });
                    }
                    Err(error) => {
                        tracing::debug!(%error, "cannot read the head of a read-only store")
                    }
                }
            }
        })?;
    Ok(())
}

fn read_head(conn: &Connection) -> rusqlite::Result<GlobalPosition> {
    let head: i64 = conn.query_row("SELECT coalesce(max(position), 0) FROM events", [], |r| {
        r.get(0)
    })?;
    Ok(GlobalPosition::new(u64::try_from(head).unwrap_or(0)))
}

/// SQLite integers are i64; positions and versions beyond it are clamped, which only matters
/// for the `LATEST` sentinel.
fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl StreamReader for SqliteEventStore {
    async fn read_stream(
        &self,
        stream: &StreamId,
        from: StreamVersion,
        direction: ReadDirection,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let stream = stream.clone();
        let from = clamp(from.get());
        let limit = clamp(limit as u64);
        self.read(move |conn| {
            let sql = match direction {
                ReadDirection::Forwards => include_str!("../sql/read_stream_forwards.sql"),
                ReadDirection::Backwards => include_str!("../sql/read_stream_backwards.sql"),
            };
            let mut stmt = conn
                .prepare_cached(sql)
                .map_err(|e| store_error("reading a stream", e))?;
            let rows = stmt
                .query(rusqlite::params![stream.as_str(), from, limit])
                .map_err(|e| store_error("reading a stream", e))?;
            collect_events(rows)
        })
        .await
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<StreamVersion, StoreError> {
        let stream = stream.clone();
        self.read(move |conn| {
            let version: Option<i64> = conn
                .prepare_cached(include_str!("../sql/stream_version.sql"))
                .and_then(|mut s| s.query_row([stream.as_str()], |r| r.get(0)).optional())
                .map_err(|e| store_error("reading a stream version", e))?;
            Ok(StreamVersion::new(
                version.map_or(0, |v| u64::try_from(v).unwrap_or(0)),
            ))
        })
        .await
    }
}

impl SqliteEventStore {
    /// Up to `limit` events of the feed after `after`, from the database: for a read the window
    /// of recent events cannot answer.
    async fn read_feed_from_database(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let after = clamp(after.get());
        let limit = clamp(limit as u64);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(include_str!("../sql/read_all.sql"))
                .map_err(|e| store_error("reading the feed", e))?;
            let rows = stmt
                .query(rusqlite::params![after, limit])
                .map_err(|e| store_error("reading the feed", e))?;
            collect_events(rows)
        })
        .await
    }
}

#[async_trait]
impl EventFeed for SqliteEventStore {
    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if let Some(writer) = &self.inner.writer
            && let Some(events) = writer.recent.read(after, limit, *self.inner.head.borrow())
        {
            return Ok(events);
        }
        self.read_feed_from_database(after, limit).await
    }

    async fn read_kept(
        &self,
        after: GlobalPosition,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<KeptRead, StoreError> {
        if let Some(writer) = &self.inner.writer
            && let Some(kept) =
                writer
                    .recent
                    .read_kept(after, limit, *self.inner.head.borrow(), filter)
        {
            return Ok(kept);
        }
        let read = self.read_feed_from_database(after, limit).await?;
        Ok(KeptRead::keep(read, filter))
    }

    async fn head(&self) -> Result<GlobalPosition, StoreError> {
        if self.inner.writer.is_some() {
            return Ok(*self.inner.head.borrow());
        }
        self.read(|conn| read_head(conn).map_err(|e| store_error("reading the head", e)))
            .await
    }

    fn watch_head(&self) -> HeadWatch {
        self.inner.head.clone()
    }
}

#[async_trait]
impl EventAppender for SqliteEventStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        validate_append(&events)?;
        let Some(writer) = &self.inner.writer else {
            return Err(StoreError::InvalidRequest(
                "the store is open read-only".into(),
            ));
        };
        if let Some(reason) = writer.poison.get() {
            return Err(StoreError::Poisoned(reason.clone()));
        }
        let (reply, answer) = oneshot::channel();
        let request = AppendRequest {
            stream: stream.clone(),
            expected,
            events,
            reply,
        };
        let sender = lock(&writer.requests).clone().ok_or(StoreError::Closed)?;
        let in_flight = writer.answers.enter();
        // A caller appending in a loop on its own commits on its own thread: the writer's
        // thread would only add a hand-off each way.
        let request = if in_flight.back_to_back() {
            writer.committer.try_commit(request).err()
        } else {
            Some(request)
        };
        if let Some(request) = request {
            sender.send(request).await.map_err(|_| StoreError::Closed)?;
        }
        drop(sender);
        in_flight.answer(answer).await.ok_or(StoreError::Closed)?
    }
}

#[cfg(test)]
mod tests;
