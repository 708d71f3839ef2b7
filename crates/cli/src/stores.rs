//! Opening the stores a server or projector runs on: SQLite in a data directory by default,
//! PostgreSQL when a database URL is given; on both, the search indexes in the data directory,
//! which are each process's own.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use projector_core::{
    EventStore, IdempotencyStore, LeaseProvider, ProjectionControls, ProjectionName,
};
use projector_postgres::{
    LeaseHolder, PgEventStore, PgEventStoreOptions, PgIdempotencyStore, PgInlineProjections,
    PgLeases, PgReadStore, PgReadStoreOptions,
};
use projector_redis::{Namespace, RedisStore, RedisStoreOptions};
use projector_search::SearchStore;
use projector_sql::SqlReadStore;
use projector_sqlite::{Durability, InlineProjections, SqliteEventStore};

use crate::data::DataDir;
use crate::opts::{CacheArgs, StorageArgs};
use crate::redact::redact;

/// How long a query of a read model, or a read of a stream over HTTP, may run on PostgreSQL
/// before it is cancelled.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections for the streams HTTP clients read (an order's history), apart from the event
/// store's own: a flood of such reads waits for these, never for those projecting reads
/// through.
const STREAM_READERS: usize = 4;

/// The open stores.
pub(crate) struct Stores {
    /// The event store; `None` where the events come from a broker ([`EventAccess::Broker`]).
    events: Option<Arc<dyn EventStore>>,
    /// The same event store as HTTP reads of a stream reach it: a bounded pool of its own (on
    /// PostgreSQL with the statement timeout of `queries`), so they cannot stall projecting.
    /// `None` with the event store.
    pub(crate) stream_reads: Option<Arc<dyn EventStore>>,
    pub(crate) reads: Arc<dyn SqlReadStore>,
    /// The read models as the HTTP reads query them: on PostgreSQL a pool of its own, with a
    /// statement timeout, so a flood of reads cannot take the connections projecting needs.
    pub(crate) queries: Arc<dyn SqlReadStore>,
    /// The idempotency keys, beside the event store (`None` with it).
    idempotency: Option<Arc<dyn IdempotencyStore>>,
    /// Set on PostgreSQL, where several processes may run the same projections.
    pub(crate) leases: Option<Arc<dyn LeaseProvider>>,
    /// The same leases, to ask who holds them.
    pg_leases: Option<PgLeases>,
    /// Operators' pauses of the projections, beside the read store's catalog.
    pub(crate) controls: Arc<dyn ProjectionControls>,
    /// The Redis of the caches, when configured.
    pub(crate) cache: Option<RedisStore>,
    /// The search indexes in the data directory, unless the command leaves them closed.
    pub(crate) search: Option<SearchStore>,
    /// Where, for the logs.
    pub(crate) described: String,
    /// Whether the event store applies the inline projections with its appends (on SQLite
    /// with the event store open; not yet on PostgreSQL, nor from a broker).
    inline: bool,
    closer: Option<Closer>,
}

enum Closer {
    Sqlite(Arc<SqliteEventStore>),
    Postgres(Arc<PgEventStore>),
}

/// Whether a command has the event store or reads the events from a broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventAccess {
    /// The event store (and its idempotency keys) is opened: a writer, or a projector beside it.
    Store,
    /// The events come from a broker (`--from`): no event store is opened or created, and no
    /// idempotency keys, since such a process takes no writes.
    Broker,
}

impl EventAccess {
    /// [`EventAccess::Broker`] when a broker URL is given.
    pub(crate) fn from_broker(url: Option<&String>) -> Self {
        match url {
            Some(_) => Self::Broker,
            None => Self::Store,
        }
    }
}

/// How a command uses the search indexes in the data directory (`<data>/search`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SearchAccess {
    /// Opened for this process alone, to project them; a second process is refused.
    Own,
    /// Read beside the process that owns them, for a report.
    Report,
    /// Left closed: the command touches no search read model.
    Closed,
}

