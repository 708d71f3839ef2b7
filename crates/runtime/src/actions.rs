//! Operators' actions on a running projector beside a rebuild and a resume: a pause, and a
//! rebuild that starts at a chosen position or time (a backfill).

use projector_core::{Generation, ProjectionName, StartFrom};
use tokio::sync::oneshot;

use crate::RuntimeError;
use crate::projector::ProjectorHandle;
use crate::worker::Command;

impl ProjectorHandle {
    /// Rebuilds `name` as [`rebuild`](Self::rebuild) does, but starting at `start` rather than
    /// where the projection says: a backfill of recent history only.
    ///
    /// # Errors
    /// As `rebuild`.
    pub async fn rebuild_from(
        &self,
        name: &ProjectionName,
        start: StartFrom,
    ) -> Result<Generation, RuntimeError> {
        if !self.partition_workers(name).is_empty() {
            return self.rebuild_partitions(name, Some(start)).await;
        }
        let worker = self.worker(name)?;
        let (reply, answer) = oneshot::channel();
        worker
            .commands
            .send(Command::RebuildFrom { start, reply })
            .await
            .map_err(|_| RuntimeError::ShutDown(name.clone()))?;
        answer
            .await
            .map_err(|_| RuntimeError::ShutDown(name.clone()))?
    }

    /// Pauses `name`: it applies nothing, to its serving generation or a rebuild's, until
    /// [`resume`](Self::resume)d, and its read model serves what it has meanwhile. `by` names
    /// who asked. Returns `false` when it was paused already. A projection run as partitions
    /// pauses whole, whichever of its names is given: its partitions share one pause.
    ///
    /// # Errors
    /// Unknown projection, the projection running in another process, the controls' store
    /// failing, or the projector shut down.
    pub async fn pause(&self, name: &ProjectionName, by: &str) -> Result<bool, RuntimeError> {
        if let Some(partitions) = self.partitions_to_act_on(name) {
            let mut paused = false;
            for partition in &partitions {
                paused |= Box::pin(self.pause(partition, by)).await?;
            }
            return Ok(paused);
        }
        let worker = self.worker(name)?;
        let (reply, answer) = oneshot::channel();
        worker
            .commands
            .send(Command::Pause {
                by: by.to_owned(),
                reply,
            })
            .await
            .map_err(|_| RuntimeError::ShutDown(name.clone()))?;
        answer
            .await
            .map_err(|_| RuntimeError::ShutDown(name.clone()))?
    }
}
