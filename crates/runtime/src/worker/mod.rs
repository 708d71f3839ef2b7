//! One projection's worker: opens its read model, then applies the feed batch by batch, catch
//! up then live, until shut down.
//!
//! A worker has one or two *lanes* (`lane`): the serving generation, and during a rebuild the
//! generation being built beside it (see `rebuild`). Each lane has its own checkpoint and feed;
//! `open` reads them from the catalog. Failures are handled here when transient (wait and
//! retry) and in `dead_letter` when an event is at fault. When the read store refuses a write
//! because its state is not what the worker last saw (another process moved a checkpoint or
//! swapped generations, or a reply was lost after a commit), the worker reads the catalog
//! again and carries on from what it finds.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use projector_core::{
    ApplyError, Checkpoint, EventFeed, EventFilter, Generation, GlobalPosition, HeadWatch,
    LeaseProvider, Pause, ProjectionControls, ProjectionTarget, ReadStoreError, RecordedEvent,
    StartFrom,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::RuntimeError;
use crate::lane::{Halt, Lane, LaneKind, Lanes};
use crate::letter_actions::LetterAction;
use crate::options::ProjectorOptions;
use crate::status::{ProjectionStatus, WorkerState};

mod progress;

/// Requests a worker takes between batches.
#[derive(Debug)]
pub(crate) enum Command {
    /// Build a new generation from the first event and swap it in when caught up.
    Rebuild {
        reply: oneshot::Sender<Result<Generation, RuntimeError>>,
    },
    /// Retry from the checkpoint after stopping at a poison event, and lift a pause.
    Resume {
        reply: oneshot::Sender<Result<bool, RuntimeError>>,
    },
    /// Retry or skip a dead letter (see `letter_actions`).
    DeadLetter(LetterAction),
    /// Apply nothing until resumed, keeping the pause in the projector's controls; the
    /// answer is `false` when already paused.
    Pause {
        /// Who asked, for the record.
        by: String,
        reply: oneshot::Sender<Result<bool, RuntimeError>>,
    },
    /// Build a new generation starting at `start` rather than where the projection says.
    RebuildFrom {
        start: StartFrom,
        reply: oneshot::Sender<Result<Generation, RuntimeError>>,
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
    /// The read store's state is not what the worker saw: read the catalog again.
    Reload,
    /// A write outside a batch failed transiently and its backoff has passed: try it again
    /// at once, without waiting for new events.
    Retry,
}

/// Why a worker stopped running its projection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Shutdown, or the loss of its lease.
    Stopped,
    /// A newer version of the projection serves the read model.
    Outdated { serving_version: u32 },
}

pub(crate) struct Worker {
    pub(crate) target: Arc<dyn ProjectionTarget>,
    pub(crate) feed: Arc<dyn EventFeed>,
    /// Where the lanes read their batches: `feed` itself, or for a partition the share of a
    /// feed read once for all the partitions in this process (see `shared_feed`).
    pub(crate) batches: Arc<dyn EventFeed>,
    pub(crate) filter: Arc<EventFilter>,
    pub(crate) options: ProjectorOptions,
    pub(crate) status: watch::Sender<ProjectionStatus>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) head: HeadWatch,
    /// When set, the projection runs here only while this process holds its lease.
    pub(crate) leases: Option<Arc<dyn LeaseProvider>>,
    /// With leases, for a partition: its place among the partitions its process runs, so
    /// they spread over the processes sharing them.
    pub(crate) balance: Option<crate::balance::Balance>,
    /// Transient failures in a row, for backoff.
    pub(crate) failures: u32,
    /// A newer version of the projection builds its read model: this worker leaves it be.
    pub(crate) newer_version: Option<u32>,
    /// A serving generation found past the head of the event store, and that head: it stays
    /// refused (even once new events pass its checkpoint) until a rebuild replaces it.
    pub(crate) ahead: Option<(Generation, GlobalPosition)>,
    /// With leases: when this process may try for the lease again (after its worker panicked,
    /// a standby gets the first chance).
    pub(crate) lease_not_before: tokio::time::Instant,
    /// When an idle worker of a volatile target next looks for its serving generation.
    pub(crate) next_probe: tokio::time::Instant,
    /// Where operators' pauses are kept.
    pub(crate) controls: Arc<dyn ProjectionControls>,
    /// The pause in force, while paused.
    pub(crate) paused: Option<Pause>,
    /// Whether the controls were read since the worker became active: until then it applies
    /// nothing, lest a pause it has not seen yet be broken.
    pub(crate) controls_read: bool,
    /// When the worker next reads its control record.
    pub(crate) next_control_check: tokio::time::Instant,
}

