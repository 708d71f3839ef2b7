//! Isolating a poison event: when a batch fails through the projection's own fault, keep the
//! events before the culprit, retry the culprit alone with backoff, and once it has failed
//! every attempt record it as a dead letter and stop or skip, as the projection's policy says.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use projector_core::{
    ApplyError, Checkpoint, DeadLetter, Partition, PoisonPolicy, ProjectionError, ReadStoreError,
    RecordedEvent,
};

use crate::lane::{Halt, Lane, LaneKind};
use crate::status::WorkerState;
use crate::worker::{Step, Worker};

/// How one event's isolated attempts ended.
enum Outcome {
    /// Applied after all: the failure was not the event's.
    Applied,
    /// Dead-lettered and moved past (policy `skip`).
    Skipped,
    /// Dead-lettered and the lane stopped (policy `stop`).
    Stopped,
    /// Another process moved the checkpoint; the lane now starts from its checkpoint.
    Moved,
    /// The generation is gone or swapped: read the catalog again.
    Reload,
    /// Shutdown (or the loss of the lease) came first.
    Shutdown,
}

impl Worker {
    /// Handles a batch whose apply failed with `error`; nothing of the batch was committed.
    pub(crate) async fn isolate(
        &mut self,
        lane: &mut Lane,
        kind: LaneKind,
        events: Arc<[RecordedEvent]>,
        through: Checkpoint,
        error: ProjectionError,
    ) -> Step {
        tracing::warn!(projection = %self.target.name(), error = %error,
            "batch failed; isolating the failing event");
        let mut start = 0;
        let culprit = error
            .position
            .and_then(|p| events.iter().position(|e| e.position == p));
        if let Some(index) = culprit.filter(|i| *i > 0) {
            let prefix = Checkpoint::after(&events[index - 1]);
            if self
                .apply_alone(lane, &events[..index], prefix)
                .await
                .is_ok()
            {
                self.advanced(lane, kind, prefix, index, &events[..index]);
                start = index;
            }
        }
        for event in &events[start..] {
            match self.apply_until_done(lane, kind, event).await {
                Outcome::Applied | Outcome::Skipped => {}
                Outcome::Stopped | Outcome::Moved => return Step::Continue,
                Outcome::Reload => return Step::Reload,
                Outcome::Shutdown => return Step::Shutdown,
            }
        }
        // Move past the events of the batch the projection does not handle.
        while lane.checkpoint.position < through.position {
            match self.apply_alone(lane, &[], through).await {
                Ok(()) => self.advanced(lane, kind, through, 0, &[]),
                Err(ApplyError::Store(ReadStoreError::CheckpointMoved { found, .. })) => {
                    return self.checkpoint_moved(lane, kind, found).await;
                }
                Err(ApplyError::Store(error)) if error.is_fenced() => return Step::Reload,
                Err(error) => {
                    if !self.transient_failure(&error.to_string()).await {
                        return Step::Shutdown;
                    }
                }
            }
        }
        lane.rewind();
        Step::Continue
    }

    /// Applies one event alone until it passes or has failed every attempt.
    async fn apply_until_done(
        &mut self,
        lane: &mut Lane,
        kind: LaneKind,
        event: &RecordedEvent,
    ) -> Outcome {
        let through = Checkpoint::after(event);
        let first_failed_at = Utc::now();
        let mut attempts = 0;
        loop {
            match self
                .apply_alone(lane, std::slice::from_ref(event), through)
                .await
            {
                Ok(()) => {
                    self.advanced(lane, kind, through, 1, std::slice::from_ref(event));
                    return Outcome::Applied;
                }
                Err(ApplyError::Store(ReadStoreError::CheckpointMoved { found, .. })) => {
                    return self.moved(lane, kind, found).await;
                }
                Err(ApplyError::Store(error)) if error.is_fenced() => return Outcome::Reload,
                Err(error) if error.is_transient() => {
                    if !self.transient_failure(&error.to_string()).await {
                        return Outcome::Shutdown;
                    }
                }
                Err(error) => {
                    attempts += 1;
                    let message = error.to_string();
                    if attempts >= self.options.retry.max_attempts.max(1) {
                        return self
                            .dead_letter(lane, kind, event, message, attempts, first_failed_at)
                            .await;
                    }
                    let wait = self.options.retry.backoff(attempts);
                    tracing::warn!(projection = %self.target.name(), position = %event.position,
                        event_type = %event.event_type, attempt = attempts, error = %message,
                        retry_in_ms = wait.as_millis() as u64, "event failed; retrying it alone");
                    if !self.sleep(wait).await {
                        return Outcome::Shutdown;
                    }
                }
            }
        }
    }

