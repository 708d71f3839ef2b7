//! Rebuilding without downtime: a new generation is filled from the first event beside the
//! serving one, and swapped in once it has caught up with it. Reads go to the old generation
//! until the swap, and to the new one after; neither ever sees a half-built read model.
//!
//! A rebuild outlives its process. The building generation stays in the read store's catalog
//! with its own checkpoint, so when a worker becomes active for the projection (at start-up, or
//! on taking over the lease from a process that died) it carries the rebuild on from where it
//! stopped and swaps it in as usual (see `open` for which versions carry on which builds).
//!
//! The swap names the serving generation and checkpoint the worker saw, so it is refused if
//! another process changed them meanwhile; a swap whose answer was lost is found done when the
//! worker reads the catalog again.

use std::sync::Arc;

use chrono::Utc;
use projector_core::{
    ApplyError, Checkpoint, Generation, GlobalPosition, ReadStoreError, StartFrom,
};

use crate::RuntimeError;
use crate::lane::{Halt, Lane, Lanes};
use crate::status::RebuildStatus;
use crate::worker::{Step, Worker};

impl Worker {
    /// Starts filling a new generation. The step tells the worker to read the catalog again
    /// when another build turned up there.
    pub(crate) async fn start_rebuild(
        &mut self,
        lanes: &mut Lanes,
        start: StartFrom,
    ) -> (Result<Generation, RuntimeError>, Step) {
        let name = self.target.name();
        if let Some(lane) = &lanes.building {
            let error = RuntimeError::RebuildInProgress {
                projection: name,
                generation: lane.generation,
            };
            return (Err(error), Step::Continue);
        }
        if let Some(newer_version) = self.newer_version {
            return (Err(self.outdated(newer_version)), Step::Continue);
        }
        match self.target.create_generation().await {
            Ok(generation) => match self.new_rebuild(generation, start).await {
                Ok(lane) => {
                    tracing::info!(projection = %name, %generation, after = %lane.checkpoint.position,
                        "rebuilding beside the serving generation");
                    lanes.building = Some(lane);
                    (Ok(generation), Step::Continue)
                }
                Err(error) => {
                    // A generation that cannot start where asked must not fill from elsewhere.
                    let _ = self
                        .target
                        .drop_generation(generation, GlobalPosition::ZERO)
                        .await;
                    (Err(error), Step::Reload)
                }
            },
            // Another process started one since this worker read the catalog.
            Err(ReadStoreError::BuildInProgress {
                generation,
                version,
                ..
            }) => {
                let error = if version > self.target.version() {
                    self.outdated(version)
                } else {
                    RuntimeError::RebuildInProgress {
                        projection: name,
                        generation,
                    }
                };
                (Err(error), Step::Reload)
            }
            Err(error) => (Err(error.into()), Step::Continue),
        }
    }

    fn outdated(&self, newer_version: u32) -> RuntimeError {
        RuntimeError::Outdated {
            projection: self.target.name(),
            version: self.target.version(),
            newer_version,
        }
    }

    /// The building lane of a generation just created, from where `start` says.
    pub(crate) async fn new_rebuild(
        &self,
        generation: Generation,
        start: StartFrom,
    ) -> Result<Lane, RuntimeError> {
        let checkpoint = self.start_at(generation, start).await?;
        self.status.send_modify(|s| {
            s.rebuild = Some(RebuildStatus {
                generation,
                checkpoint: checkpoint.position,
            });
        });
        Ok(Lane::new(
            Arc::clone(&self.batches),
            Arc::clone(&self.filter),
            generation,
            checkpoint,
            self.options.batch_size,
        ))
    }

    /// Moves the checkpoint of a new, empty `generation` to just before where `start` says
    /// (never past the head), so the events before it are never applied.
    pub(crate) async fn start_at(
        &self,
        generation: Generation,
        start: StartFrom,
    ) -> Result<Checkpoint, RuntimeError> {
        let head = self.feed.head().await?;
        let position = start.checkpoint(&*self.feed, Utc::now()).await?.min(head);
        if position == GlobalPosition::ZERO {
            return Ok(Checkpoint::default());
        }
        let checkpoint = Checkpoint {
            position,
            last_event_at: None,
        };
        match self
            .target
            .apply(generation, Arc::from([]), GlobalPosition::ZERO, checkpoint)
            .await
        {
            Ok(()) => {}
            Err(ApplyError::Store(error)) => return Err(error.into()),
            Err(ApplyError::Projection(error)) => {
                return Err(ReadStoreError::unavailable(
                    "moving a new generation's checkpoint",
                    error.message,
                )
                .into());
            }
        }
        tracing::info!(projection = %self.target.name(), %generation, after = %position, ?start,
            "the new generation starts after this position; the events up to it are never applied");
        Ok(checkpoint)
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
            Arc::clone(&self.batches),
            Arc::clone(&self.filter),
            generation,
            checkpoint,
            self.options.batch_size,
        ))
    }

    /// Swaps the rebuilt generation in once it has caught up with the serving one (with the
    /// head, when the serving one cannot be trusted), or drops it if it stopped at a poison
    /// event.
    pub(crate) async fn finish_rebuild(&mut self, lanes: &mut Lanes) -> Step {
        let Some(lane) = lanes.building.as_ref() else {
            return Step::Continue;
        };
        let name = self.target.name();
        if let Some(Halt::Poison { position, error }) = &lane.halt {
            tracing::error!(projection = %name, generation = %lane.generation, %position, %error,
                "rebuild stopped at a poison event; dropping the new generation");
            match self
                .target
                .drop_generation(lane.generation, lane.checkpoint.position)
                .await
            {
                Ok(()) => {}
                Err(error) if error.is_fenced() => return Step::Reload,
                Err(error) => {
                    tracing::warn!(projection = %name, %error, "could not drop the abandoned generation");
                }
            }
            lanes.building = None;
            self.status.send_modify(|s| s.rebuild = None);
            return Step::Continue;
        }
        let caught_up = match lanes.serving.halt {
            Some(Halt::Ahead { .. }) => !lane.has_work(*self.head.borrow()),
            _ => lane.checkpoint.position >= lanes.serving.position().position,
        };
        if !caught_up {
            return Step::Continue;
        }
        match self
            .target
            .activate(lane.generation, Some(lanes.serving.seen()))
            .await
        {
            Ok(()) => {}
            Err(error) if error.is_fenced() => return Step::Reload,
            Err(error) => {
                // The swap may have committed with its answer lost: the next attempt is then
                // refused, and reading the catalog again finds it done.
                return if self.transient_failure(&error.to_string()).await {
                    Step::Retry
                } else {
                    Step::Shutdown
                };
            }
        }
        let Some(rebuilt) = lanes.building.take() else {
            return Step::Continue;
        };
        let dead_letters = match self.target.dead_letters().await {
            Ok(letters) => letters.len() as u64,
            Err(_) => 0,
        };
        tracing::info!(projection = %name, generation = %rebuilt.generation,
            checkpoint = %rebuilt.checkpoint.position, "rebuild complete; the new generation serves reads");
        self.ahead = None;
        self.publish_serving(&rebuilt, dead_letters);
        self.status.send_modify(|s| s.rebuild = None);
        lanes.serving = rebuilt;
        Step::Continue
    }
}
