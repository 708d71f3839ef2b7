//! Rebuilding without downtime: a new generation is filled from the first event beside the
//! serving one, and swapped in once it has caught up with it. Reads go to the old generation
//! until the swap, and to the new one after; neither ever sees a half-built read model.
//!
//! A rebuild outlives the process running it: the generation being built keeps its own
//! checkpoint, and whoever runs the projection next (the same process restarted, or a standby
//! taking over the lease) resumes it from there.

use std::sync::Arc;

use projector_core::{Checkpoint, Generation, GlobalPosition};

use crate::RuntimeError;
use crate::status::RebuildStatus;
use crate::worker::{Lane, Worker};

impl Worker {
    /// Starts filling a new generation.
    pub(crate) async fn start_rebuild(
        &mut self,
        building: &mut Option<Lane>,
    ) -> Result<Generation, RuntimeError> {
        let name = self.target.name();
        if let Some(lane) = building {
            return Err(RuntimeError::RebuildInProgress {
                projection: name,
                generation: lane.generation,
            });
        }
        let generation = self.target.create_generation().await?;
        tracing::info!(projection = %name, %generation, "rebuilding from the first event beside the serving generation");
        *building = Some(Lane::new(
            Arc::clone(&self.reader),
            generation,
            Checkpoint::default(),
            self.options.batch_size,
        ));
        self.status.send_modify(|s| {
            s.rebuild = Some(RebuildStatus {
                generation,
                checkpoint: GlobalPosition::ZERO,
            });
        });
        Ok(generation)
    }

    /// Picks up a rebuild that a previous run of the projection left unfinished: resumed from
    /// the new generation's own checkpoint if this version of the projection started it,
    /// dropped if another did (its tables may have another shape).
    pub(crate) async fn resume_rebuild(&mut self, serving: &Lane, building: &mut Option<Lane>) {
        let name = self.target.name();
        let (generation, version) = match self.target.building().await {
            Ok(Some(found)) if found.0 != serving.generation => found,
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(projection = %name, %error, "could not look for an unfinished rebuild");
                return;
            }
        };
        if version != self.target.version() {
            tracing::info!(projection = %name, %generation, built_by = version,
                version = self.target.version(), "dropping an unfinished rebuild of another version");
            if let Err(error) = self.target.drop_generation(generation).await {
                tracing::warn!(projection = %name, %error, "could not drop the abandoned generation");
            }
            return;
        }
        let checkpoint = match self.target.checkpoint(generation).await {
            Ok(checkpoint) => checkpoint,
            Err(error) => {
                tracing::warn!(projection = %name, %generation, %error,
                    "could not read the checkpoint of an unfinished rebuild");
                return;
            }
        };
        tracing::info!(projection = %name, %generation, checkpoint = %checkpoint.position,
            "resuming an unfinished rebuild beside the serving generation");
        *building = Some(Lane::new(
            Arc::clone(&self.reader),
            generation,
            checkpoint,
            self.options.batch_size,
        ));
        self.status.send_modify(|s| {
            s.rebuild = Some(RebuildStatus {
                generation,
                checkpoint: checkpoint.position,
            });
        });
    }

    /// Swaps the rebuilt generation in once it has caught up with the serving one, or drops it
    /// if it stopped at a poison event.
    pub(crate) async fn finish_rebuild(&mut self, serving: &mut Lane, building: &mut Option<Lane>) {
        let Some(lane) = building.as_ref() else {
            return;
        };
        let name = self.target.name();
        if let Some((position, error)) = &lane.stopped {
            tracing::error!(projection = %name, generation = %lane.generation, %position, %error,
                "rebuild stopped at a poison event; dropping the new generation");
            if let Err(drop_error) = self.target.drop_generation(lane.generation).await {
                tracing::warn!(projection = %name, error = %drop_error, "could not drop the abandoned generation");
            }
            *building = None;
            self.status.send_modify(|s| s.rebuild = None);
            return;
        }
        if lane.checkpoint.position < serving.checkpoint.position {
            return;
        }
        if let Err(error) = self.target.activate(lane.generation).await {
            self.transient_failure(&error.to_string()).await;
            return;
        }
        let Some(rebuilt) = building.take() else {
            return;
        };
        let dead_letters = match self.target.dead_letters().await {
            Ok(letters) => letters.len() as u64,
            Err(_) => 0,
        };
        tracing::info!(projection = %name, generation = %rebuilt.generation,
            checkpoint = %rebuilt.checkpoint.position, "rebuild complete; the new generation serves reads");
        self.status.send_modify(|s| {
            s.generation = Some(rebuilt.generation);
            s.checkpoint = rebuilt.checkpoint.position;
            s.last_event_at = rebuilt.checkpoint.last_event_at;
            s.rebuild = None;
            s.dead_letters = dead_letters;
        });
        *serving = rebuilt;
    }
}
