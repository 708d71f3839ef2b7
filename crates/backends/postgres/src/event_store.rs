//! [`PgEventStore`]: the event store on PostgreSQL.
//!
//! # Feed order
//! PostgreSQL hands out sequence values before commit, so with a sequence a transaction that
//! took position 7 can commit after one that took 8, and a reader that has passed 8 never sees
//! 7. This store takes no sequence: every append moves the single row of
//! `projector.feed_head` and holds that row's lock to its commit, assigning positions
//! `head + 1 ...` in the same transaction (by compare-and-set on the head its snapshot saw, so
//! the stream versions it checks are current; see `sql/append_group.sql`). Appends, from any number of processes, thus
//! commit one after another in position order; every snapshot holds a prefix of the feed, and
//! `read_all` is a plain `position > $1` scan that can never skip a late commit.
//!
//! The cost is that commits to one database are serialized: one append transaction at a time.
//! Group commit wins the throughput back: the writer task batches every append waiting at that
//! moment into one statement and one commit (see `writer`), so a commit's flush and round trip
//! are shared by the whole group. See `docs/adr/0003-postgres-feed-order.md`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use projector_core::{
    AppendOutcome, EventAppender, EventFeed, EventFilter, ExpectedVersion, GlobalPosition,
    HeadWatch, KeptRead, NewEvent, RECENT_EVENTS, ReadDirection, RecentEvents, RecordedEvent,
    StoreError, StreamId, StreamReader, StreamVersion, validate_append,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::error::{store_error, store_pool_error};
use crate::head::HeadPublisher;
use crate::inline::PgInlineProjections;
use crate::listener;
use crate::migrate::{migrate, verify};
use crate::pool::{self, PoolSetupError};
use crate::rows::{clamp, recorded_events, to_u64};
use crate::writer::{self, AppendRequest, InlineSlot};

/// How the event store connects.
#[derive(Clone, Copy, Debug)]
pub struct PgEventStoreOptions {
    /// Apply the embedded migrations on connect. Default: `true`. Turn it off when the schema
    /// is managed elsewhere: a schema behind this build is then refused, changing nothing.
    pub run_migrations: bool,
    /// Connections kept for reads. Default: 8. The writer has one of its own.
    pub pool_size: usize,
    /// The most events one group commit gathers. Default: 8 192.
    pub max_group_events: usize,
    /// How many appends may wait for the writer before callers wait to enqueue. Default: 4 096.
    pub queue_depth: usize,
    /// How often the head is polled besides `LISTEN`, in case a notification is missed.
    /// Default: 1 s.
    pub poll_interval: Duration,
}