    async fn dead_letter(
        &mut self,
        lane: &mut Lane,
        kind: LaneKind,
        event: &RecordedEvent,
        error: String,
        attempts: u32,
        first_failed_at: DateTime<Utc>,
    ) -> Outcome {
        let name = self.target.name();
        let policy = self.target.poison_policy();
        let skip_to = (policy == PoisonPolicy::Skip).then(|| Checkpoint::after(event));
        let letter = DeadLetter {
            projection: name.clone(),
            position: event.position,
            event_id: event.event_id,
            stream_id: event.stream_id.clone(),
            event_type: event.event_type.clone(),
            error: error.clone(),
            attempts,
            first_failed_at,
            last_failed_at: Utc::now(),
            skipped: skip_to.is_some(),
        };
        loop {
            // A process that lost its lease must not write for the projection any more.
            if self.shutdown.is_cancelled() {
                return Outcome::Shutdown;
            }
            match self
                .target
                .dead_letter(
                    lane.generation,
                    letter.clone(),
                    lane.checkpoint.position,
                    skip_to,
                )
                .await
            {
                Ok(()) => break,
                Err(ReadStoreError::CheckpointMoved { found, .. }) => {
                    return self.moved(lane, kind, found).await;
                }
                Err(error) if error.is_fenced() => return Outcome::Reload,
                Err(error) => {
                    if !self.transient_failure(&error.to_string()).await {
                        return Outcome::Shutdown;
                    }
                }
            }
        }
        tracing::error!(projection = %name, position = %event.position, stream = %event.stream_id,
            event_type = %event.event_type, attempts, error = %error, ?policy,
            correlation_id = event.metadata.correlation_id.as_ref().map(|c| c.as_str()),
            "event dead-lettered");
        metrics::counter!("projector_projection_dead_letters_recorded_total", "projection" => name.to_string())
            .increment(1);
        // A partition counts the letters it lists: those of its own streams (a letter of an
        // event every partition applies is listed, and counted, by its stream's partition).
        let listed = self
            .target
            .partition()
            .is_none_or(|p| Partition::of_stream(&event.stream_id, p.count()) == p.index());
        if kind == LaneKind::Serving && listed {
            self.status.send_modify(|s| s.dead_letters += 1);
        }
        match skip_to {
            Some(to) => {
                self.advanced(lane, kind, to, 1, &[]);
                Outcome::Skipped
            }
            None => {
                lane.halt = Some(Halt::Poison {
                    position: event.position,
                    error: error.clone(),
                });
                if kind == LaneKind::Serving {
                    self.set_state(WorkerState::Stopped {
                        position: event.position,
                        error,
                    });
                }
                Outcome::Stopped
            }
        }
    }

    /// Another process moved the checkpoint: carry on from where it left it.
    async fn moved(
        &mut self,
        lane: &mut Lane,
        kind: LaneKind,
        found: projector_core::GlobalPosition,
    ) -> Outcome {
        match self.checkpoint_moved(lane, kind, found).await {
            Step::Shutdown => Outcome::Shutdown,
            Step::Reload => Outcome::Reload,
            _ => Outcome::Moved,
        }
    }
}
