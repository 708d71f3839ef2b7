//! One projection's worker: opens its read model, then applies the feed batch by batch, catch
//! up then live, until shut down.
//!
//! A worker has one or two *lanes* (`lane`): the serving generation, and during a rebuild the
//! generation being built beside it (see `rebuild`). Each lane has its own checkpoint and feed.
//! Failures are handled here when transient (wait and retry) and in `dead_letter` when an event
//! is at fault.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use projector_core::{
    ApplyError, Checkpoint, EventFilter, EventReader, Generation, GlobalPosition, HeadWatch,
    LeaseProvider, ReadStoreError, RecordedEvent,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::RuntimeError;
use crate::lane::{Lane, LaneKind};
use crate::options::ProjectorOptions;
use crate::status::{ProjectionStatus, WorkerState};
use crate::target::ProjectionTarget;

/// Requests a worker takes between batches.
#[derive(Debug)]
pub(crate) enum Command {
    /// Build a new generation from the first event and swap it in when caught up.
    Rebuild {
        reply: oneshot::Sender<Result<Generation, RuntimeError>>,
    },
    /// Retry from the checkpoint after stopping at a poison event.
    Resume {
        reply: oneshot::Sender<Result<bool, RuntimeError>>,
    },
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep going.
    Continue,
    /// Nothing was readable although the head is ahead: wait for the head to move.
    Idle,
    /// Shutdown was requested while waiting.
    Shutdown,
}

pub(crate) struct Worker {
    pub(crate) target: Arc<dyn ProjectionTarget>,
    pub(crate) reader: Arc<dyn EventReader>,
    pub(crate) filter: EventFilter,
    pub(crate) options: ProjectorOptions,
    pub(crate) status: watch::Sender<ProjectionStatus>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) head: HeadWatch,
    /// When set, the projection runs here only while this process holds its lease.
    pub(crate) leases: Option<Arc<dyn LeaseProvider>>,
    /// Transient failures in a row, for backoff.
    pub(crate) failures: u32,
}

/// The distinct correlation ids of a batch, for its log line (the first few of a large one).
fn correlation_ids(events: &[RecordedEvent]) -> String {
    const SHOWN: usize = 8;
    let mut ids: Vec<&str> = Vec::new();
    for id in events
        .iter()
        .filter_map(|e| e.metadata.correlation_id.as_ref())
    {
        if !ids.contains(&id.as_str()) {
            if ids.len() == SHOWN {
                ids.push("...");
                break;
            }
            ids.push(id.as_str());
        }
    }
    ids.join(",")
}

/// The longest a worker waits for the head when a read found nothing although the head said
/// there was more (a backend may announce positions before they are readable).
const IDLE_RECHECK: Duration = Duration::from_millis(50);

impl Worker {
    /// Runs the projection in this process until `self.shutdown` is cancelled (by shutdown,
    /// or by the loss of its lease).
    pub(crate) async fn run_active(&mut self) {
        let name = self.target.name();
        let Some((mut serving, mut building)) = self.open().await else {
            return;
        };
        tracing::info!(projection = %name, generation = %serving.generation,
            checkpoint = %serving.checkpoint.position, "projection started");
        let mut building_next = false;
        loop {
            if self.shutdown.is_cancelled() {
                break;
            }
            while let Ok(command) = self.commands.try_recv() {
                self.handle(command, &mut serving, &mut building).await;
            }
            self.finish_rebuild(&mut serving, &mut building).await;

            let head = *self.head.borrow_and_update();
            let serving_work = serving.has_work(head);
            let building_work = building.as_ref().is_some_and(|b| b.has_work(head));
            // While both lanes have work they take turns, so live traffic never starves a
            // rebuild and a rebuild never delays live events by more than one batch.
            let step = match (serving_work, building_work, building.as_mut()) {
                (true, true, Some(lane)) if building_next => {
                    building_next = false;
                    self.step(lane, LaneKind::Building).await
                }
                (true, _, _) => {
                    building_next = true;
                    self.step(&mut serving, LaneKind::Serving).await
                }
                (false, true, Some(lane)) => self.step(lane, LaneKind::Building).await,
                _ => {
                    self.settle(&serving);
                    self.wait(&mut serving, &mut building, None).await
                }
            };
            match step {
                Step::Continue => {}
                Step::Idle => {
                    if self
                        .wait(&mut serving, &mut building, Some(IDLE_RECHECK))
                        .await
                        == Step::Shutdown
                    {
                        break;
                    }
                }
                Step::Shutdown => break,
            }
        }
        tracing::info!(projection = %name, checkpoint = %serving.checkpoint.position, "projection stopped here");
    }

    /// Opens the serving generation, creating one when there is none or the projection's
    /// version changed, and the building lane of a rebuild left unfinished (see `rebuild`).
    /// Retries transient failures until shutdown.
    async fn open(&mut self) -> Option<(Lane, Option<Lane>)> {
        loop {
            match self.try_open().await {
                Ok(lanes) => {
                    self.failures = 0;
                    return Some(lanes);
                }
                Err(error) => {
                    if !self.transient_failure(&error.to_string()).await {
                        return None;
                    }
                }
            }
        }
    }

