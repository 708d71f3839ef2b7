//! Leases: with a lease provider, a projection runs in whichever process holds its lease. The
//! others stand by: they follow the checkpoint the holder commits (so reads that wait for a
//! position are answered there too) and its rebuild's progress (so their status shows it), and
//! try for the lease, taking over when the holder dies.

use std::time::Duration;

use projector_core::{Lease, LeaseProvider, ReadStoreError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::RuntimeError;
use crate::status::{RebuildStatus, WorkerState};
use crate::worker::{Command, Worker};

/// How often a standby reads the holder's checkpoint while it is caught up.
const FOLLOW_IDLE: Duration = Duration::from_millis(250);
/// How often while the holder is behind the head, so reads here see its progress promptly.
const FOLLOW_BEHIND: Duration = Duration::from_millis(10);

impl Worker {
    /// Runs until shutdown: at once without leases; with them, whenever this process holds the
    /// projection's lease, standing by the rest of the time.
    pub(crate) async fn run(mut self) {
        let shutdown = self.shutdown.clone();
        let name = self.target.name().to_string();
        match self.leases.clone() {
            None => self.run_active().await,
            Some(leases) => loop {
                let Some(lease) = self.standby(leases.as_ref()).await else {
                    break;
                };
                self.set_state(WorkerState::Starting);
                let stop = shutdown.child_token();
                let watcher = tokio::spawn(hold(lease, stop.clone()));
                self.shutdown = stop.clone();
                metrics::gauge!("projector_projection_active", "projection" => name.clone())
                    .set(1.0);
                self.run_active().await;
                metrics::gauge!("projector_projection_active", "projection" => name.clone())
                    .set(0.0);
                stop.cancel();
                let _ = watcher.await;
                self.shutdown = shutdown.clone();
                if shutdown.is_cancelled() {
                    break;
                }
                tracing::warn!(projection = %name, "lost the lease; standing by");
            },
        }
        self.set_state(WorkerState::ShutDown);
    }

    /// Stands by until this process takes the lease (`None` on shutdown).
    async fn standby(&mut self, leases: &dyn LeaseProvider) -> Option<Box<dyn Lease>> {
        let name = self.target.name();
        // What this process knew as the holder (its rebuild above all) is the new holder's now.
        self.status.send_modify(|s| {
            s.state = WorkerState::Standby;
            s.rebuild = None;
        });
        let mut next_try = Instant::now();
        let mut next_rebuild_check = Instant::now();
        loop {
            if self.shutdown.is_cancelled() {
                return None;
            }
            if Instant::now() >= next_try {
                match leases.try_acquire(&name).await {
                    Ok(Some(lease)) => {
                        tracing::info!(projection = %name, "took the lease; the projection runs here");
                        return Some(lease);
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(projection = %name, %error, "cannot reach the lease")
                    }
                }
                next_try = Instant::now() + self.options.lease_retry;
            }
            self.follow().await;
            if Instant::now() >= next_rebuild_check {
                self.follow_rebuild().await;
                next_rebuild_check = Instant::now() + FOLLOW_IDLE;
            }
            let behind = self.status.borrow().checkpoint < *self.head.borrow_and_update();
            let wait = if behind {
                FOLLOW_BEHIND
            } else {
                FOLLOW_IDLE.min(next_try - Instant::now())
            };
            tokio::select! {
                () = self.shutdown.cancelled() => return None,
                command = self.commands.recv() => {
                    if let Some(command) = command {
                        refuse(&name, command);
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

    /// Publishes the checkpoint the holder has committed in the serving generation.
    async fn follow(&mut self) {
        let found = match self.target.serving().await {
            Ok(Some((generation, _))) => self
                .target
                .checkpoint(generation)
                .await
                .map(|c| (generation, c)),
            Ok(None) => return,
            Err(error) => Err(error),
        };
        match found {
            Ok((generation, checkpoint)) => {
                self.status.send_if_modified(|s| {
                    let changed =
                        s.checkpoint != checkpoint.position || s.generation != Some(generation);
                    s.generation = Some(generation);
                    s.checkpoint = checkpoint.position;
                    s.last_event_at = checkpoint.last_event_at;
                    changed
                });
            }
            Err(error) => {
                tracing::debug!(projection = %self.target.name(), %error, "cannot follow the checkpoint")
            }
        }
    }
}

impl Worker {
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
}

/// Keeps the lease until it is lost (then stops the worker) or the worker stops.
async fn hold(lease: Box<dyn Lease>, stop: CancellationToken) {
    tokio::select! {
        () = lease.lost() => stop.cancel(),
        () = stop.cancelled() => {}
    }
    drop(lease);
}

/// A standby cannot rebuild or resume a projection another process runs.
fn refuse(name: &projector_core::ProjectionName, command: Command) {
    match command {
        Command::Rebuild { reply } => {
            let _ = reply.send(Err(RuntimeError::Standby(name.clone())));
        }
        Command::Resume { reply } => {
            let _ = reply.send(Err(RuntimeError::Standby(name.clone())));
        }
    }
}
