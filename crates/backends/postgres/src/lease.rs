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
//!
//! # A hung connection
//!
//! A network can also hang without closing anything (no FIN, no RST): then neither end hears
//! that the other is gone, and without bounds the holder would wait forever on its heartbeat
//! while the server kept the lock, or worse, the server could end the session while the holder
//! still believed it owned the projection. Both ends are bounded by the lease timeout `T`
//! ([`PgLeases::with_timeout`], 5 s by default), so that the holder always gives up first:
//!
//! - The holder sends a heartbeat at least every `T / 3` and gives the lease up (fires
//!   [`LeaseGuard::lost`] and closes the session) once `T` has passed since it *sent* the last
//!   heartbeat that was answered. Taking the lease (connecting and the lock query) is bounded
//!   by `T` as well. TCP keepalives and `TCP_USER_TIMEOUT` (at most `T`) on the connection can
//!   only make it notice a dead peer sooner.
//! - The server ends the session, and so releases the lock, once no statement has arrived for
//!   `2 T` (`idle_session_timeout`, set for the lease's session only; PostgreSQL 14 or later).
//!   Its idle clock starts when it finished the last statement, which is after the holder sent
//!   it, so the lock is released no earlier than `2 T` after the send the holder counts from,
//!   and `T` after the holder gave up. That margin covers a batch in flight when the lease is
//!   lost and a slow scheduler on the holder's side. (The server's own TCP keepalives would not
//!   do: they are answered by anything that keeps the TCP connection up, such as a proxy or a
//!   load balancer, and count whole seconds.)
//!
//! A standby therefore takes over at most about `2 T` plus its retry interval after the holder's
//! network hung, and never while the holder still works. A holder that merely went unanswered
//! for `T` (an overloaded database, say) gives the lease up too and stands by; its session is
//! closed, so the lease is free at once for whichever process takes it next.

use std::sync::Arc;
use std::time::Duration;

use crate::tls::Connector;
use futures::StreamExt;
use projector_core::ProjectionName;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::describe;
use crate::heartbeat::{self, Timing};
use crate::pool::{self, PoolSetupError};

/// How long a lease holder goes without an answered heartbeat before it gives the lease up,
/// unless [`PgLeases::with_timeout`] says otherwise.
pub const DEFAULT_LEASE_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// The database did not answer within the lease timeout: the connection hangs, or the
    /// database is overloaded.
    ///
    /// # Handling
    /// As [`LeaseError::Unavailable`]: retry later, and do not run the projection meanwhile.
    #[error("lease database did not answer within {0:?}")]
    TimedOut(Duration),
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
    tls: Connector,
    retry: Duration,
    heartbeat: Duration,
    timeout: Duration,
}

