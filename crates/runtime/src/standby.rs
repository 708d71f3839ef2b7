//! When a worker runs its projection, and what it does the rest of the time.
//!
//! With a lease provider, a projection runs in whichever process holds its lease. The others
//! stand by: they follow the checkpoint the holder commits (so reads that wait for a position
//! are answered there too) and its rebuild's progress (so their status shows it), and try for
//! the lease, taking over when the holder dies. A worker that finds a newer version of the
//! projection serving the read model stands off in the same way, without taking the lease.
//!
//! A panic in the worker (outside the projection's `apply`, whose panics are failures of the
//! event like any other) gives the lease up at once, so a standby takes over, and the worker
//! starts again after a backoff.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use projector_core::{Lease, ProjectionError, ReadStoreError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::RuntimeError;
use crate::balance::{Balance, Held};
use crate::status::{RebuildStatus, WorkerState};
use crate::worker::{Command, Ended, Worker};

/// How often a standby reads the holder's checkpoint while it is caught up.
const FOLLOW_IDLE: Duration = Duration::from_millis(250);
/// How often while the holder is behind the head, so reads here see its progress promptly.
const FOLLOW_BEHIND: Duration = Duration::from_millis(10);

impl Worker {
    /// Runs until shutdown, starting again after a panic.
    pub(crate) async fn run(mut self) {
        let shutdown = self.shutdown.clone();
        loop {
            let run = AssertUnwindSafe(self.run_until_shutdown(&shutdown)).catch_unwind();
            let panic = match run.await {
                Ok(()) => break,
                Err(panic) => panic,
            };
            self.shutdown = shutdown.clone();
            let error = ProjectionError::panicked(panic.as_ref()).message;
            tracing::error!(projection = %self.target.name(), %error,
                "the projection's worker panicked; it gave its lease up and starts again");
            metrics::counter!("projector_projection_worker_panics_total", "projection" => self.target.name().to_string())
                .increment(1);
            // A standby gets the first chance at the lease given up.
            self.lease_not_before = Instant::now() + self.options.lease_retry * 3;
            if !self.transient_failure(&error).await {
                break;
            }
        }
        self.set_state(WorkerState::ShutDown);
    }

    /// Runs the projection whenever this process may (it holds the lease, or needs none, and
    /// the read model is not a newer version's), standing by the rest of the time.
    async fn run_until_shutdown(&mut self, shutdown: &CancellationToken) {
        let name = self.target.name().to_string();
        let mut outdated = None;
        loop {
            let lease = if self.leases.is_none() && outdated.is_none() {
                None
            } else {
                match self.stand_by(&mut outdated).await {
                    Some(lease) => lease,
                    None => return,
                }
            };
            self.set_state(WorkerState::Starting);
            let stop = shutdown.child_token();
            // Cancelled on every way out, a panic included, so the lease is given up.
            let _stop_on_exit = stop.clone().drop_guard();
            let given_up = CancellationToken::new();
            let watcher = lease.map(|lease| {
                let balance = self.balance.clone();
                let held = balance.as_ref().map(Balance::hold);
                tokio::spawn(hold(lease, stop.clone(), balance, held, given_up.clone()))
            });
            self.shutdown = stop.clone();
            metrics::gauge!("projector_projection_active", "projection" => name.clone()).set(1.0);
            let ended = self.run_active().await;
            metrics::gauge!("projector_projection_active", "projection" => name.clone()).set(0.0);
            stop.cancel();
            // The lease is given up only now, with the batch in hand finished.
            if let Some(watcher) = watcher {
                drop(watcher.await);
            }
            self.shutdown = shutdown.clone();
            if shutdown.is_cancelled() {
                return;
            }
            match ended {
                Ended::Outdated { serving_version } => {
                    tracing::warn!(projection = %name, version = self.target.version(), serving_version,
                        "a newer version of the projection serves its read model; standing off");
                    outdated = Some(serving_version);
                }
                Ended::Stopped if given_up.is_cancelled() => {
                    tracing::info!(projection = %name, "gave the partition up to another process; standing by");
                }
                Ended::Stopped if self.leases.is_some() => {
                    tracing::warn!(projection = %name, "lost the lease; standing by");
                }
                Ended::Stopped => return,
            }
        }
    }

