//! [`RedisStore`]: a connection to Redis under a key namespace, shared by every Redis target
//! and read of a process.

use std::sync::Arc;
use std::time::Duration;

use projector_core::{ProjectionName, ReadStoreError};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ScriptInvocation, Value};
use tokio::sync::OnceCell;

use crate::catalog::Catalog;
use crate::namespace::{Namespace, ProjectionKeys};
use crate::read::RedisRead;
use crate::scripts::Reply;

/// How a [`RedisStore`] talks to Redis and tidies up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedisStoreOptions {
    /// How long a command or script may go unanswered before it fails as unavailable (the
    /// projector then retries; a write whose answer was lost is found done or refused).
    /// Default: 10 s, room for a batch of a few thousand writes.
    pub response_timeout: Duration,
    /// How long connecting may take. Default: 2 s.
    pub connection_timeout: Duration,
    /// How long a retired generation stays readable before its keys are removed, so reads
    /// that picked it just before a swap still finish on it. Default: 5 s.
    pub retired_grace: Duration,
    /// How many keys one step of removing a retired generation asks `SCAN` for and unlinks, so
    /// Redis is never blocked for long. Default: 500.
    pub sweep_step: usize,
}

impl Default for RedisStoreOptions {
    fn default() -> Self {
        Self {
            response_timeout: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(2),
            retired_grace: Duration::from_secs(5),
            sweep_step: 500,
        }
    }
}

/// A connection to Redis under a key namespace. It reconnects on its own; a command that
/// fails meanwhile is `ReadStoreError::Unavailable`, which the projector retries. Cloning
/// shares the connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    /// Made on first use and kept: a store opened while Redis is away connects once it is back.
    conn: OnceCell<ConnectionManager>,
    namespace: Namespace,
    options: RedisStoreOptions,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("namespace", &self.inner.namespace)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://host:port/db`) with default options.
    ///
    /// # Errors
    /// `ReadStoreError::Unavailable` when the URL is invalid or Redis cannot be reached.
    pub async fn connect(url: &str, namespace: Namespace) -> Result<Self, ReadStoreError> {
        Self::connect_with(url, namespace, RedisStoreOptions::default()).await
    }

    /// Connects to the Redis at `url` with `options`.
    ///
    /// # Errors
    /// `ReadStoreError::Unavailable` when the URL is invalid or Redis cannot be reached.
    pub async fn connect_with(
        url: &str,
        namespace: Namespace,
        options: RedisStoreOptions,
    ) -> Result<Self, ReadStoreError> {
        let store = Self::lazy(url, namespace, options)?;
        store.connection().await?;
        Ok(store)
    }

    /// A store for the Redis at `url` that connects on first use (and again on each use until
    /// it can): for a server that must start, and recover, while Redis is away. Until then
    /// every command is `ReadStoreError::Unavailable`.
    ///
    /// # Errors
    /// `ReadStoreError::Unavailable` when the URL is invalid.
    pub fn lazy(
        url: &str,
        namespace: Namespace,
        options: RedisStoreOptions,
    ) -> Result<Self, ReadStoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| ReadStoreError::unavailable("invalid Redis URL", e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                conn: OnceCell::new(),
                namespace,
                options,
            }),
        })
    }

    /// The namespace every key of this store starts with.
    pub fn namespace(&self) -> &Namespace {
        &self.inner.namespace
    }

    /// The options the store was connected with.
    pub fn options(&self) -> RedisStoreOptions {
        self.inner.options
    }

    /// A read of the generation serving `projection`'s reads, as it is now.
    ///
    /// # Errors
    /// `ReadStoreError::NoGeneration` when no generation serves (the projection has not
    /// started, or Redis lost its keys and it is being built again).
    pub async fn read(&self, projection: &ProjectionName) -> Result<RedisRead, ReadStoreError> {
        let keys = self.keys(projection);
        let catalog = Catalog::load(self, &keys).await?;
        match catalog.as_ref().and_then(|c| c.serving.as_ref()) {
            Some(serving) => Ok(RedisRead::new(
                self.clone(),
                projection.clone(),
                keys.generation(&serving.epoch, serving.generation),
                serving.generation,
                serving.version,
                serving.checkpoint,
            )),
            None => Err(ReadStoreError::NoGeneration {
                projection: projection.clone(),
                generation: "serving".into(),
            }),
        }
    }

    pub(crate) fn keys(&self, projection: &ProjectionName) -> ProjectionKeys {
        ProjectionKeys::new(&self.inner.namespace, projection)
    }

    /// A handle on the shared connection, connecting first if this store never has.
    pub(crate) async fn connection(&self) -> Result<ConnectionManager, ReadStoreError> {
        let options = self.inner.options;
        self.inner
            .conn
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_response_timeout(Some(options.response_timeout))
                    .set_connection_timeout(Some(options.connection_timeout))
                    .set_number_of_retries(3);
                ConnectionManager::new_with_config(self.inner.client.clone(), config)
                    .await
                    .map_err(|e| unavailable("connecting to Redis", e))
            })
            .await
            .cloned()
    }

    /// Runs a script and reads its status.
    pub(crate) async fn run(
        &self,
        what: &'static str,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<Reply, ReadStoreError> {
        Reply::parse(self.eval(what, invocation).await?)
    }

    /// Runs a script and returns its raw answer.
    pub(crate) async fn eval(
        &self,
        what: &'static str,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<Value, ReadStoreError> {
        let mut conn = self.connection().await?;
        invocation
            .invoke_async::<Value>(&mut conn)
            .await
            .map_err(|e| unavailable(what, e))
    }
}

/// A Redis failure, for the projector: unavailable, so retried with backoff, unless Redis
/// refused the command for the type of its key, which retrying cannot mend (a projection that
/// reads a key as another type than it wrote it).
pub(crate) fn unavailable(what: &str, error: redis::RedisError) -> ReadStoreError {
    if error.code() == Some("WRONGTYPE") {
        return ReadStoreError::Query {
            message: format!("{what}: {error}"),
            transient: false,
            source: Some(error.into()),
        };
    }
    ReadStoreError::unavailable(format!("{what}: {error}"), error)
}