/// The longest a worker waits for the head when a read found nothing although the head said
/// there was more (a backend may announce positions before they are readable).
const IDLE_RECHECK: Duration = Duration::from_millis(50);

impl Worker {
    /// Runs the projection in this process until `self.shutdown` is cancelled (by shutdown,
    /// or by the loss of its lease), or until it finds a newer version serving its read model.
    pub(crate) async fn run_active(&mut self) -> Ended {
        let name = self.target.name();
        let mut lanes = match self.open().await {
            Some(Ok(lanes)) => lanes,
            Some(Err(ended)) => return ended,
            None => return Ended::Stopped,
        };
        tracing::info!(projection = %name, generation = %lanes.serving.generation,
            checkpoint = %lanes.serving.checkpoint.position, "projection started");
        self.recheck_controls();
        let mut building_next = false;
        loop {
            if self.shutdown.is_cancelled() {
                break;
            }
            let mut step = Step::Continue;
            while let Ok(command) = self.commands.try_recv() {
                if self.handle(command, &mut lanes).await == Step::Reload {
                    step = Step::Reload;
                }
            }
            self.check_controls(&mut lanes).await;
            if step == Step::Continue && self.held() {
                // Paused, or not yet known not to be: nothing is applied, but commands, the
                // head and the controls are still heard.
                step = self
                    .wait(&mut lanes, Some(crate::pause::CONTROL_RECHECK))
                    .await;
                if step == Step::Continue && self.held() {
                    continue;
                }
            }
            if step == Step::Continue {
                step = self.finish_rebuild(&mut lanes).await;
            }
            if step == Step::Continue {
                let head = *self.head.borrow_and_update();
                let serving_work = lanes.serving.has_work(head);
                let building_work = lanes.building.as_ref().is_some_and(|b| b.has_work(head));
                // While both lanes have work they take turns, so live traffic never starves a
                // rebuild and a rebuild never delays live events by more than one batch.
                step = match (serving_work, building_work, lanes.building.as_mut()) {
                    (true, true, Some(lane)) if building_next => {
                        building_next = false;
                        self.step(lane, LaneKind::Building).await
                    }
                    (true, _, _) => {
                        building_next = true;
                        self.step(&mut lanes.serving, LaneKind::Serving).await
                    }
                    (false, true, Some(lane)) => self.step(lane, LaneKind::Building).await,
                    _ if lanes.serving.passed_due() => self.write_passed(&mut lanes.serving).await,
                    _ => {
                        self.settle(&lanes.serving);
                        // Woken at least as often as the controls are read, so a pause another
                        // process writes reaches an idle worker.
                        self.wait(&mut lanes, Some(crate::pause::CONTROL_RECHECK))
                            .await
                    }
                };
            }
            match step {
                Step::Continue | Step::Retry => {}
                Step::Idle => {
                    if self.wait(&mut lanes, Some(IDLE_RECHECK)).await == Step::Shutdown {
                        break;
                    }
                }
                Step::Reload => {
                    tracing::info!(projection = %name,
                        "the read store is not as this process left it; reading its catalog again");
                    lanes = match self.open().await {
                        Some(Ok(lanes)) => lanes,
                        Some(Err(ended)) => return ended,
                        None => break,
                    };
                    self.recheck_controls();
                }
                Step::Shutdown => break,
            }
        }
        // Events a batch interval held back are applied before stopping: the delay was the
        // worker's own, and a clean stop should not leave them behind. A pause holds them.
        if !self.held()
            && lanes.serving.next_batch_at.is_some()
            && lanes.serving.has_work(*self.head.borrow())
        {
            let _ = self.step(&mut lanes.serving, LaneKind::Serving).await;
        }
        // The store's checkpoint is left where reads were answered; replaying the events passed
        // would change nothing, but a stopped projection should not show a lag it does not have.
        let _ = self.write_passed(&mut lanes.serving).await;
        tracing::info!(projection = %name, checkpoint = %lanes.serving.checkpoint.position, "projection stopped here");
        Ended::Stopped
    }