    async fn try_open(&self) -> Result<(Lane, Option<Lane>), ReadStoreError> {
        let version = self.target.version();
        let mut unfinished = self.unfinished_rebuild().await?;
        let generation = match self.target.serving().await? {
            Some((generation, built_by)) if built_by == version => generation,
            found => {
                if let Some((old, built_by)) = found {
                    tracing::warn!(projection = %self.target.name(), old_generation = %old,
                        old_version = built_by, version,
                        "projection version changed; building its read model again from the first event");
                }
                // An unfinished build of this version is further along than a new one would be.
                let generation = match unfinished.take() {
                    Some(generation) => {
                        tracing::info!(projection = %self.target.name(), %generation,
                            "serving the unfinished generation of this version at once");
                        generation
                    }
                    None => self.target.create_generation().await?,
                };
                self.target.activate(generation).await?;
                generation
            }
        };
        let checkpoint = self.target.checkpoint(generation).await?;
        let dead_letters = self.target.dead_letters().await?.len() as u64;
        self.status.send_modify(|s| {
            s.generation = Some(generation);
            s.checkpoint = checkpoint.position;
            s.last_event_at = checkpoint.last_event_at;
            s.dead_letters = dead_letters;
        });
        self.publish_metrics(checkpoint.position);
        let serving = Lane::new(
            Arc::clone(&self.reader),
            generation,
            checkpoint,
            self.options.batch_size,
        );
        let building = match unfinished {
            Some(generation) => Some(self.resume_rebuild(generation).await?),
            None => None,
        };
        Ok((serving, building))
    }

    async fn handle(&mut self, command: Command, serving: &mut Lane, building: &mut Option<Lane>) {
        match command {
            Command::Rebuild { reply } => {
                let _ = reply.send(self.start_rebuild(building).await);
            }
            Command::Resume { reply } => {
                let resumed = serving.stopped.take().is_some();
                if resumed {
                    tracing::info!(projection = %self.target.name(), checkpoint = %serving.checkpoint.position,
                        "resuming after a poison event");
                    serving.feed.reset(serving.checkpoint.position);
                    self.set_state(WorkerState::CatchingUp);
                }
                let _ = reply.send(Ok(resumed));
            }
        }
    }

