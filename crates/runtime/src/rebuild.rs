//! Rebuilding without downtime: a new generation is filled from the first event beside the
//! serving one, and swapped in once it has caught up with it. Reads go to the old generation
//! until the swap, and to the new one after; neither ever sees a half-built read model.
//!
//! A rebuild outlives its process. The building generation stays in the read store's catalog
//! with its own checkpoint, so when a worker becomes active for the projection (at start-up, or
//! on taking over the lease from a process that died) it carries the rebuild on from where it
//! stopped and swaps it in as usual. A building generation of another projection version is
//! dropped: its tables have another shape.

use std::sync::Arc;

use projector_core::{Checkpoint, Generation, GlobalPosition, ReadStoreError};

use crate::RuntimeError;
use crate::lane::Lane;
use crate::status::RebuildStatus;
use crate::worker::Worker;

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

    /// The building generation a rebuild of this projection's version left unfinished (the
    /// newest, should there be several), after dropping every other building generation.
    pub(crate) async fn unfinished_rebuild(&self) -> Result<Option<Generation>, ReadStoreError> {
        let version = self.target.version();
        let building = self.target.building().await?;
        let unfinished = building
            .iter()
            .filter(|b| b.version == version)
            .map(|b| b.generation)
            .max();
        for abandoned in building.iter().filter(|b| Some(b.generation) != unfinished) {
            tracing::info!(projection = %self.target.name(), generation = %abandoned.generation,
                built_by = abandoned.version, version,
                "dropping an unfinished generation of another projection version");
            self.target.drop_generation(abandoned.generation).await?;
        }
        Ok(unfinished)
    }

    /// The building lane of an unfinished rebuild, from the generation's own checkpoint.
    pub(crate) async fn resume_rebuild(
        &self,
        generation: Generation,
    ) -> Result<Lane, ReadStoreError> {
        let checkpoint = self.target.checkpoint(generation).await?;
        tracing::info!(projection = %self.target.name(), %generation, checkpoint = %checkpoint.position,
            "carrying on an unfinished rebuild from its checkpoint");
        self.status.send_modify(|s| {
            s.rebuild = Some(RebuildStatus {
                generation,
                checkpoint: checkpoint.position,
            });
        });
        Ok(Lane::new(
            Arc::clone(&self.reader),
            generation,
            checkpoint,
            self.options.batch_size,
        ))
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
