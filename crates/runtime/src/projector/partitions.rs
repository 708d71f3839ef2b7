//! A projection run as partitions, seen as one: each partition is a worker of its own (see
//! `projector_core::partition`), a read naming the projection waits for all of them, a
//! rebuild naming it rebuilds all of them into one generation, a pause or resume naming it
//! reaches all of them, and an action on a dead letter naming it goes to the partition whose
//! stream the letter is in, and to every other partition stopped at the same event (one that
//! every partition applies).

use std::time::Duration;

use projector_core::{Generation, GlobalPosition, Partition, ProjectionName, StartFrom};
use tokio::sync::oneshot;

use super::ProjectorHandle;
use crate::error::{RuntimeError, WaitError};
use crate::status::{ProjectionStatus, WorkerState};
use crate::worker::Command;

impl ProjectorHandle {
    /// The statuses of the partitions `name` runs as here, by partition; empty when it runs
    /// whole (or not at all).
    pub fn partitions(&self, name: &ProjectionName) -> Vec<(Partition, ProjectionStatus)> {
        self.inner
            .workers
            .iter()
            .filter_map(|(worker, handle)| {
                let (base, partition) = Partition::parse_worker_name(worker)?;
                (base == *name).then(|| (partition, handle.status.borrow().clone()))
            })
            .collect()
    }

    /// The status of a projection run as partitions, as one: the checkpoint (and the rest) of
    /// its slowest partition, unless one is stopped, diverged or retrying, which is then the
    /// state shown; dead letters of all of them.
    pub(super) fn partitioned_status(&self, name: &ProjectionName) -> Option<ProjectionStatus> {
        let partitions = self.partitions(name);
        let mut slowest = partitions
            .iter()
            .map(|(_, s)| s)
            .min_by_key(|s| s.checkpoint)?
            .clone();
        slowest.name = name.clone();
        slowest.dead_letters = partitions.iter().map(|(_, s)| s.dead_letters).sum();
        if let Some((_, troubled)) = partitions.iter().find(|(_, s)| {
            matches!(
                s.state,
                WorkerState::Stopped { .. }
                    | WorkerState::Diverged { .. }
                    | WorkerState::Retrying { .. }
            )
        }) {
            slowest.state = troubled.state.clone();
        }
        Some(slowest)
    }