    async fn handle(&mut self, command: Command, lanes: &mut Lanes) -> Step {
        match command {
            Command::Rebuild { reply } => {
                let (result, step) = self.start_rebuild(lanes, self.target.start_from()).await;
                let _ = reply.send(result);
                step
            }
            Command::RebuildFrom { start, reply } => {
                let (result, step) = self.start_rebuild(lanes, start).await;
                let _ = reply.send(result);
                step
            }
            Command::Pause { by, reply } => {
                let _ = reply.send(self.pause(by).await);
                Step::Continue
            }
            Command::Resume { reply } => {
                let lifted = match self.lift_pause(lanes).await {
                    Ok(lifted) => lifted,
                    Err(error) => {
                        let _ = reply.send(Err(error));
                        return Step::Continue;
                    }
                };
                let serving = &mut lanes.serving;
                let resumed = matches!(serving.halt, Some(Halt::Poison { .. }));
                if resumed {
                    serving.halt = None;
                    tracing::info!(projection = %self.target.name(), checkpoint = %serving.checkpoint.position,
                        "resuming after a poison event");
                    serving.rewind();
                    self.set_state(WorkerState::CatchingUp);
                }
                let _ = reply.send(Ok(resumed || lifted));
                Step::Continue
            }
            Command::DeadLetter(action) => self.letter_action(action, lanes).await,
        }
    }