impl Stores {
    /// Opens the stores `storage` names, the event store as `events` says, and the search
    /// indexes as `search` says. On
    /// PostgreSQL, `label` names this process in the sessions holding its projection leases
    /// (e.g. `projector serve http://127.0.0.1:8080`), so others can tell who runs a
    /// projection; the process id is added to it. A lease whose connection goes unanswered for
    /// `lease_timeout` is given up.
    pub(crate) async fn open(
        storage: &StorageArgs,
        label: &str,
        lease_timeout: Duration,
        events: EventAccess,
        search: SearchAccess,
    ) -> anyhow::Result<Self> {
        DataDir::new(&storage.data.data).make_private()?;
        let mut stores = match &storage.database_url {
            Some(url) => {
                let label = format!("{label} pid {}", std::process::id());
                let settings = PgSettings {
                    url,
                    run_migrations: !storage.no_migrate,
                    pool_size: usize::from(storage.database_pool_size),
                    label: &label,
                    lease_timeout,
                };
                Self::postgres(&settings, events).await?
            }
            None => Self::sqlite(&DataDir::new(&storage.data.data), events)?,
        };
        stores.cache = cache(&storage.cache)?;
        if let Some(cache) = &stores.cache {
            stores.described = format!(
                "{}, caches in Redis ({})",
                stores.described,
                cache.namespace()
            );
        }
        let data = DataDir::new(&storage.data.data);
        stores.search = match search {
            SearchAccess::Own => Some(data.open_search()?),
            SearchAccess::Report => Some(SearchStore::open_read_only(data.search_dir())),
            SearchAccess::Closed => None,
        };
        if let Some(search) = &stores.search {
            stores.described = format!(
                "{}, search indexes in {}",
                stores.described,
                search.root().display()
            );
        }
        Ok(stores)
    }

    /// Who holds the leases of `projections` now (absent: free); `None` on SQLite, where one
    /// process owns the data directory and there are no leases.
    pub(crate) async fn lease_holders(
        &self,
        projections: &[ProjectionName],
    ) -> anyhow::Result<Option<BTreeMap<ProjectionName, LeaseHolder>>> {
        match &self.pg_leases {
            Some(leases) => Ok(Some(
                leases
                    .holders(projections)
                    .await
                    .context("reading who holds the projection leases")?,
            )),
            None => Ok(None),
        }
    }

    /// Whether the event store applies the inline projections with its appends.
    pub(crate) fn applies_inline(&self) -> bool {
        self.inline
    }

    /// The leases on PostgreSQL, to ask who holds them; `None` on SQLite.
    pub(crate) fn pg_leases(&self) -> Option<&PgLeases> {
        self.pg_leases.as_ref()
    }

    /// The event store, which a command reading from a broker does not have.
    ///
    /// # Errors
    /// When the events come from a broker.
    pub(crate) fn events(&self) -> anyhow::Result<Arc<dyn EventStore>> {
        self.events
            .clone()
            .context("this command reads the events from a broker and has no event store")
    }

    /// The idempotency keys, kept beside the event store.
    ///
    /// # Errors
    /// When the events come from a broker.
    pub(crate) fn idempotency(&self) -> anyhow::Result<Arc<dyn IdempotencyStore>> {
        self.idempotency
            .clone()
            .context("this command reads the events from a broker and keeps no idempotency keys")
    }

    fn sqlite(data: &DataDir, access: EventAccess) -> anyhow::Result<Self> {
        let sqlite_reads = data.open_reads()?;
        let reads: Arc<dyn SqlReadStore> = Arc::new(sqlite_reads.clone());
        let controls = Arc::new(data.open_controls()?);
        let mut stores = Self {
            stream_reads: None,
            // SQLite's readers are a bounded pool per read model beside its one writer.
            queries: Arc::clone(&reads),
            reads,
            events: None,
            idempotency: None,
            leases: None,
            pg_leases: None,
            controls,
            cache: None,
            search: None,
            described: format!("SQLite in {}", data.root().display()),
            inline: false,
            closer: None,
        };
        if access == EventAccess::Store {
            let events = Arc::new(data.open_events(Durability::Full)?);
            // The built-in inline read models commit with the events that change them.
            let inline =
                InlineProjections::new(sqlite_reads, crate::read_models::sql_projections())
                    .context("setting up the inline projections")?;
            if !inline.is_empty() {
                events.set_inline(inline);
                stores.inline = true;
            }
            stores.idempotency = Some(Arc::new(data.open_idempotency()?));
            stores.closer = Some(Closer::Sqlite(Arc::clone(&events)));
            stores.stream_reads = Some(Arc::new(events.with_readers(STREAM_READERS)));
            stores.events = Some(events);
        }
        Ok(stores)
    }