    /// Applies the next batch of one lane.
    pub(crate) async fn step(&mut self, lane: &mut Lane, kind: LaneKind) -> Step {
        let batch = match lane.feed.next().await {
            Ok(batch) => batch,
            Err(error) => {
                lane.feed.reset(lane.checkpoint.position);
                return self.continue_unless_shutdown(&error.to_string()).await;
            }
        };
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Step::Idle;
        };
        let through = Checkpoint::after(last);
        if kind == LaneKind::Serving {
            let pending_since = first.recorded_at;
            self.status.send_modify(|s| {
                s.pending_since = Some(
                    s.pending_since
                        .map_or(pending_since, |p| p.min(pending_since)),
                );
                if !matches!(
                    s.state,
                    WorkerState::Retrying { .. } | WorkerState::Stopped { .. }
                ) {
                    s.state = WorkerState::CatchingUp;
                }
            });
        }
        let read = batch.len();
        let handled: Arc<[RecordedEvent]> = batch
            .into_iter()
            .filter(|e| self.filter.matches(&e.event_type))
            .collect();
        match self
            .target
            .apply(
                lane.generation,
                Arc::clone(&handled),
                lane.checkpoint.position,
                through,
            )
            .await
        {
            Ok(()) => {
                self.advanced(lane, kind, through, read, &handled);
                Step::Continue
            }
            Err(error) if error.is_transient() => {
                lane.feed.reset(lane.checkpoint.position);
                self.continue_unless_shutdown(&error.to_string()).await
            }
            Err(ApplyError::Projection(error)) => {
                lane.feed.reset(lane.checkpoint.position);
                self.isolate(lane, kind, handled, through, error).await
            }
            Err(ApplyError::Store(ReadStoreError::CheckpointMoved { found, .. })) => {
                self.checkpoint_moved(lane, found).await
            }
            Err(ApplyError::Store(error)) => {
                lane.feed.reset(lane.checkpoint.position);
                self.continue_unless_shutdown(&error.to_string()).await
            }
        }
    }

    /// Another process moved this generation's checkpoint: it holds the projection now, or
    /// held it a moment ago. Take the checkpoint it left and carry on from there; a worker
    /// that lost its lease is stopped by the lease watcher before its next batch.
    pub(crate) async fn checkpoint_moved(
        &mut self,
        lane: &mut Lane,
        found: GlobalPosition,
    ) -> Step {
        tracing::warn!(projection = %self.target.name(), ours = %lane.checkpoint.position, theirs = %found,
            "another process moved the checkpoint; nothing was applied twice");
        match self.target.checkpoint(lane.generation).await {
            Ok(checkpoint) => {
                lane.checkpoint = checkpoint;
                lane.feed.reset(checkpoint.position);
                Step::Continue
            }
            Err(error) => {
                lane.feed.reset(lane.checkpoint.position);
                self.continue_unless_shutdown(&error.to_string()).await
            }
        }
    }

    /// Records a committed batch.
    pub(crate) fn advanced(
        &mut self,
        lane: &mut Lane,
        kind: LaneKind,
        through: Checkpoint,
        read: usize,
        handled: &[RecordedEvent],
    ) {
        let name = self.target.name();
        lane.checkpoint = through;
        self.failures = 0;
        metrics::counter!("projector_events_projected_total", "projection" => name.to_string())
            .increment(read as u64);
        metrics::histogram!("projector_batch_size", "projection" => name.to_string())
            .record(read as f64);
        match kind {
            LaneKind::Serving => {
                if !handled.is_empty() {
                    let count = handled.len();
                    tracing::info!(projection = %name, count, through = %through.position,
                        correlation_ids = %correlation_ids(handled), "Projecting {count} changed event(s)");
                }
                let head = *self.head.borrow();
                self.status.send_modify(|s| {
                    s.checkpoint = through.position;
                    s.last_event_at = through.last_event_at;
                    if through.position >= head {
                        s.pending_since = None;
                    }
                    if matches!(s.state, WorkerState::Retrying { .. }) {
                        s.state = WorkerState::CatchingUp;
                    }
                });
                self.publish_metrics(through.position);
            }
            LaneKind::Building => {
                tracing::debug!(projection = %name, generation = %lane.generation,
                    through = %through.position, "rebuild batch applied");
                self.status.send_modify(|s| {
                    if let Some(rebuild) = &mut s.rebuild {
                        rebuild.checkpoint = through.position;
                    }
                });
            }
        }
    }

    /// Marks the worker live (or stopped) once the serving lane has nothing left to do.
    fn settle(&self, serving: &Lane) {
        let state = match &serving.stopped {
            Some((position, error)) => WorkerState::Stopped {
                position: *position,
                error: error.clone(),
            },
            None => WorkerState::Live,
        };
        self.status.send_if_modified(|s| {
            let changed = s.state != state || s.pending_since.is_some();
            s.state = state;
            s.pending_since = None;
            changed
        });
    }

    /// Waits for a new commit, a command or shutdown (or `limit`, if given).
    async fn wait(
        &mut self,
        serving: &mut Lane,
        building: &mut Option<Lane>,
        limit: Option<Duration>,
    ) -> Step {
        let sleep = tokio::time::sleep(limit.unwrap_or(Duration::from_secs(3600)));
        tokio::select! {
            () = self.shutdown.cancelled() => Step::Shutdown,
            changed = self.head.changed() => {
                if changed.is_err() {
                    // The store closed: nothing more will come.
                    self.shutdown.cancelled().await;
                    return Step::Shutdown;
                }
                if serving.stopped.is_none() && serving.checkpoint.position < *self.head.borrow() {
                    let now = Utc::now();
                    self.status.send_modify(|s| {
                        s.pending_since.get_or_insert(now);
                    });
                }
                Step::Continue
            }
            command = self.commands.recv() => {
                if let Some(command) = command {
                    self.handle(command, serving, building).await;
                }
                Step::Continue
            }
            () = sleep => Step::Continue,
        }
    }

    /// Notes a transient failure and waits out its backoff. `false` on shutdown.
    pub(crate) async fn transient_failure(&mut self, error: &str) -> bool {
        self.failures += 1;
        let attempt = self.failures;
        let wait = self.options.retry.backoff(attempt);
        tracing::warn!(projection = %self.target.name(), attempt, error, retry_in_ms = wait.as_millis() as u64,
            "projection failed; retrying");
        metrics::counter!("projector_projection_retries_total", "projection" => self.target.name().to_string())
            .increment(1);
        self.set_state(WorkerState::Retrying {
            attempt,
            error: error.to_owned(),
        });
        self.sleep(wait).await
    }

    async fn continue_unless_shutdown(&mut self, error: &str) -> Step {
        if self.transient_failure(error).await {
            Step::Continue
        } else {
            Step::Shutdown
        }
    }

    /// Sleeps unless shutdown comes first; `false` on shutdown.
    pub(crate) async fn sleep(&self, duration: Duration) -> bool {
        tokio::select! {
            () = self.shutdown.cancelled() => false,
            () = tokio::time::sleep(duration) => true,
        }
    }

    pub(crate) fn set_state(&self, state: WorkerState) {
        self.status.send_if_modified(|s| {
            let changed = s.state != state;
            s.state = state;
            changed
        });
    }

    fn publish_metrics(&self, checkpoint: GlobalPosition) {
        let name = self.target.name().to_string();
        metrics::gauge!("projector_projection_checkpoint", "projection" => name)
            .set(checkpoint.get() as f64);
    }

    /// Applies one event (or none, to move the checkpoint) in its own transaction.
    pub(crate) async fn apply_alone(
        &self,
        lane: &Lane,
        events: &[RecordedEvent],
        through: Checkpoint,
    ) -> Result<(), ApplyError> {
        self.target
            .apply(
                lane.generation,
                Arc::from(events),
                lane.checkpoint.position,
                through,
            )
            .await
    }
}
