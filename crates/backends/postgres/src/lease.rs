//! Projection leases: each projection runs in exactly one process at a time, across every
//! process on one database.
//!
//! A lease is a session-level advisory lock (`pg_try_advisory_lock`) held on a connection of
//! its own for as long as the process owns the projection. Nothing has to expire or be renewed:
//! when the holder's session ends (the process exits or dies, the connection drops, or an
//! operator terminates the backend), PostgreSQL releases the lock at once and the next
//! [`PgLeases::acquire`] that polls takes over. A heartbeat on the lease's connection notices a
//! lost session and reports it through [`LeaseGuard::lost`], so the holder stops working on a
//! projection it may no longer own.
//!
//! Acquire the lease before starting a projection's worker, and stop the worker when
//! [`LeaseGuard::lost`] fires.

use std::time::Duration;

use futures::StreamExt;
use projector_core::ProjectionName;
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;

use crate::error::describe;
use crate::pool::{self, PoolSetupError};

/// Why a lease could not be taken or kept.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The database URL is invalid.
    #[error(transparent)]
    Setup(#[from] PoolSetupError),
    /// The database could not be reached.
    ///
    /// # Handling
    /// Retry later; without the lease the projection must not run.
    #[error("lease database unavailable: {message}")]
    Unavailable {
        /// What went wrong.
        message: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

impl From<tokio_postgres::Error> for LeaseError {
    fn from(source: tokio_postgres::Error) -> Self {
        LeaseError::Unavailable {
            message: describe(&source),
            source,
        }
    }
}

/// Takes projection leases on one database.
#[derive(Clone, Debug)]
pub struct PgLeases {
    config: tokio_postgres::Config,
    retry: Duration,
    heartbeat: Duration,
}

impl PgLeases {
    /// Leases on the database at `url`. [`PgLeases::acquire`] polls every second; the
    /// heartbeat checks a held lease's session every second.
    ///
    /// # Errors
    /// [`LeaseError::Setup`] for an invalid URL.
    pub fn new(url: &str) -> Result<Self, LeaseError> {
        Ok(Self {
            config: pool::config(url)?,
            retry: Duration::from_secs(1),
            heartbeat: Duration::from_secs(1),
        })
    }

    /// Sets how often [`PgLeases::acquire`] tries again while another process holds the lease.
    pub fn with_retry(mut self, retry: Duration) -> Self {
        self.retry = retry;
        self
    }

    /// Names this process in the sessions that hold its leases (their `application_name`,
    /// at most 63 bytes), so [`PgLeases::holders`] and operators can tell which process runs
    /// a projection, e.g. `projector serve http://10.0.0.5:8080 pid 4242`.
    pub fn with_label(mut self, label: &str) -> Self {
        let mut end = label.len().min(63);
        while !label.is_char_boundary(end) {
            end -= 1;
        }
        self.config.application_name(&label[..end]);
        self
    }

    /// The connection settings of lease sessions.
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// Sets how often a held lease checks that its session is alive.
    pub fn with_heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// Takes the lease of `projection` if no other session holds it.
    ///
    /// # Errors
    /// [`LeaseError::Unavailable`] when the database cannot be reached.
    pub async fn try_acquire(
        &self,
        projection: &ProjectionName,
    ) -> Result<Option<LeaseGuard>, LeaseError> {
        let (client, connection) = self.config.connect(NoTls).await?;
        let lost = CancellationToken::new();
        // The connection's driver: when it ends, the session (and with it the lock) is gone.
        let driver = {
            let lost = lost.clone();
            let mut connection = connection;
            tokio::spawn(async move {
                let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                while let Some(message) = messages.next().await {
                    if message.is_err() {
                        break;
                    }
                }
                lost.cancel();
            })
        };
        let key = lease_key(projection);
        let row = match client
            .query_one("SELECT pg_try_advisory_lock($1), pg_backend_pid()", &[&key])
            .await
        {
            Ok(row) => row,
            Err(error) => {
                driver.abort();
                return Err(error.into());
            }
        };
        let (taken, backend_pid): (bool, i32) = (row.try_get(0)?, row.try_get(1)?);
        if !taken {
            driver.abort();
            return Ok(None);
        }
        let client = std::sync::Arc::new(client);
        let heartbeat = {
            let client = std::sync::Arc::clone(&client);
            let lost = lost.clone();
            let every = self.heartbeat;
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = lost.cancelled() => return,
                        () = tokio::time::sleep(every) => {}
                    }
                    if client.simple_query("SELECT 1").await.is_err() {
                        lost.cancel();
                        return;
                    }
                }
            })
        };
        tracing::info!(%projection, backend_pid, "lease acquired");
        Ok(Some(LeaseGuard {
            projection: projection.clone(),
            key,
            backend_pid,
            client,
            lost,
            driver,
            heartbeat,
        }))
    }

    /// Waits until the lease of `projection` is free and takes it, trying again every retry
    /// interval while another session holds it.
    ///
    /// # Errors
    /// [`LeaseError::Unavailable`] when the database cannot be reached.
    pub async fn acquire(&self, projection: &ProjectionName) -> Result<LeaseGuard, LeaseError> {
        loop {
            if let Some(guard) = self.try_acquire(projection).await? {
                return Ok(guard);
            }
            tokio::time::sleep(self.retry).await;
        }
    }
}

