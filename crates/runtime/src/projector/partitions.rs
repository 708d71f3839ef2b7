//! A projection run as partitions, seen as one: each partition is a worker of its own (see
//! `projector_core::partition`), and a read naming the projection waits for all of them.

use std::time::Duration;

use projector_core::{GlobalPosition, Partition, ProjectionName};

use super::ProjectorHandle;
use crate::error::WaitError;
use crate::status::{ProjectionStatus, WorkerState};

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
    /// position reached is the slowest partition's.
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
            let at = Box::pin(self.wait_for(worker, position, left)).await?;
            reached = Some(reached.map_or(at, |r| r.min(at)));
        }
        reached.ok_or_else(|| WaitError::UnknownProjection(name.clone()))
    }
}
