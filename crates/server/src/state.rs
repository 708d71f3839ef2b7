//! What every handler shares: the stores, the projector and the settings.

use std::collections::BTreeMap;
use std::sync::Arc;

use projector_core::{EventStore, IdempotencyStore, ProjectionName, ProjectionTarget};
use projector_nats::RelayStatus;
use projector_redis::RedisTarget;
use projector_runtime::ProjectorHandle;
use projector_search::SearchStore;
use projector_sql::SqlReadStore;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Authenticator;
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::request_metrics::RequestMetrics;
use crate::sampler::{LeaseHolders, Sampler};
use crate::write_queue::{WritePlace, WriteQueue};

/// The server's shared state. Cloning is cheap.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn EventStore>,
    stream_reads: Option<Arc<dyn EventStore>>,
    reads: Arc<dyn SqlReadStore>,
    idempotency: Arc<dyn IdempotencyStore>,
    targets: BTreeMap<ProjectionName, Arc<dyn ProjectionTarget>>,
    customer_orders_cache: Option<Arc<RedisTarget>>,
    search: Option<SearchStore>,
    relay: Option<watch::Receiver<Option<RelayStatus>>>,
    authenticator: Arc<Authenticator>,
    projector: ProjectorHandle,
    config: ServerConfig,
    writes: TaskTracker,
    /// The writes waiting for the event store, and when a new one is turned away.
    write_queue: WriteQueue,
    stopping: CancellationToken,
    sampler: Arc<Sampler>,
    request_metrics: RequestMetrics,
    lease_holders: Option<Arc<dyn LeaseHolders>>,
    label: Option<String>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state over the given stores, the read models the projector keeps (`targets`, one
    /// per projection, of any kind) and the running projector. The SQL read models are
    /// queried through `reads`.
    pub fn new(
        store: Arc<dyn EventStore>,
        reads: Arc<dyn SqlReadStore>,
        idempotency: Arc<dyn IdempotencyStore>,
        targets: Vec<Arc<dyn ProjectionTarget>>,
        projector: ProjectorHandle,
        config: ServerConfig,
    ) -> Self {
        let write_queue = WriteQueue::new(config.max_queued_writes, config.write_latency_target);
        Self {
            inner: Arc::new(Inner {
                store,
                stream_reads: None,
                reads,
                idempotency,
                targets: targets.into_iter().map(|t| (t.name(), t)).collect(),
                customer_orders_cache: None,
                search: None,
                relay: None,
                authenticator: Arc::new(Authenticator::default()),
                projector,
                config,
                writes: TaskTracker::new(),
                write_queue,
                stopping: CancellationToken::new(),
                sampler: Arc::new(Sampler::default()),
                request_metrics: RequestMetrics::default(),
                lease_holders: None,
                label: None,
            }),
        }
    }

    /// Answers "my orders" from `cache` (the `customer_orders_cache` read model) when it is
    /// there and as fresh as the SQL read model; from SQL otherwise.
    ///
    /// # Panics
    /// When called after the state was cloned (it is set while building the server).
    pub fn with_customer_orders_cache(mut self, cache: Arc<RedisTarget>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the cache is set before the state is shared")
            .customer_orders_cache = Some(cache);
        self
    }

    /// Reads the streams clients ask for (an order's history) through `store`: the same event
    /// store on a bounded path of its own (see `PgEventStore::with_read_pool`), so a flood of
    /// such reads cannot take the connections projecting reads through. Without this, through
    /// the event store itself.
    ///
    /// # Panics
    /// When called after the state was cloned (it is set while building the server).
    pub fn with_stream_reads(mut self, store: Arc<dyn EventStore>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the stream reads are set before the state is shared")
            .stream_reads = Some(store);
        self
    }

    /// Answers searches from the indexes in `search`, which this process keeps (the
    /// `order_search` and `product_search` read models among them).
    ///
    /// # Panics
    /// When called after the state was cloned (it is set while building the server).
    pub fn with_search(mut self, search: SearchStore) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the search store is set before the state is shared")
            .search = Some(search);
        self
    }

    /// Accepts the callers `authenticator` accepts, and only them; without this (or with an
    /// authenticator with nothing configured), authentication is off.
    ///
    /// # Panics
    /// When called after the state was cloned (it is set while building the server).
    pub fn with_authenticator(mut self, authenticator: Arc<Authenticator>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the authenticator is set before the state is shared")
            .authenticator = authenticator;
        self
    }

    /// Who may call, and how they are told apart.
    pub fn authenticator(&self) -> &Arc<Authenticator> {
        &self.inner.authenticator
    }

    /// The "my orders" cache, when configured.
    pub(crate) fn customer_orders_cache(&self) -> Option<&Arc<RedisTarget>> {
        self.inner.customer_orders_cache.as_ref()
    }

    /// Reports the relay this process runs (`serve --publish`) in the admin API.
    ///
    /// # Panics
    /// When called after the state was cloned (it is set while building the server).
    pub fn with_relay(mut self, relay: watch::Receiver<Option<RelayStatus>>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the relay is set before the state is shared")
            .relay = Some(relay);
        self
    }

    /// Names the process holding the leases of the projections this one stands by for, in the
    /// admin API and the dashboard (on PostgreSQL, where leases are kept).
    ///
    /// # Panics
    /// When called after the state was cloned (it is set while building the server).
    pub fn with_lease_holders(mut self, holders: Arc<dyn LeaseHolders>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the lease holders are set before the state is shared")
            .lease_holders = Some(holders);
        self
    }

    /// How this process is named as the holder of the projections it runs (the label its
    /// leases carry); "this process" without.
    ///
    /// # Panics
    /// When called after the state was cloned (it is set while building the server).
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the label is set before the state is shared")
            .label = Some(label.into());
        self
    }

    /// Who holds the leases of projections this process stands by for, when known.
    pub(crate) fn lease_holders(&self) -> Option<&Arc<dyn LeaseHolders>> {
        self.inner.lease_holders.as_ref()
    }

    /// How this process names itself as a lease holder.
    pub(crate) fn label(&self) -> &str {
        self.inner.label.as_deref().unwrap_or("this process")
    }

    /// Each request's count and duration, by method, route and status.
    pub(crate) fn request_metrics(&self) -> &RequestMetrics {
        &self.inner.request_metrics
    }

    /// The last hour of lag and throughput, for the dashboard.
    pub(crate) fn sampler(&self) -> &Sampler {
        &self.inner.sampler
    }

    /// Where the relay of this process stands, when it runs one and it has started.
    pub(crate) fn relay(&self) -> Option<RelayStatus> {
        self.inner.relay.as_ref().and_then(|r| r.borrow().clone())
    }

    /// The search indexes of this process, when it keeps them.
    pub(crate) fn search(&self) -> Option<&SearchStore> {
        self.inner.search.as_ref()
    }

    /// The event store (the write model).
    pub fn store(&self) -> &dyn EventStore {
        self.inner.store.as_ref()
    }

    /// The event store as reads of a client's asking reach it (an order's history): on a
    /// bounded path of its own when [`AppState::with_stream_reads`] set one.
    pub fn stream_reads(&self) -> &dyn EventStore {
        self.inner
            .stream_reads
            .as_deref()
            .unwrap_or(self.inner.store.as_ref())
    }

    /// The SQL read models, for queries.
    pub fn reads(&self) -> &dyn SqlReadStore {
        self.inner.reads.as_ref()
    }

    /// The read model of `projection`, bound to its store.
    pub fn target(&self, projection: &ProjectionName) -> Option<&Arc<dyn ProjectionTarget>> {
        self.inner.targets.get(projection)
    }

    /// Remembered answers to idempotent requests.
    pub fn idempotency(&self) -> &dyn IdempotencyStore {
        self.inner.idempotency.as_ref()
    }

    /// The running projector.
    pub fn projector(&self) -> &ProjectorHandle {
        &self.inner.projector
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Cancelled when the server begins to shut down: reads waiting for a position are then
    /// answered at once rather than holding shutdown up.
    pub(crate) fn stopping(&self) -> &CancellationToken {
        &self.inner.stopping
    }

    /// The writes running on tasks of their own, which shutdown waits for.
    pub(crate) fn writes(&self) -> &TaskTracker {
        &self.inner.writes
    }

    /// A place among the writes waiting for the event store, held until the write ends, or
    /// [`ApiError::WritesQueued`] at once when every place is taken.
    pub(crate) fn write_place(&self) -> Result<WritePlace, ApiError> {
        self.inner.write_queue.enter()
    }
}