    /// Waits until every partition of `name` has applied every event up to `position`; the
    /// position reached is the slowest partition's. Out of time, the error names the
    /// projection and its slowest partition's position, whichever partition ran out first.
    pub(super) async fn wait_for_partitions(
        &self,
        name: &ProjectionName,
        position: GlobalPosition,
        timeout: Duration,
    ) -> Result<GlobalPosition, WaitError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut reached: Option<GlobalPosition> = None;
        for worker in self
            .inner
            .workers
            .keys()
            .filter(|w| Partition::parse_worker_name(w).is_some_and(|(base, _)| base == *name))
        {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let at = match Box::pin(self.wait_for(worker, position, left)).await {
                Ok(at) => at,
                Err(WaitError::TimedOut { .. }) => {
                    return Err(WaitError::TimedOut {
                        projection: name.clone(),
                        wanted: position,
                        reached: self.slowest_partition(name).unwrap_or(GlobalPosition::ZERO),
                    });
                }
                Err(other) => return Err(other),
            };
            reached = Some(reached.map_or(at, |r| r.min(at)));
        }
        reached.ok_or_else(|| WaitError::UnknownProjection(name.clone()))
    }

    /// The checkpoint of the slowest partition of `name` now.
    fn slowest_partition(&self, name: &ProjectionName) -> Option<GlobalPosition> {
        self.partitions(name)
            .iter()
            .map(|(_, s)| s.checkpoint)
            .min()
    }

    /// The worker names of the partitions `name` runs as here, in order; empty when it runs
    /// whole (or not at all).
    pub fn partition_workers(&self, name: &ProjectionName) -> Vec<ProjectionName> {
        self.inner
            .workers
            .keys()
            .filter(|w| Partition::parse_worker_name(w).is_some_and(|(base, _)| base == *name))
            .cloned()
            .collect()
    }

    /// The partitions of `name` an operator's pause or resume goes to: those this process
    /// holds (the others read the shared pause within a second), or, holding none, one of
    /// those it stands by for, which answers that it stands by. `None` when `name` does not
    /// run as partitions here.
    pub(crate) fn partitions_to_act_on(
        &self,
        name: &ProjectionName,
    ) -> Option<Vec<ProjectionName>> {
        let workers = self.partition_workers(name);
        let first = workers.first()?.clone();
        let held: Vec<ProjectionName> = workers
            .into_iter()
            .filter(|w| {
                self.inner
                    .workers
                    .get(w)
                    .is_some_and(|h| h.status.borrow().state != WorkerState::Standby)
            })
            .collect();
        Some(if held.is_empty() { vec![first] } else { held })
    }

    /// Rebuilds a projection run as partitions into one new generation: the first partition
    /// creates it, the others find it building and fill their share of it beside; it swaps in
    /// once the slowest has caught up. Refused while another process runs any partition, as
    /// that process would not learn of the new generation.
    pub(crate) async fn rebuild_partitions(
        &self,
        name: &ProjectionName,
        start: Option<StartFrom>,
    ) -> Result<Generation, RuntimeError> {
        let workers = self.partition_workers(name);
        if workers.is_empty() {
            return Err(RuntimeError::UnknownProjection(name.clone()));
        }
        if self
            .partitions(name)
            .iter()
            .any(|(_, s)| s.state == WorkerState::Standby)
        {
            return Err(RuntimeError::Standby(name.clone()));
        }
        let mut generation = None;
        for worker in &workers {
            let (reply, answer) = oneshot::channel();
            let command = match start {
                Some(start) => Command::RebuildFrom { start, reply },
                None => Command::Rebuild { reply },
            };
            self.worker(worker)?
                .commands
                .send(command)
                .await
                .map_err(|_| RuntimeError::ShutDown(name.clone()))?;
            let asked = answer
                .await
                .map_err(|_| RuntimeError::ShutDown(name.clone()))?;
            match (asked, generation) {
                (Ok(created), None) => generation = Some(created),
                // The others find the new generation building and carry it on.
                (Err(RuntimeError::RebuildInProgress { generation: g, .. }), Some(ours))
                    if g == ours => {}
                (Err(RuntimeError::RebuildInProgress { generation: g, .. }), _) => {
                    return Err(RuntimeError::RebuildInProgress {
                        projection: name.clone(),
                        generation: g,
                    });
                }
                (Ok(other), Some(ours)) => {
                    tracing::warn!(projection = %name, partition = %worker, %ours, %other,
                        "a partition started a rebuild of its own");
                }
                (Err(error), _) => return Err(error),
            }
        }
        generation.ok_or_else(|| RuntimeError::UnknownProjection(name.clone()))
    }

    /// Waits until every partition of `name` serves `generation`, for at most `timeout`.
    pub(crate) async fn wait_partitions_swapped(
        &self,
        name: &ProjectionName,
        generation: Generation,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let partitions = self.partitions(name);
            if partitions.is_empty() {
                return Err(WaitError::UnknownProjection(name.clone()));
            }
            if partitions
                .iter()
                .all(|(_, s)| s.generation == Some(generation))
            {
                return Ok(());
            }
            let reached = partitions
                .iter()
                .map(|(_, s)| {
                    s.rebuild
                        .as_ref()
                        .filter(|r| r.generation == generation)
                        .map_or(s.checkpoint, |r| r.checkpoint)
                })
                .min()
                .unwrap_or(GlobalPosition::ZERO);
            if let Some((_, s)) = partitions.iter().find(|(_, s)| {
                matches!(s.state, WorkerState::ShutDown | WorkerState::Stopped { .. })
                    || s.generation.is_some_and(|g| g > generation)
            }) {
                return Err(match s.state {
                    WorkerState::ShutDown => WaitError::ShutDown {
                        projection: name.clone(),
                        reached,
                    },
                    _ => WaitError::RebuildAbandoned {
                        projection: name.clone(),
                        generation,
                    },
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(WaitError::TimedOut {
                    projection: name.clone(),
                    wanted: self.inner.feed.head().await.unwrap_or(reached),
                    reached,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The partitions of `name` other than `owner` stopped at the event at `position`: an
    /// event every partition applies can stop each of them, while its letter is listed by the
    /// partition of its stream alone.
    pub(crate) fn others_stopped_at(
        &self,
        name: &ProjectionName,
        position: GlobalPosition,
        owner: &ProjectionName,
    ) -> Vec<ProjectionName> {
        self.partitions(name)
            .into_iter()
            .filter(|(_, status)| {
                status.name != *owner
                    && matches!(status.state, WorkerState::Stopped { position: at, .. } if at == position)
            })
            .map(|(_, status)| status.name)
            .collect()
    }

    /// Resumes `worker`, stopped at `position`, and waits until it has applied the event (`None`)
    /// or stopped at it again (its error).
    pub(crate) async fn resume_past(
        &self,
        worker: &ProjectionName,
        position: GlobalPosition,
    ) -> Result<Option<String>, RuntimeError> {
        let handle = self.worker(worker)?;
        let mut status = handle.status.clone();
        let (reply, answer) = oneshot::channel();
        handle
            .commands
            .send(Command::Resume { reply })
            .await
            .map_err(|_| RuntimeError::ShutDown(worker.clone()))?;
        answer
            .await
            .map_err(|_| RuntimeError::ShutDown(worker.clone()))??;
        loop {
            {
                let now = status.borrow_and_update();
                if now.checkpoint >= position {
                    return Ok(None);
                }
                if let WorkerState::Stopped {
                    position: at,
                    error,
                } = &now.state
                    && *at == position
                {
                    return Ok(Some(error.clone()));
                }
            }
            status
                .changed()
                .await
                .map_err(|_| RuntimeError::ShutDown(worker.clone()))?;
        }
    }

    /// The partition of `name` that lists the dead letter at `position` (each lists those
    /// of its own streams).
    pub(crate) async fn letter_partition(
        &self,
        name: &ProjectionName,
        position: GlobalPosition,
    ) -> Result<ProjectionName, RuntimeError> {
        for worker in self.partition_workers(name) {
            if self
                .dead_letters(&worker)
                .await?
                .iter()
                .any(|l| l.position == position)
            {
                return Ok(worker);
            }
        }
        Err(RuntimeError::NoDeadLetter {
            projection: name.clone(),
            position,
        })
    }
}
