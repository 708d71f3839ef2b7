//! Opening a projection's read model: which generations the worker writes, read from the
//! catalog each time the worker becomes active or finds the catalog changed under it.
//!
//! Versions decide who builds what, so that processes of different versions never undo each
//! other's work during a rolling deploy:
//! - the serving generation of this version is applied as usual, and an unfinished rebuild
//!   of this version is carried on beside it;
//! - a serving generation of an older version keeps serving reads while this version builds
//!   its own beside it from the first event; it is swapped in once caught up, as in a rebuild
//!   (this worker cannot apply events to the older tables, so they wait meanwhile);
//! - a generation a newer version builds is left alone, and a serving generation of a newer
//!   version makes this worker stand off as outdated;
//! - building generations of older versions are dropped: nobody will finish them.
//!
//! A serving generation whose checkpoint is past the head of the event store is refused
//! (`Halt::Ahead`): new events reuse those positions, and projecting them would skip them.

use projector_core::{BuildingGeneration, Generation, GlobalPosition, ReadStoreError};

use crate::RuntimeError;
use crate::lane::{Halt, Lane, Lanes};
use crate::status::{RebuildStatus, WorkerState};
use crate::worker::{Ended, Worker};

/// How many times in a row opening starts again at once when the catalog changed under it,
/// before it counts as a failure and backs off.
const REOPENS_WHEN_FENCED: u32 = 8;

impl Worker {
    /// Opens the lanes, retrying transient failures until shutdown (`None`); `Err` when a
    /// newer version serves the read model.
    pub(crate) async fn open(&mut self) -> Option<Result<Lanes, Ended>> {
        let mut reopened = 0;
        loop {
            match self.try_open().await {
                Ok(opened) => {
                    self.failures = 0;
                    return Some(opened);
                }
                // The catalog changed while it was read (another partition or process made,
                // swapped or dropped a generation): read it again at once, as a worker does
                // when fenced mid-run. Not a failure, unless it keeps happening.
                Err(RuntimeError::ReadStore(error))
                    if error.is_fenced() && reopened < REOPENS_WHEN_FENCED =>
                {
                    reopened += 1;
                    tracing::debug!(projection = %self.target.name(), %error,
                        "the catalog changed while opening; opening again");
                }
                Err(error) => {
                    if !self.transient_failure(&error.to_string()).await {
                        return None;
                    }
                }
            }
        }
    }

    async fn try_open(&mut self) -> Result<Result<Lanes, Ended>, RuntimeError> {
        let version = self.target.version();
        let serving = self.target.serving().await?;
        if let Some((_, built_by)) = serving
            && built_by > version
        {
            return Ok(Err(Ended::Outdated {
                serving_version: built_by,
            }));
        }
        let building = self.target.building().await?;
        let own = self.keep_builds(&building).await?;
        self.newer_version = building
            .iter()
            .map(|b| b.version)
            .filter(|v| *v > version)
            .max();

        let (mut serving, building) = match serving {
            Some((generation, built_by)) if built_by == version => {
                let serving = self.lane(generation).await?;
                let building = match own {
                    Some(generation) => Some(self.resume_rebuild(generation).await?),
                    None => None,
                };
                (serving, building)
            }
            Some((generation, built_by)) => {
                if let Some(newer) = self.newer_version {
                    // A newer version than this one builds the read model: it takes over
                    // from the older one serving now, not this.
                    return Ok(Err(Ended::Outdated {
                        serving_version: newer,
                    }));
                }
                let mut serving = self.lane(generation).await?;
                serving.halt = Some(Halt::OtherVersion { version: built_by });
                let building = match own {
                    Some(generation) => self.resume_rebuild(generation).await?,
                    None => {
                        let generation = self.target.create_generation().await?;
                        tracing::warn!(projection = %self.target.name(), serving = %serving.generation,
                            serving_version = built_by, version, %generation,
                            "projection version changed; building its read model beside the serving one, which keeps serving reads until the new one has caught up");
                        self.new_rebuild(generation, self.target.start_from())
                            .await?
                    }
                };
                (serving, Some(building))
            }
            None => {
                // The first start: serve at once what this version builds, so reads find a
                // read model while it catches up.
                let generation = match own {
                    Some(generation) => generation,
                    None => match self.target.create_generation().await {
                        // Another partition or process served first since the catalog was
                        // read: the generation made for the race goes at once, before another
                        // partition takes it for an unfinished rebuild, and the winner's opens.
                        Ok(generation) if self.target.serving().await?.is_some() => {
                            let _ = self
                                .target
                                .drop_generation(generation, GlobalPosition::ZERO)
                                .await;
                            return Box::pin(self.try_open()).await;
                        }
                        Ok(generation) => generation,
                        // Another partition of this version made the first generation since
                        // the catalog was read: open again, to build that one beside it.
                        Err(ReadStoreError::BuildInProgress { version: v, .. }) if v == version => {
                            return Box::pin(self.try_open()).await;
                        }
                        Err(error) => return Err(error.into()),
                    },
                };
                // A backfill starts the first generation where the projection says (again, if
                // a crash came between creating it and moving its checkpoint).
                if self.target.checkpoint(generation).await?.position == GlobalPosition::ZERO {
                    self.start_at(generation, self.target.start_from()).await?;
                }
                if let Err(error) = self.target.activate(generation, None).await {
                    // Another process (or partition) served first: the generation made for
                    // the race is nobody's now, and must not live on as a rebuild.
                    if own.is_none() {
                        let _ = self
                            .target
                            .drop_generation(generation, GlobalPosition::ZERO)
                            .await;
                    }
                    // The winner's generation is served now: open that, at once, rather than
                    // wait out a failure's back-off.
                    if self.target.serving().await?.is_some() {
                        return Box::pin(self.try_open()).await;
                    }
                    return Err(error.into());
                }
                (self.lane(generation).await?, None)
            }
        };
        // The head is read after the checkpoint: an inline projection moves its checkpoint in
        // the append's own commit, so a head read first could be passed by then.
        let head = self.feed.head().await?;
        self.check_ahead(&mut serving, head);
        let dead_letters = self.target.dead_letters().await?.len() as u64;
        self.publish_serving(&serving, dead_letters);
        let newer_version = self.newer_version;
        self.status.send_modify(|s| {
            s.newer_version = newer_version;
            s.rebuild = building.as_ref().map(|lane| RebuildStatus {
                generation: lane.generation,
                checkpoint: lane.checkpoint.position,
            });
            if serving.halt.is_some() || serving.checkpoint.position < head {
                s.state = WorkerState::CatchingUp;
            }
        });
        Ok(Ok(Lanes { serving, building }))
    }