/// A held lease. Dropping it ends its session, which releases the lock.
#[derive(Debug)]
pub struct LeaseGuard {
    projection: ProjectionName,
    key: i64,
    backend_pid: i32,
    client: std::sync::Arc<tokio_postgres::Client>,
    lost: CancellationToken,
    driver: tokio::task::JoinHandle<()>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl LeaseGuard {
    /// The projection leased.
    pub fn projection(&self) -> &ProjectionName {
        &self.projection
    }

    /// The server process of the lease's session (for `pg_stat_activity` and operators).
    pub fn backend_pid(&self) -> i32 {
        self.backend_pid
    }

    /// Cancelled once the lease's session is gone: the lock may already be another
    /// process's, so work on the projection must stop.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Whether the session still holds the lock, as far as this process knows.
    pub fn is_held(&self) -> bool {
        !self.lost.is_cancelled()
    }

    /// Gives the lease up at once (rather than when the session closes).
    ///
    /// # Errors
    /// [`LeaseError::Unavailable`] when the session is already gone (and the lock with it).
    pub async fn release(self) -> Result<(), LeaseError> {
        self.client
            .execute("SELECT pg_advisory_unlock($1)", &[&self.key])
            .await?;
        tracing::info!(projection = %self.projection, "lease released");
        Ok(())
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.heartbeat.abort();
        self.driver.abort();
        self.lost.cancel();
    }
}

/// The advisory lock key of a projection's lease: FNV-1a of `projector.lease:<name>`, so
/// leases live apart from the other keys this backend locks.
pub(crate) fn lease_key(projection: &ProjectionName) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"projector.lease:"
        .iter()
        .chain(projection.as_str().as_bytes())
    {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

#[async_trait::async_trait]
impl projector_core::LeaseProvider for PgLeases {
    async fn try_acquire(
        &self,
        projection: &ProjectionName,
    ) -> Result<Option<Box<dyn projector_core::Lease>>, projector_core::StoreError> {
        match PgLeases::try_acquire(self, projection).await {
            Ok(lease) => Ok(lease.map(|guard| Box::new(guard) as Box<dyn projector_core::Lease>)),
            Err(error) => Err(projector_core::StoreError::unavailable(
                format!("taking the lease on {projection}"),
                error,
            )),
        }
    }
}

#[async_trait::async_trait]
impl projector_core::Lease for LeaseGuard {
    async fn lost(&self) {
        LeaseGuard::lost(self).cancelled().await;
    }
}