    async fn postgres(settings: &PgSettings<'_>, access: EventAccess) -> anyhow::Result<Self> {
        let PgSettings {
            url,
            run_migrations,
            pool_size,
            label,
            lease_timeout,
        } = *settings;
        let events = match access {
            EventAccess::Store => Some(Arc::new(
                PgEventStore::connect(
                    url,
                    PgEventStoreOptions {
                        run_migrations,
                        pool_size,
                        ..PgEventStoreOptions::default()
                    },
                )
                .await
                .context("connecting the event store to PostgreSQL")?,
            )),
            EventAccess::Broker => None,
        };
        let reads = PgReadStore::connect(
            url,
            PgReadStoreOptions {
                run_migrations,
                pool_size,
                ..PgReadStoreOptions::default()
            },
        )
        .await
        .context("connecting the read store to PostgreSQL")?;
        let leases = PgLeases::new(url)
            .context("setting up projection leases")?
            .with_label(label)
            .with_timeout(lease_timeout);
        let queries = PgReadStore::connect(
            url,
            PgReadStoreOptions {
                run_migrations: false,
                statement_timeout: Some(QUERY_TIMEOUT),
                pool_size,
                ..PgReadStoreOptions::default()
            },
        )
        .await
        .context("connecting the read models' queries to PostgreSQL")?;
        // The built-in inline read models commit in the transaction of the events that change
        // them: the read store is on the event store's database.
        let mut inline = false;
        if let Some(events) = &events {
            let projections = PgInlineProjections::new(crate::read_models::sql_projections());
            if !projections.is_empty() {
                events.set_inline(projections);
                inline = true;
            }
        }
        let stream_reads = match &events {
            Some(events) => Some(Arc::new(
                events
                    .with_read_pool(url, STREAM_READERS.min(pool_size), QUERY_TIMEOUT)
                    .context("setting up the pool of HTTP stream reads")?,
            ) as Arc<dyn EventStore>),
            None => None,
        };
        Ok(Self {
            stream_reads,
            controls: Arc::new(reads.controls()),
            reads: Arc::new(reads),
            queries: Arc::new(queries),
            idempotency: events.as_ref().map(|events| {
                Arc::new(PgIdempotencyStore::new(events.pool().clone()))
                    as Arc<dyn IdempotencyStore>
            }),
            leases: Some(Arc::new(leases.clone())),
            pg_leases: Some(leases),
            cache: None,
            search: None,
            described: format!("PostgreSQL at {}", redact(url)),
            inline,
            closer: events.clone().map(Closer::Postgres),
            events: events.map(|events| events as Arc<dyn EventStore>),
        })
    }

    /// Lets the event store commit what was queued, then closes it.
    pub(crate) async fn close(&self) {
        match &self.closer {
            Some(Closer::Sqlite(store)) => store.close().await,
            Some(Closer::Postgres(store)) => store.close().await,
            None => {}
        }
    }
}

/// How the stores of one process open on PostgreSQL.
#[derive(Clone, Copy)]
struct PgSettings<'a> {
    url: &'a str,
    run_migrations: bool,
    /// The most connections each pool opens.
    pool_size: usize,
    /// Names this process in the sessions holding its leases.
    label: &'a str,
    lease_timeout: Duration,
}

/// The projection controls (pauses) where `storage` says, opened alone: the CLI sets them
/// beside a running server, which reads them within a second.
pub(crate) async fn controls(storage: &StorageArgs) -> anyhow::Result<Arc<dyn ProjectionControls>> {
    match &storage.database_url {
        Some(url) => {
            let reads = PgReadStore::connect(
                url,
                PgReadStoreOptions {
                    run_migrations: !storage.no_migrate,
                    pool_size: 1,
                    ..PgReadStoreOptions::default()
                },
            )
            .await
            .with_context(|| format!("connecting to PostgreSQL at {}", redact(url)))?;
            Ok(Arc::new(reads.controls()))
        }
        None => {
            let data = DataDir::new(&storage.data.data);
            data.make_private()?;
            Ok(Arc::new(data.open_controls()?))
        }
    }
}

/// The Redis of the caches, if `args` names one. It connects on first use, so a server starts
/// (and its reads fall back to SQL) while Redis is away, and uses it once it is back.
pub(crate) fn cache(args: &CacheArgs) -> anyhow::Result<Option<RedisStore>> {
    let Some(url) = &args.redis_url else {
        return Ok(None);
    };
    let namespace = Namespace::parse(&args.redis_namespace)
        .with_context(|| format!("--redis-namespace {:?}", args.redis_namespace))?;
    let store = RedisStore::lazy(url, namespace, RedisStoreOptions::default())
        .with_context(|| format!("the Redis URL {}", redact(url)))?;
    Ok(Some(store))
}