    /// Applies the next batch of one lane.
    pub(crate) async fn step(&mut self, lane: &mut Lane, kind: LaneKind) -> Step {
        // After a batch at the head, what arrives in the batch interval is gathered into the
        // next batch; a stop cuts the wait short.
        if let Some(at) = lane.next_batch_at.take() {
            let wait = at.saturating_duration_since(tokio::time::Instant::now());
            if !wait.is_zero() {
                self.sleep(wait).await;
            }
        }
        let head = *self.head.borrow();
        let batch = match lane.feed.next().await {
            Ok(batch) => batch,
            Err(error) => {
                lane.rewind();
                return self.continue_unless_shutdown(&error.to_string()).await;
            }
        };
        let (Some(pending_since), Some(through)) = (batch.first_recorded_at, batch.through) else {
            return Step::Idle;
        };
        if kind == LaneKind::Serving {
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
        let read = batch.read;
        // Short of a full batch and up to the head as it stood before the read: the lane is at
        // the head. A short batch that ends below it (a partition's share of a backlog) is
        // catching up, and the next follows at once.
        let at_head = read < self.options.batch_size && through.position >= head;
        let handled: Arc<[RecordedEvent]> = batch.events.into();
        if handled.is_empty() && self.may_pass(lane, kind) {
            self.passed(lane, through, read);
            self.gather_next(lane, at_head);
            return Step::Continue;
        }
        self.commit(lane, kind, handled, through, read, at_head)
            .await
    }

    /// Whether the lane may move past a batch its projection ignores without writing its
    /// checkpoint: a serving lane that wrote it a moment ago, run without a lease (with one,
    /// the processes standing by answer reads at the checkpoint the store holds). An inline
    /// target's checkpoint is the event store's to move: it moves it with the events the read
    /// model takes, not with the others.
    fn may_pass(&self, lane: &Lane, kind: LaneKind) -> bool {
        kind == LaneKind::Serving && self.leases.is_none() && lane.wrote_lately()
    }

    /// Writes the position the serving lane passed, if any (see `Lane::passed`).
    pub(crate) async fn write_passed(&mut self, lane: &mut Lane) -> Step {
        match lane.passed {
            Some(passed) => {
                self.commit(lane, LaneKind::Serving, Arc::from([]), passed, 0, true)
                    .await
            }
            None => Step::Continue,
        }
    }

    /// Applies `handled`, the events the projection takes of the `read` up to `through`, and
    /// moves the lane's checkpoint to `through`; `at_head` when that is the head of the feed.
    async fn commit(
        &mut self,
        lane: &mut Lane,
        kind: LaneKind,
        handled: Arc<[RecordedEvent]>,
        through: Checkpoint,
        read: usize,
        at_head: bool,
    ) -> Step {
        let started = std::time::Instant::now();
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
                metrics::histogram!("projector_projection_batch_apply_seconds",
                    "projection" => self.target.name().to_string())
                .record(started.elapsed().as_secs_f64());
                self.advanced(lane, kind, through, read, &handled);
                self.gather_next(lane, at_head);
                Step::Continue
            }
            Err(error) if error.is_transient() => {
                lane.rewind();
                self.continue_unless_shutdown(&error.to_string()).await
            }
            Err(ApplyError::Projection(error)) => {
                lane.rewind();
                self.isolate(lane, kind, handled, through, error).await
            }
            Err(ApplyError::Store(ReadStoreError::CheckpointMoved { found, .. }))
                if self.target.inline() && found == through.position =>
            {
                // The appends applied this very batch: the checkpoint is `through`, no need to
                // read it back.
                self.moved_to(lane, kind, through);
                lane.rewind();
                Step::Continue
            }
            Err(ApplyError::Store(ReadStoreError::CheckpointMoved { found, .. })) => {
                self.checkpoint_moved(lane, kind, found).await
            }
            Err(ApplyError::Store(error)) if error.is_fenced() => Step::Reload,
            Err(ApplyError::Store(error)) => {
                lane.rewind();
                self.continue_unless_shutdown(&error.to_string()).await
            }
        }
    }

    /// Once a batch reached the head of the feed, what arrives in the batch interval (the
    /// target's, or the projector's where that is longer) is gathered into the next batch.
    fn gather_next(&self, lane: &mut Lane, at_head: bool) {
        let interval = self
            .target
            .batch_interval()
            .max(self.options.batch_interval);
        if at_head && !interval.is_zero() {
            lane.next_batch_at = Some(tokio::time::Instant::now() + interval);
        }
    }

    /// Another process moved this generation's checkpoint: it holds the projection now, or
    /// held it a moment ago. Take the checkpoint it left and carry on from there; a worker
    /// that lost its lease is stopped by the lease watcher before its next batch.
    pub(crate) async fn checkpoint_moved(
        &mut self,
        lane: &mut Lane,
        kind: LaneKind,
        found: GlobalPosition,
    ) -> Step {
        if self.target.inline() {
            // The event store applies an inline projection with each append: expected.
            tracing::debug!(projection = %self.target.name(), ours = %lane.checkpoint.position, theirs = %found,
                "the appends moved the inline checkpoint; nothing was applied twice");
        } else {
            tracing::warn!(projection = %self.target.name(), ours = %lane.checkpoint.position, theirs = %found,
                "another process moved the checkpoint; nothing was applied twice");
        }
        match self.target.checkpoint(lane.generation).await {
            Ok(checkpoint) => {
                self.moved_to(lane, kind, checkpoint);
                lane.rewind();
                Step::Continue
            }
            Err(error) if error.is_fenced() => Step::Reload,
            Err(error) => {
                lane.rewind();
                self.continue_unless_shutdown(&error.to_string()).await
            }
        }
    }

    /// Waits for a new commit, a command or shutdown (or `limit`, if given), looking for a
    /// volatile target's serving generation when that is due (see `volatile`).
    async fn wait(&mut self, lanes: &mut Lanes, limit: Option<Duration>) -> Step {
        let limit = match (limit, self.until_probe()) {
            (Some(limit), Some(probe)) => Some(limit.min(probe)),
            (limit, probe) => limit.or(probe),
        };
        let sleep = tokio::time::sleep(limit.unwrap_or(Duration::from_secs(3600)));
        tokio::select! {
            () = self.shutdown.cancelled() => Step::Shutdown,
            changed = self.head.changed() => {
                if changed.is_err() {
                    // The store closed: nothing more will come.
                    self.shutdown.cancelled().await;
                    return Step::Shutdown;
                }
                let serving = &lanes.serving;
                if serving.halt.is_none() && serving.position().position < *self.head.borrow() {
                    let now = Utc::now();
                    self.status.send_modify(|s| {
                        s.pending_since.get_or_insert(now);
                    });
                }
                Step::Continue
            }
            command = self.commands.recv() => match command {
                Some(command) => self.handle(command, lanes).await,
                None => Step::Continue,
            },
            () = sleep => self.probe(lanes).await,
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