impl PgLeases {
    /// Leases on the database at `url`. [`PgLeases::acquire`] polls every second; the
    /// heartbeat checks a held lease's session every second, and the holder gives the lease up
    /// after [`DEFAULT_LEASE_TIMEOUT`] without an answer.
    ///
    /// # Errors
    /// [`LeaseError::Setup`] for an invalid URL.
    pub fn new(url: &str) -> Result<Self, LeaseError> {
        Ok(Self {
            config: pool::config(url)?,
            tls: pool::connector(url)?,
            retry: Duration::from_secs(1),
            heartbeat: Duration::from_secs(1),
            timeout: DEFAULT_LEASE_TIMEOUT,
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

    /// The TLS connector of its database.
    pub(crate) fn tls(&self) -> &Connector {
        &self.tls
    }

    /// Sets how often a held lease checks that its session is alive; at most a third of the
    /// lease timeout is used, so a late answer or two do not lose the lease.
    pub fn with_heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// Sets the lease timeout `T`: a holder whose heartbeats go unanswered for `T` (a hung
    /// connection) gives the lease up, and the database frees the lease `2 T` after the last
    /// heartbeat it received, so a standby can take over (see the module docs). Kept between
    /// 10 ms and about 12 days.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn timing(&self) -> Timing {
        Timing::new(self.timeout, self.heartbeat)
    }

    /// Takes the lease of `projection` if no other session holds it.
    ///
    /// # Errors
    /// [`LeaseError::Unavailable`] when the database cannot be reached, and
    /// [`LeaseError::TimedOut`] when it does not answer within the lease timeout.
    pub async fn try_acquire(
        &self,
        projection: &ProjectionName,
    ) -> Result<Option<LeaseGuard>, LeaseError> {
        self.try_lock(projection, lease_key(projection), false)
            .await
    }

    /// Takes the advisory lock `key` (for `projection`'s lease, or shared for a membership)
    /// on a session of its own, kept alive by the heartbeat.
    pub(crate) async fn try_lock(
        &self,
        projection: &ProjectionName,
        key: i64,
        shared: bool,
    ) -> Result<Option<LeaseGuard>, LeaseError> {
        let timing = self.timing();
        let timed_out = || LeaseError::TimedOut(timing.timeout);
        // Connecting and the lock query are bounded together: either may hang. A lock taken
        // by a query that timed out is freed with its session, which the server ends at the
        // latest when its idle timeout runs out.
        let deadline = Instant::now() + timing.timeout;
        let (client, connection) = tokio::time::timeout_at(
            deadline,
            timing.session(&self.config).connect(self.tls.0.clone()),
        )
        .await
        .map_err(|_| timed_out())??;
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
        let sent = Instant::now();
        let lock = if shared {
            "SELECT pg_try_advisory_lock_shared($1), pg_backend_pid()"
        } else {
            "SELECT pg_try_advisory_lock($1), pg_backend_pid()"
        };
        let answer = match tokio::time::timeout_at(deadline, client.query_one(lock, &[&key])).await
        {
            Ok(Ok(row)) => taken_by(&row),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(timed_out()),
        };
        let backend_pid = match answer {
            Ok(Some(backend_pid)) => backend_pid,
            other => {
                driver.abort();
                return other.map(|_| None);
            }
        };
        let client = Arc::new(client);
        let heartbeat = tokio::spawn(heartbeat::beat(
            Arc::clone(&client),
            projection.clone(),
            timing,
            sent,
            lost.clone(),
            driver.abort_handle(),
        ));
        tracing::info!(%projection, backend_pid, shared, "lease acquired");
        Ok(Some(LeaseGuard {
            projection: projection.clone(),
            key,
            shared,
            backend_pid,
            timeout: timing.timeout,
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
    /// [`LeaseError::Unavailable`] when the database cannot be reached, and
    /// [`LeaseError::TimedOut`] when it does not answer within the lease timeout.
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
    shared: bool,
    backend_pid: i32,
    timeout: Duration,
    pub(crate) client: Arc<tokio_postgres::Client>,
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

    /// Cancelled once the lease's session is gone or has gone unanswered for the lease
    /// timeout: the lock may already be another process's, so work on the projection must
    /// stop.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// The lease timeout its session is bounded by.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether the session still holds the lock, as far as this process knows.
    pub fn is_held(&self) -> bool {
        !self.lost.is_cancelled()
    }

    /// Gives the lease up at once (rather than when the session closes).
    ///
    /// # Errors
    /// [`LeaseError::Unavailable`] when the session is already gone (and the lock with it),
    /// [`LeaseError::TimedOut`] when it does not answer within the lease timeout (dropping the
    /// guard then closes it).
    pub async fn release(self) -> Result<(), LeaseError> {
        let unlock = if self.shared {
            "SELECT pg_advisory_unlock_shared($1)"
        } else {
            "SELECT pg_advisory_unlock($1)"
        };
        tokio::time::timeout(self.timeout, self.client.execute(unlock, &[&self.key]))
            .await
            .map_err(|_| LeaseError::TimedOut(self.timeout))??;
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

/// The backend holding the lock from the answer to the lock query, `None` if not taken.
fn taken_by(row: &tokio_postgres::Row) -> Result<Option<i32>, LeaseError> {
    let taken: bool = row.try_get(0)?;
    Ok(if taken { Some(row.try_get(1)?) } else { None })
}

/// The advisory lock key of a projection's lease: FNV-1a of `projector.lease:<name>`, so
/// leases live apart from the other keys this backend locks.
pub(crate) fn lease_key(projection: &ProjectionName) -> i64 {
    key(b"projector.lease:", projection)
}

/// FNV-1a of `prefix` and the projection's name, as an advisory lock key.
pub(crate) fn key(prefix: &[u8], projection: &ProjectionName) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in prefix.iter().chain(projection.as_str().as_bytes()) {
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

    async fn join(
        &self,
        group: &ProjectionName,
    ) -> Result<Option<Box<dyn projector_core::Membership>>, projector_core::StoreError> {
        match self.join_group(group).await {
            Ok(membership) => {
                Ok(membership.map(|m| Box::new(m) as Box<dyn projector_core::Membership>))
            }
            Err(error) => Err(projector_core::StoreError::unavailable(
                format!("joining the processes running {group}"),
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