    /// Stands by until this process may run the projection: `Some` with the lease taken (or
    /// `None` without leases), or `None` on shutdown. While `outdated` names a newer version
    /// serving the read model, the lease is left to others.
    async fn stand_by(&mut self, outdated: &mut Option<u32>) -> Option<Option<Box<dyn Lease>>> {
        let name = self.target.name();
        // What this process knew as the holder (its rebuild above all) is the new holder's now.
        self.status.send_modify(|s| {
            s.state = WorkerState::Standby;
            s.rebuild = None;
        });
        let mut next_try = Instant::now().max(self.lease_not_before);
        let mut next_rebuild_check = Instant::now();
        let mut free_tries = 0;
        loop {
            if self.shutdown.is_cancelled() {
                return None;
            }
            self.follow(outdated).await;
            if let (Some(balance), Some(_)) = (&self.balance, *outdated) {
                balance.leave();
            }
            if outdated.is_none() {
                let Some(leases) = self.leases.clone() else {
                    return Some(None);
                };
                let turn = match &self.balance {
                    Some(balance) if Instant::now() >= next_try => {
                        balance.may_try(&mut free_tries).await
                    }
                    _ => true,
                };
                if !turn {
                    next_try = Instant::now() + self.options.lease_retry;
                } else if Instant::now() >= next_try {
                    match leases.try_acquire(&name).await {
                        Ok(Some(lease)) => {
                            tracing::info!(projection = %name, "took the lease; the projection runs here");
                            return Some(Some(lease));
                        }
                        Ok(None) => {}
                        Err(error) => {
                            tracing::warn!(projection = %name, %error, "cannot reach the lease")
                        }
                    }
                    next_try = Instant::now() + self.options.lease_retry;
                }
            }
            if Instant::now() >= next_rebuild_check {
                self.follow_rebuild().await;
                self.follow_controls().await;
                next_rebuild_check = Instant::now() + FOLLOW_IDLE;
            }
            let behind = self.status.borrow().checkpoint < *self.head.borrow_and_update();
            let wait = if behind {
                FOLLOW_BEHIND
            } else {
                FOLLOW_IDLE.min(next_try.saturating_duration_since(Instant::now()))
            };
            tokio::select! {
                () = self.shutdown.cancelled() => return None,
                command = self.commands.recv() => {
                    if let Some(command) = command {
                        self.refuse(command, *outdated);
                    }
                }
                changed = self.head.changed() => {
                    if changed.is_err() {
                        self.shutdown.cancelled().await;
                        return None;
                    }
                }
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Publishes the checkpoint the holder has committed in the serving generation, and
    /// whether a newer version than this process's serves it.
    async fn follow(&mut self, outdated: &mut Option<u32>) {
        let found = match self.target.serving().await {
            Ok(Some((generation, built_by))) => self
                .target
                .checkpoint(generation)
                .await
                .map(|c| (generation, built_by, c)),
            Ok(None) => return,
            Err(error) => Err(error),
        };
        match found {
            Ok((generation, built_by, checkpoint)) => {
                *outdated = (built_by > self.target.version()).then_some(built_by);
                let state = match *outdated {
                    Some(serving_version) => WorkerState::Outdated { serving_version },
                    None => WorkerState::Standby,
                };
                self.status.send_if_modified(|s| {
                    let changed = s.checkpoint != checkpoint.position
                        || s.generation != Some(generation)
                        || s.state != state;
                    s.generation = Some(generation);
                    s.checkpoint = checkpoint.position;
                    s.last_event_at = checkpoint.last_event_at;
                    s.state = state;
                    changed
                });
            }
            Err(error) => {
                tracing::debug!(projection = %self.target.name(), %error, "cannot follow the checkpoint")
            }
        }
    }

    /// Publishes the rebuild the holder is running: its building generation and how far that
    /// has applied the feed.
    async fn follow_rebuild(&mut self) {
        match self.holders_rebuild().await {
            Ok(rebuild) => {
                self.status.send_if_modified(|s| {
                    let changed = s.rebuild != rebuild;
                    s.rebuild = rebuild;
                    changed
                });
            }
            Err(error) => {
                tracing::debug!(projection = %self.target.name(), %error, "cannot follow the rebuild")
            }
        }
    }

    async fn holders_rebuild(&self) -> Result<Option<RebuildStatus>, ReadStoreError> {
        let Some(newest) = self.target.building().await?.pop() else {
            return Ok(None);
        };
        let checkpoint = self.target.checkpoint(newest.generation).await?;
        Ok(Some(RebuildStatus {
            generation: newest.generation,
            checkpoint: checkpoint.position,
        }))
    }

    /// A standby cannot rebuild or resume a projection another process runs, nor an
    /// outdated one a projection a newer version serves.
    fn refuse(&self, command: Command, outdated: Option<u32>) {
        let name = self.target.name();
        let error = || match outdated {
            Some(newer_version) => RuntimeError::Outdated {
                projection: name.clone(),
                version: self.target.version(),
                newer_version,
            },
            None => RuntimeError::Standby(name.clone()),
        };
        match command {
            Command::Rebuild { reply } => {
                let _ = reply.send(Err(error()));
            }
            Command::Resume { reply } | Command::Pause { reply, .. } => {
                let _ = reply.send(Err(error()));
            }
            Command::RebuildFrom { reply, .. } => {
                let _ = reply.send(Err(error()));
            }
            Command::DeadLetter(action) => action.refuse(error()),
        }
    }
}

/// Keeps the lease until it is lost (then stops the worker), the worker stops, or (for a
/// partition) its process holds more than its share and this partition goes to another
/// (then stops the worker, cancelling `given_up`). Returns the lease, for the worker to give
/// up once its batch in hand is finished.
async fn hold(
    lease: Box<dyn Lease>,
    stop: CancellationToken,
    balance: Option<Balance>,
    held: Option<Held>,
    given_up: CancellationToken,
) -> Box<dyn Lease> {
    let check = async {
        let Some(balance) = &balance else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep(balance.retry()).await;
            if balance.should_give_up().await {
                return;
            }
        }
    };
    tokio::select! {
        () = lease.lost() => stop.cancel(),
        () = stop.cancelled() => {}
        () = check => {
            given_up.cancel();
            stop.cancel();
        }
    }
    drop(held);
    lease
}