    /// The lane of `generation`, from its checkpoint.
    async fn lane(&self, generation: Generation) -> Result<Lane, ReadStoreError> {
        let checkpoint = self.target.checkpoint(generation).await?;
        Ok(Lane::new(
            std::sync::Arc::clone(&self.batches),
            std::sync::Arc::clone(&self.filter),
            generation,
            checkpoint,
            self.options.batch_size,
        ))
    }

    /// Sorts the building generations: drops those of older versions (nobody will finish
    /// them) and all but the newest of this version; leaves newer versions' alone. Returns
    /// this version's build to carry on, if any.
    async fn keep_builds(
        &self,
        building: &[BuildingGeneration],
    ) -> Result<Option<Generation>, ReadStoreError> {
        let version = self.target.version();
        let own = building
            .iter()
            .filter(|b| b.version == version)
            .map(|b| b.generation)
            .max();
        for abandoned in building
            .iter()
            .filter(|b| b.version < version || (b.version == version && Some(b.generation) != own))
        {
            tracing::info!(projection = %self.target.name(), generation = %abandoned.generation,
                built_by = abandoned.version, version, "dropping an unfinished generation nobody will finish");
            let at = self.target.checkpoint(abandoned.generation).await?.position;
            self.target
                .drop_generation(abandoned.generation, at)
                .await?;
        }
        Ok(own)
    }

    /// Refuses a serving lane whose checkpoint is past the head of the event store. A
    /// generation found so stays refused, even once new events pass its checkpoint, until a
    /// rebuild replaces it.
    fn check_ahead(&mut self, serving: &mut Lane, head: GlobalPosition) {
        if let Some((generation, head)) = self.ahead
            && generation == serving.generation
        {
            serving.halt = Some(Halt::Ahead { head });
            return;
        }
        if serving.checkpoint.position > head {
            self.ahead = Some((serving.generation, head));
            serving.halt = Some(Halt::Ahead { head });
            let state = self.diverged_state(serving.checkpoint.position, head);
            if let WorkerState::Diverged { error, .. } = &state {
                tracing::error!(projection = %self.target.name(), generation = %serving.generation,
                    checkpoint = %serving.checkpoint.position, %head, %error, "refusing to project");
            }
            self.set_state(state);
        }
    }

    /// The state of a projection whose checkpoint is past the head, with how to mend it.
    pub(crate) fn diverged_state(
        &self,
        checkpoint: GlobalPosition,
        head: GlobalPosition,
    ) -> WorkerState {
        let name = self.target.name();
        WorkerState::Diverged {
            checkpoint,
            head,
            error: format!(
                "the read model of {name} has applied events up to position {checkpoint}, but the \
                 event store ends at {head}: the event store lost its last commits or was restored \
                 from an older copy, and new events would reuse those positions. Rebuild the read \
                 model from the event store: `projector rebuild {name}` (or POST \
                 /admin/projections/{name}/rebuild)"
            ),
        }
    }
}
