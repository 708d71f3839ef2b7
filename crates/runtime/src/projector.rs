//! [`Projector`] assembles projections and starts a worker for each; [`ProjectorHandle`] is how
//! the rest of the system asks about them, waits for them and rebuilds them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use projector_core::{
    EventFeed, Generation, GlobalPosition, LeaseProvider, MemoryControls, ProjectionControls,
    ProjectionName,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{RuntimeError, WaitError};
use crate::options::ProjectorOptions;
use crate::status::{Lag, ProjectionStatus, WorkerState};
use crate::worker::{Command, Worker};
use projector_core::ProjectionTarget;

mod dead_letters;
mod partitions;

/// The projections to run over one event feed.
pub struct Projector {
    feed: Arc<dyn EventFeed>,
    options: ProjectorOptions,
    targets: Vec<Arc<dyn ProjectionTarget>>,
    leases: Option<Arc<dyn LeaseProvider>>,
    controls: Option<Arc<dyn ProjectionControls>>,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("options", &self.options)
            .field(
                "projections",
                &self.targets.iter().map(|t| t.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Projector {
    /// A projector over the feed with no projections yet.
    pub fn new(feed: Arc<dyn EventFeed>, options: ProjectorOptions) -> Self {
        Self {
            feed,
            options,
            targets: Vec::new(),
            leases: None,
            controls: None,
        }
    }

    /// Keeps operators' pauses in `controls` (a table beside the read store's catalog), so a
    /// pause outlives the process and holds in whichever process runs the projection next.
    /// Without it, pauses are kept in memory and lost with the process.
    pub fn with_controls(mut self, controls: Arc<dyn ProjectionControls>) -> Self {
        self.controls = Some(controls);
        self
    }

    /// Runs each projection only while this process holds its lease from `leases`, standing by
    /// otherwise: for several processes on one database. A local read model (a target whose
    /// `local()` is true, each process keeping its own) runs here whatever the leases.
    pub fn with_leases(mut self, leases: Arc<dyn LeaseProvider>) -> Self {
        self.leases = Some(leases);
        self
    }

    /// Adds a projection bound to its read model: a target of any kind (e.g.
    /// `projector_sql::SqlTarget` for SQL tables).
    pub fn with_target(mut self, target: impl ProjectionTarget) -> Self {
        self.targets.push(Arc::new(target));
        self
    }

    /// Type names that two projections read from different streams (one by category, one
    /// from every stream): a projection reading a shared name such as `Created` from every
    /// stream receives the events of both domains. [`start`](Self::start) logs each one.
    pub fn type_name_collisions(&self) -> Vec<String> {
        let filters: Vec<_> = self
            .targets
            .iter()
            .map(|t| (t.name(), t.filter()))
            .collect();
        projector_core::type_name_collisions(&filters)
    }

    /// Starts a worker per projection on the current tokio runtime, to run until
    /// [`ProjectorHandle::stop`].
    ///
    /// # Errors
    /// [`RuntimeError::DuplicateProjection`] when two projections share a name.
    pub fn spawn(self) -> Result<ProjectorHandle, RuntimeError> {
        self.start(CancellationToken::new())
    }

    /// Starts a worker per projection on the current tokio runtime. They run until `shutdown`
    /// is cancelled, each finishing (committing or rolling back) its batch in hand.
    ///
    /// # Errors
    /// [`RuntimeError::DuplicateProjection`] when two projections share a name.
    pub fn start(self, shutdown: CancellationToken) -> Result<ProjectorHandle, RuntimeError> {
        for collision in self.type_name_collisions() {
            tracing::warn!(%collision, "projections read one event type from different streams");
        }
        let mut workers = BTreeMap::new();
        let mut tasks = Vec::new();
        let controls = self
            .controls
            .unwrap_or_else(|| Arc::new(MemoryControls::default()));
        let mut batches =
            crate::shared_feed::partition_feeds(&self.feed, &self.targets, self.options.batch_size);
        let mut groups = crate::balance::Groups::default();
        for target in self.targets {
            let name = target.name();
            if workers.contains_key(&name) {
                return Err(RuntimeError::DuplicateProjection(name));
            }
            let (status, status_rx) =
                watch::channel(ProjectionStatus::starting(name.clone(), target.version()));
            let (commands, commands_rx) = mpsc::channel(8);
            // A read model each process keeps for itself is projected in every process.
            let leases = if target.local() {
                None
            } else {
                self.leases.clone()
            };
            let balance = leases
                .as_ref()
                .and_then(|l| groups.balance(&name, l, self.options.lease_retry));
            let worker = Worker {
                filter: Arc::new(target.filter()),
                target: Arc::clone(&target),
                feed: Arc::clone(&self.feed),
                batches: batches
                    .remove(&name)
                    .unwrap_or_else(|| Arc::clone(&self.feed)),
                options: self.options,
                status,
                commands: commands_rx,
                shutdown: shutdown.clone(),
                head: self.feed.watch_head(),
                leases,
                balance,
                failures: 0,
                newer_version: None,
                ahead: None,
                lease_not_before: tokio::time::Instant::now(),
                next_probe: tokio::time::Instant::now() + crate::volatile::PROBE_EVERY,
                controls: Arc::clone(&controls),
                paused: None,
                controls_read: false,
                next_control_check: tokio::time::Instant::now(),
            };
            tasks.push(tokio::spawn(worker.run()));
            workers.insert(
                name,
                WorkerHandle {
                    status: status_rx,
                    commands,
                    target,
                },
            );
        }
        Ok(ProjectorHandle {
            inner: Arc::new(HandleInner {
                feed: self.feed,
                workers,
                tasks: Mutex::new(tasks),
                shutdown,
            }),
        })
    }
}

pub(crate) struct WorkerHandle {
    status: watch::Receiver<ProjectionStatus>,
    pub(crate) commands: mpsc::Sender<Command>,
    /// For what is read from the store directly, on a standby too (dead letters).
    target: Arc<dyn ProjectionTarget>,
}

impl std::fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A running projector. Cloning shares it.
#[derive(Clone, Debug)]
pub struct ProjectorHandle {
    inner: Arc<HandleInner>,
}

struct HandleInner {
    feed: Arc<dyn EventFeed>,
    workers: BTreeMap<ProjectionName, WorkerHandle>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for HandleInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandleInner")
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl ProjectorHandle {
    /// The names of the projections, in order.
    pub fn names(&self) -> Vec<ProjectionName> {
        self.inner.workers.keys().cloned().collect()
    }

    /// The current status of one projection.
    /// A projection run as partitions shows its slowest partition's.
    pub fn status(&self, name: &ProjectionName) -> Option<ProjectionStatus> {
        match self.inner.workers.get(name) {
            Some(w) => Some(w.status.borrow().clone()),
            None => self.partitioned_status(name),
        }
    }

    /// The current status of every projection.
    pub fn statuses(&self) -> Vec<ProjectionStatus> {
        self.inner
            .workers
            .values()
            .map(|w| w.status.borrow().clone())
            .collect()
    }

    /// A watch of one projection's status, for callers that follow it.
    pub fn watch(&self, name: &ProjectionName) -> Option<watch::Receiver<ProjectionStatus>> {
        self.inner.workers.get(name).map(|w| w.status.clone())
    }

    /// How far each projection trails the head of the feed, now.
    ///
    /// # Errors
    /// The event store's error reading the head.
    pub async fn lags(&self) -> Result<Vec<(ProjectionStatus, Lag)>, RuntimeError> {
        let head = self.inner.feed.head().await?;
        let now = Utc::now();
        Ok(self
            .statuses()
            .into_iter()
            .map(|s| {
                let lag = s.lag(head, now);
                (s, lag)
            })
            .collect())
    }

    /// Publishes each projection's gauges for a scrape: lag, dead letters, rebuild progress and
    /// state (see `scrape`).
    ///
    /// # Errors
    /// The event store's error reading the head.
    pub async fn publish_lag_metrics(&self) -> Result<(), RuntimeError> {
        crate::scrape::publish(&self.lags().await?);
        Ok(())
    }

    /// Waits until `name` has applied every event up to `position`, for at most `timeout`.
    /// Returns the position reached.
    ///
    /// # Errors
    /// A [`WaitError`] naming the position reached when time ran out or the projection stopped.
    pub async fn wait_for(
        &self,
        name: &ProjectionName,
        position: GlobalPosition,
        timeout: Duration,
    ) -> Result<GlobalPosition, WaitError> {
        let Some(worker) = self.inner.workers.get(name) else {
            return self.wait_for_partitions(name, position, timeout).await;
        };
        let mut status = worker.status.clone();
        let done = |s: &ProjectionStatus| {
            s.checkpoint >= position
                || matches!(
                    s.state,
                    WorkerState::Stopped { .. }
                        | WorkerState::Diverged { .. }
                        | WorkerState::ShutDown
                )
        };
        // The guard `wait_for` returns must go before borrowing again: holding a read lock while
        // taking another deadlocks against a worker waiting to publish.
        let waited = tokio::time::timeout(timeout, status.wait_for(done))
            .await
            .map(|seen| seen.map(|_| ()));
        let current = worker.status.borrow().clone();
        // A read model past the head holds positions of events the store no longer has:
        // reaching a position there proves nothing.
        if let WorkerState::Diverged { head, error, .. } = current.state {
            return Err(WaitError::Diverged {
                projection: name.clone(),
                reached: current.checkpoint,
                head,
                error,
            });
        }
        if current.checkpoint >= position {
            return Ok(current.checkpoint);
        }
        match (waited, current.state) {
            (
                _,
                WorkerState::Stopped {
                    position: stopped_at,
                    error,
                },
            ) => Err(WaitError::Stopped {
                projection: name.clone(),
                reached: current.checkpoint,
                stopped_at,
                error,
            }),
            (Ok(_), _) | (_, WorkerState::ShutDown) => Err(WaitError::ShutDown {
                projection: name.clone(),
                reached: current.checkpoint,
            }),
            (Err(_), _) => Err(WaitError::TimedOut {
                projection: name.clone(),
                wanted: position,
                reached: current.checkpoint,
            }),
        }
    }

    /// Waits until every projection has a serving read model, opened here or (on standby) by
    /// the process that holds it; it may still be catching up. Reads then find a read model to
    /// query. Returns whether all did within `timeout`.
    pub async fn wait_started(&self, timeout: Duration) -> bool {
        let all = async {
            for worker in self.inner.workers.values() {
                let mut status = worker.status.clone();
                let _ = status
                    .wait_for(|s| {
                        s.generation.is_some()
                            || matches!(
                                s.state,
                                WorkerState::Stopped { .. } | WorkerState::ShutDown
                            )
                    })
                    .await
                    .map(|_| ());
            }
        };
        tokio::time::timeout(timeout, all).await.is_ok()
    }

    /// Waits until every projection has applied the feed up to the head as it is now.
    ///
    /// # Errors
    /// The first projection that times out or stops.
    pub async fn wait_caught_up(&self, timeout: Duration) -> Result<GlobalPosition, WaitError> {
        let head = match self.inner.feed.head().await {
            Ok(head) => head,
            Err(_) => *self.inner.feed.watch_head().borrow(),
        };
        let deadline = tokio::time::Instant::now() + timeout;
        for name in self.inner.workers.keys() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            self.wait_for(name, head, left).await?;
        }
        Ok(head)
    }

    /// Rebuilds `name` into a new generation, from where the projection starts (the first
    /// event unless it backfills), swapped in when caught up.
    /// Returns the new generation at once; the status reports progress. A rebuild cut short by
    /// a crash or a failover is carried on by whichever process runs the projection next.
    ///
    /// # Errors
    /// Unknown projection, a rebuild already running
    /// ([`RuntimeError::RebuildInProgress`]), the projection running in another process
    /// ([`RuntimeError::Standby`]), or the read store failing.
    pub async fn rebuild(&self, name: &ProjectionName) -> Result<Generation, RuntimeError> {
        if !self.inner.workers.contains_key(name) {
            return self.rebuild_partitions(name, None).await;
        }
        let worker = self.worker(name)?;
        let (reply, answer) = oneshot::channel();
        worker
            .commands
            .send(Command::Rebuild { reply })
            .await
            .map_err(|_| RuntimeError::ShutDown(name.clone()))?;
        answer
            .await
            .map_err(|_| RuntimeError::ShutDown(name.clone()))?
    }

    /// Waits until the rebuild of `name` into `generation` (as [`rebuild`](Self::rebuild)
    /// answered) has swapped in, so reads see the new generation, for at most `timeout`.
    ///
    /// # Errors
    /// [`WaitError::RebuildAbandoned`] when the rebuild stopped at a poison event or another
    /// generation took its place; [`WaitError::TimedOut`] (with how far the rebuild got);
    /// [`WaitError::ShutDown`].
    pub async fn wait_swapped(
        &self,
        name: &ProjectionName,
        generation: Generation,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        let Some(worker) = self.inner.workers.get(name) else {
            return self
                .wait_partitions_swapped(name, generation, timeout)
                .await;
        };
        let mut status = worker.status.clone();
        let settled = |s: &ProjectionStatus| {
            s.generation == Some(generation)
                || s.rebuild
                    .as_ref()
                    .is_none_or(|r| r.generation != generation)
                || s.state == WorkerState::ShutDown
        };
        let waited = tokio::time::timeout(timeout, status.wait_for(settled))
            .await
            .map(|seen| seen.map(|_| ()));
        let current = worker.status.borrow().clone();
        let projection = name.clone();
        let reached = current
            .rebuild
            .as_ref()
            .map_or(current.checkpoint, |r| r.checkpoint);
        match (current.generation == Some(generation), current.state) {
            (true, _) => Ok(()),
            (_, WorkerState::ShutDown) => Err(WaitError::ShutDown {
                projection,
                reached,
            }),
            _ if waited.is_err() => Err(WaitError::TimedOut {
                projection,
                wanted: current.checkpoint,
                reached,
            }),
            _ => Err(WaitError::RebuildAbandoned {
                projection,
                generation,
            }),
        }
    }

    /// Rebuilds `name` ([`rebuild`](Self::rebuild)) and waits until the new generation serves
    /// reads ([`wait_swapped`](Self::wait_swapped)), for at most `timeout`.
    ///
    /// # Errors
    /// As `rebuild`, or [`RuntimeError::Wait`] as `wait_swapped`.
    pub async fn rebuild_and_swap(
        &self,
        name: &ProjectionName,
        timeout: Duration,
    ) -> Result<Generation, RuntimeError> {
        let generation = self.rebuild(name).await?;
        self.wait_swapped(name, generation, timeout).await?;
        Ok(generation)
    }

    /// Lets a projection stopped at a poison event try again from its checkpoint, and lifts a
    /// pause. Returns whether it was stopped or paused. Given a projection run as partitions,
    /// it does so for each of them.
    ///
    /// # Errors
    /// Unknown projection, the projection running in another process (this one stands by for
    /// it), or the projector shut down.
    pub async fn resume(&self, name: &ProjectionName) -> Result<bool, RuntimeError> {
        if let Some(partitions) = self.partitions_to_act_on(name) {
            let mut resumed = false;
            for partition in &partitions {
                resumed |= Box::pin(self.resume(partition)).await?;
            }
            return Ok(resumed);
        }
        let worker = self.worker(name)?;
        let (reply, answer) = oneshot::channel();
        worker
            .commands
            .send(Command::Resume { reply })
            .await
            .map_err(|_| RuntimeError::ShutDown(name.clone()))?;
        answer
            .await
            .map_err(|_| RuntimeError::ShutDown(name.clone()))?
    }

    /// Asks every worker to stop after its batch in hand.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Shuts down: asks every worker to stop after its batch in hand, and waits until all
    /// have (the same as [`shutdown`](Self::shutdown) then [`join`](Self::join)).
    pub async fn stop(&self) {
        self.shutdown();
        self.join().await;
    }

    /// Waits for every worker to finish (after [`ProjectorHandle::shutdown`] or the token).
    pub async fn join(&self) {
        let tasks = std::mem::take(
            &mut *self
                .inner
                .tasks
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for task in tasks {
            if let Err(error) = task.await
                && error.is_panic()
            {
                tracing::error!(%error, "a projection worker panicked");
            }
        }
    }

    pub(crate) fn worker(&self, name: &ProjectionName) -> Result<&WorkerHandle, RuntimeError> {
        self.inner
            .workers
            .get(name)
            .ok_or_else(|| RuntimeError::UnknownProjection(name.clone()))
    }
}