impl Default for PgEventStoreOptions {
    fn default() -> Self {
        Self {
            run_migrations: true,
            pool_size: 8,
            max_group_events: 8_192,
            queue_depth: 4_096,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// The PostgreSQL event store: positions in commit order under one head-row lock, a
/// group-commit writer task, reads on a connection pool, and a listener that wakes
/// subscriptions on every commit, whichever process made it.
///
/// Cloning is cheap and shares the store. Several processes may append to one database at
/// once. While the database is away, operations fail with [`StoreError::Unavailable`]; they
/// work again once it returns, without a restart.
#[derive(Clone, Debug)]
pub struct PgEventStore {
    inner: Arc<Inner>,
    /// Where this handle's reads go: the store's pool, or one of their own
    /// ([`PgEventStore::with_read_pool`]).
    reads: Pool,
    /// How long a read of this handle may wait for the database, on a pool with a statement
    /// timeout: a network that stops answering (nothing closed) cannot hold it longer.
    read_deadline: Option<Duration>,
}

#[derive(Debug)]
struct Inner {
    pool: Pool,
    head: HeadWatch,
    /// The events this process appended last, for projections following the head.
    recent: Arc<RecentEvents>,
    /// `None` once the store is closed.
    requests: Mutex<Option<mpsc::Sender<AppendRequest>>>,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    shutdown: CancellationToken,
    inline: InlineSlot,
}

impl PgEventStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`), applies the
    /// migrations unless told not to, and starts the writer and the listener on the current
    /// tokio runtime.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the URL is invalid, the database cannot be reached or a
    /// migration fails.
    pub async fn connect(url: &str, options: PgEventStoreOptions) -> Result<Self, StoreError> {
        let base = pool::config(url).map_err(setup_error)?;
        let tls = pool::connector(url).map_err(setup_error)?;
        let config = pool::custom_plans(base.clone());
        let pool = pool::build(config.clone(), &tls, options.pool_size).map_err(setup_error)?;
        let writer_pool = pool::build(pool::writer_settings(base), &tls, 1).map_err(setup_error)?;
        if options.run_migrations {
            migrate(&pool)
                .await
                .map_err(|e| StoreError::unavailable(format!("migrating: {e}"), e))?;
        } else {
            verify(&pool)
                .await
                .map_err(|e| StoreError::unavailable(format!("checking the schema: {e}"), e))?;
        }
        let head = read_head(&pool).await?;
        let (head_tx, head_rx) = watch::channel(head);
        let head_tx = Arc::new(HeadPublisher::new(head_tx));
        let recent = Arc::new(RecentEvents::new(RECENT_EVENTS));
        let shutdown = CancellationToken::new();
        tokio::spawn(listener::run(
            config,
            tls,
            Arc::clone(&head_tx),
            options.poll_interval,
            shutdown.clone(),
        ));
        let (requests, queue) = mpsc::channel(options.queue_depth.max(1));
        let inline = InlineSlot::default();
        let writer = tokio::spawn(writer::run(
            writer_pool,
            queue,
            head_tx,
            Arc::clone(&recent),
            options.max_group_events.max(1),
            Arc::clone(&inline),
        ));
        Ok(Self {
            reads: pool.clone(),
            read_deadline: None,
            inner: Arc::new(Inner {
                pool,
                head: head_rx,
                recent,
                requests: Mutex::new(Some(requests)),
                writer: Mutex::new(Some(writer)),
                shutdown,
                inline,
            }),
        })
    }

    /// Applies `inline` in every later append: their read models (kept by a
    /// [`crate::PgReadStore`] on this database) commit in the events' own transaction, and an
    /// append one of them cannot take is refused with [`StoreError::InlineProjection`].
    pub fn set_inline(&self, inline: PgInlineProjections) {
        *lock(&self.inner.inline) = Some(Arc::new(inline));
    }

    /// The connection pool, for running other statements on the event store's database.
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// A handle on this same store (`url` must name its database) whose reads go through a
    /// pool of their own: at most `pool_size` connections, each statement cancelled past
    /// `statement_timeout`. Appends still go through the one writer. For reads a client
    /// drives (an order's history over HTTP): a flood of them waits for this pool, and a slow
    /// one is cut short, while projections keep reading through the store's own pool.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the URL or its TLS settings cannot be used.
    pub fn with_read_pool(
        &self,
        url: &str,
        pool_size: usize,
        statement_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let config = pool::with_settings(
            pool::custom_plans(pool::config(url).map_err(setup_error)?),
            &format!(
                "-c statement_timeout={}",
                statement_timeout.as_millis().max(1)
            ),
        );
        let tls = pool::connector(url).map_err(setup_error)?;
        Ok(Self {
            inner: Arc::clone(&self.inner),
            reads: pool::build(config, &tls, pool_size).map_err(setup_error)?,
            read_deadline: Some(statement_timeout + crate::pool::ANSWER_GRACE),
        })
    }

    /// Stops accepting appends, waits for the writer to commit what was already queued, and
    /// stops the listener. Reads keep working.
    pub async fn close(&self) {
        drop(lock(&self.inner.requests).take());
        let writer = lock(&self.inner.writer).take();
        if let Some(writer) = writer {
            let _ = writer.await;
        }
        self.inner.shutdown.cancel();
    }

    /// The last head this store has seen committed (by any process), without asking the
    /// database.
    pub fn known_head(&self) -> GlobalPosition {
        *self.inner.head.borrow()
    }

    async fn client(&self, context: &str) -> Result<deadpool_postgres::Client, StoreError> {
        self.reads
            .get()
            .await
            .map_err(|e| store_pool_error(context, e))
    }

    async fn query(
        &self,
        context: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        self.within(context, async {
            let client = self.client(context).await?;
            let statement = client
                .prepare_cached(sql)
                .await
                .map_err(|e| store_error(context, e))?;
            client
                .query(&statement, params)
                .await
                .map_err(|e| store_error(context, e))
        })
        .await
    }

    /// Runs `read` within this handle's read deadline, if it has one.
    async fn within<T>(
        &self,
        context: &str,
        read: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let Some(deadline) = self.read_deadline else {
            return read.await;
        };
        match tokio::time::timeout(deadline, read).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable {
                message: format!(
                    "{context}: the database did not answer within {} ms",
                    deadline.as_millis()
                ),
                source: None,
            }),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The writer drains its queue and stops once the last sender is gone (dropped with
        // this); the listener stops here.
        self.shutdown.cancel();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn setup_error(error: PoolSetupError) -> StoreError {
    StoreError::unavailable(error.to_string(), error)
}

async fn read_head(pool: &Pool) -> Result<GlobalPosition, StoreError> {
    let client = pool
        .get()
        .await
        .map_err(|e| store_pool_error("reading the head", e))?;
    let statement = client
        .prepare_cached(include_str!("sql/head.sql"))
        .await
        .map_err(|e| store_error("reading the head", e))?;
    let row = client
        .query_one(&statement, &[])
        .await
        .map_err(|e| store_error("reading the head", e))?;
    let head: i64 = row
        .try_get(0)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(GlobalPosition::new(to_u64(head)))
}

#[async_trait]
impl StreamReader for PgEventStore {
    async fn read_stream(
        &self,
        stream: &StreamId,
        from: StreamVersion,
        direction: ReadDirection,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = match direction {
            ReadDirection::Forwards => include_str!("sql/read_stream_forwards.sql"),
            ReadDirection::Backwards => include_str!("sql/read_stream_backwards.sql"),
        };
        let rows = self
            .query(
                "reading a stream",
                sql,
                &[&stream.as_str(), &clamp(from.get()), &clamp(limit as u64)],
            )
            .await?;
        recorded_events(&rows)
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<StreamVersion, StoreError> {
        let rows = self
            .query(
                "reading a stream version",
                include_str!("sql/stream_version.sql"),
                &[&stream.as_str()],
            )
            .await?;
        let version: i64 = match rows.first() {
            Some(row) => row
                .try_get(0)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            None => 0,
        };
        Ok(StreamVersion::new(to_u64(version)))
    }
}

impl PgEventStore {
    /// Up to `limit` events of the feed after `after`, from the database: for a read the window
    /// of recent events cannot answer.
    async fn read_feed_from_database(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = self
            .query(
                "reading the feed",
                include_str!("sql/read_all.sql"),
                &[&clamp(after.get()), &clamp(limit as u64)],
            )
            .await?;
        recorded_events(&rows)
    }
}

#[async_trait]
impl EventFeed for PgEventStore {
    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if let Some(events) = self.inner.recent.read(after, limit, self.known_head()) {
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
        if let Some(kept) = self
            .inner
            .recent
            .read_kept(after, limit, self.known_head(), filter)
        {
            return Ok(kept);
        }
        let read = self.read_feed_from_database(after, limit).await?;
        Ok(KeptRead::keep(read, filter))
    }

    async fn head(&self) -> Result<GlobalPosition, StoreError> {
        self.within("reading the head", read_head(&self.reads))
            .await
    }

    fn watch_head(&self) -> HeadWatch {
        self.inner.head.clone()
    }
}

#[async_trait]
impl EventAppender for PgEventStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        validate_append(&events)?;
        let (reply, answer) = oneshot::channel();
        let request = AppendRequest {
            stream: stream.clone(),
            expected,
            events,
            reply,
        };
        let sender = lock(&self.inner.requests)
            .clone()
            .ok_or(StoreError::Closed)?;
        sender.send(request).await.map_err(|_| StoreError::Closed)?;
        drop(sender);
        answer.await.map_err(|_| StoreError::Closed)?
    }
}
