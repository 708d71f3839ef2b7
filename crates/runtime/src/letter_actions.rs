//! Acting on dead letters, in the worker so it is serialised with its batches: retrying a
//! letter's event once mended, and skipping the event a projection stopped at.
//!
//! A letter the projection *skipped* (policy `skip`) lies behind the checkpoint: retrying it
//! applies its event to the serving generation out of order, leaving the checkpoint. The
//! letter a projection *stopped* at (policy `stop`) is the event right after the checkpoint:
//! retrying it applies it and moves the checkpoint past it, and skipping it moves the
//! checkpoint without applying it; either way the projection goes on. A retry that fails
//! again adds an attempt to the letter, with its error.

use chrono::Utc;
use projector_core::{
    ApplyError, Checkpoint, DeadLetter, GlobalPosition, ReadStoreError, RecordedEvent,
};
use serde::Serialize;
use tokio::sync::oneshot;

use crate::RuntimeError;
use crate::lane::{Halt, LaneKind, Lanes};
use crate::status::WorkerState;
use crate::worker::{Step, Worker};

/// What was asked of a dead letter; each carries its reply.
#[derive(Debug)]
pub(crate) enum LetterAction {
    /// Apply the letter's event again.
    Retry {
        position: GlobalPosition,
        reply: oneshot::Sender<Result<RetryOutcome, RuntimeError>>,
    },
    /// Move past the letter the projection stopped at, keeping it, marked skipped.
    Skip {
        position: GlobalPosition,
        reply: oneshot::Sender<Result<DeadLetter, RuntimeError>>,
    },
}

impl LetterAction {
    /// Answers `error` (the projection does not run here).
    pub(crate) fn refuse(self, error: RuntimeError) {
        match self {
            LetterAction::Retry { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            LetterAction::Skip { reply, .. } => {
                let _ = reply.send(Err(error));
            }
        }
    }
}

/// How the retry of a dead letter ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RetryOutcome {
    /// The event applied; the letter is gone.
    Applied,
    /// The event failed again; the letter keeps it, with one more attempt.
    Failed {
        /// The new error.
        error: String,
        /// The letter's attempts, this one included.
        attempts: u32,
    },
}

impl Worker {
    pub(crate) async fn letter_action(&mut self, action: LetterAction, lanes: &mut Lanes) -> Step {
        match action {
            LetterAction::Retry { position, reply } => {
                let (result, step) = self.retry_letter(position, lanes).await;
                let _ = reply.send(result);
                step
            }
            LetterAction::Skip { position, reply } => {
                let (result, step) = self.skip_letter(position, lanes).await;
                let _ = reply.send(result);
                step
            }
        }
    }

    async fn retry_letter(
        &mut self,
        position: GlobalPosition,
        lanes: &mut Lanes,
    ) -> (Result<RetryOutcome, RuntimeError>, Step) {
        let name = self.target.name();
        let letter = match self.letter(position).await {
            Ok(letter) => letter,
            Err(error) => return (Err(error), Step::Continue),
        };
        let stopped_here = self.stopped_at(lanes, position);
        if !letter.skipped && !stopped_here {
            return (
                Err(self.conflict(position, NOT_STOPPED_HERE)),
                Step::Continue,
            );
        }
        let event = match self.event(position).await {
            Ok(event) => event,
            Err(error) => return (Err(error), Step::Continue),
        };
        let serving = &mut lanes.serving;
        let to = stopped_here.then(|| Checkpoint::after(&event));
        match self
            .target
            .retry_dead_letter(
                serving.generation,
                event.clone(),
                serving.checkpoint.position,
                to,
            )
            .await
        {
            Ok(()) => {
                tracing::info!(projection = %name, %position, skipped = letter.skipped,
                    "dead letter retried: its event applied");
                self.status
                    .send_modify(|s| s.dead_letters = s.dead_letters.saturating_sub(1));
                if let Some(to) = to {
                    self.go_on(lanes, to, std::slice::from_ref(&event));
                }
                (Ok(RetryOutcome::Applied), Step::Continue)
            }
            Err(ApplyError::Store(ReadStoreError::NoDeadLetter { .. })) => {
                (Err(self.no_letter(position)), Step::Continue)
            }
            Err(ApplyError::Store(error)) if error.is_fenced() => (Err(error.into()), Step::Reload),
            Err(ApplyError::Store(error)) => (Err(error.into()), Step::Continue),
            Err(ApplyError::Projection(error)) => {
                let message = ApplyError::Projection(error).to_string();
                self.failed_again(lanes, letter, message, stopped_here)
                    .await
            }
        }
    }

    /// Records a retry that failed: one more attempt, its error and time.
    async fn failed_again(
        &mut self,
        lanes: &mut Lanes,
        letter: DeadLetter,
        error: String,
        stopped_here: bool,
    ) -> (Result<RetryOutcome, RuntimeError>, Step) {
        let position = letter.position;
        let attempts = letter.attempts.saturating_add(1);
        let again = DeadLetter {
            error: error.clone(),
            attempts: 1,
            last_failed_at: Utc::now(),
            ..letter
        };
        let serving = &mut lanes.serving;
        match self
            .target
            .dead_letter(serving.generation, again, serving.checkpoint.position, None)
            .await
        {
            Ok(()) => {}
            Err(error) if error.is_fenced() => return (Err(error.into()), Step::Reload),
            Err(error) => return (Err(error.into()), Step::Continue),
        }
        tracing::warn!(projection = %self.target.name(), %position, attempts, error = %error,
            "dead letter retried: its event failed again");
        if stopped_here {
            serving.halt = Some(Halt::Poison {
                position,
                error: error.clone(),
            });
            self.set_state(WorkerState::Stopped {
                position,
                error: error.clone(),
            });
        }
        (Ok(RetryOutcome::Failed { error, attempts }), Step::Continue)
    }

    async fn skip_letter(
        &mut self,
        position: GlobalPosition,
        lanes: &mut Lanes,
    ) -> (Result<DeadLetter, RuntimeError>, Step) {
        let letter = match self.letter(position).await {
            Ok(letter) => letter,
            // A partition stopped at an event every partition applies, whose letter the
            // partition of its stream lists: it skips the event as that one did.
            Err(RuntimeError::NoDeadLetter { .. }) if self.stopped_at(lanes, position) => {
                match self.letter_of_halt(lanes, position).await {
                    Ok(letter) => letter,
                    Err(error) => return (Err(error), Step::Continue),
                }
            }
            Err(error) => return (Err(error), Step::Continue),
        };
        if letter.skipped {
            return (
                Err(self.conflict(position, "it is skipped already")),
                Step::Continue,
            );
        }
        if !self.stopped_at(lanes, position) {
            return (
                Err(self.conflict(position, NOT_STOPPED_HERE)),
                Step::Continue,
            );
        }
        // The checkpoint past the event keeps the event's time, for the lag; a feed that
        // cannot give the event leaves the time of the checkpoint before it.
        let serving = &mut lanes.serving;
        let to = match self.event(position).await {
            Ok(event) => Checkpoint::after(&event),
            Err(_) => Checkpoint {
                position,
                last_event_at: serving.checkpoint.last_event_at,
            },
        };
        let skipped = DeadLetter {
            attempts: 0,
            skipped: true,
            ..letter
        };
        match self
            .target
            .dead_letter(
                serving.generation,
                skipped.clone(),
                serving.checkpoint.position,
                Some(to),
            )
            .await
        {
            Ok(()) => {}
            Err(error) if error.is_fenced() => return (Err(error.into()), Step::Reload),
            Err(error) => return (Err(error.into()), Step::Continue),
        }
        tracing::info!(projection = %self.target.name(), %position,
            "dead letter skipped: the projection goes on past it");
        self.go_on(lanes, to, &[]);
        let letter = self.letter(position).await.unwrap_or(skipped);
        (Ok(letter), Step::Continue)
    }

    /// Moves the serving lane past the event it stopped at, and lets it go on.
    fn go_on(&mut self, lanes: &mut Lanes, to: Checkpoint, applied: &[RecordedEvent]) {
        let serving = &mut lanes.serving;
        serving.halt = None;
        self.advanced(serving, LaneKind::Serving, to, 1, applied);
        serving.rewind();
        self.set_state(WorkerState::CatchingUp);
    }

    /// Whether the serving lane is stopped at the event at `position`.
    fn stopped_at(&self, lanes: &Lanes, position: GlobalPosition) -> bool {
        matches!(&lanes.serving.halt, Some(Halt::Poison { position: at, .. }) if *at == position)
    }

    /// The serving generation's letter at `position`.
    async fn letter(&self, position: GlobalPosition) -> Result<DeadLetter, RuntimeError> {
        self.target
            .dead_letters()
            .await?
            .into_iter()
            .find(|l| l.position == position)
            .ok_or_else(|| self.no_letter(position))
    }

    /// A letter for the event the serving lane stopped at, made from the event and the error.
    async fn letter_of_halt(
        &self,
        lanes: &Lanes,
        position: GlobalPosition,
    ) -> Result<DeadLetter, RuntimeError> {
        let error = match &lanes.serving.halt {
            Some(Halt::Poison { error, .. }) => error.clone(),
            _ => String::new(),
        };
        let event = self.event(position).await?;
        let now = Utc::now();
        Ok(DeadLetter {
            projection: self.target.name(),
            position,
            event_id: event.event_id,
            stream_id: event.stream_id,
            event_type: event.event_type,
            error,
            attempts: 0,
            first_failed_at: now,
            last_failed_at: now,
            skipped: false,
        })
    }

    /// The event at `position`, from the feed.
    async fn event(&self, position: GlobalPosition) -> Result<RecordedEvent, RuntimeError> {
        event_at(self.feed.as_ref(), &self.target.name(), position).await
    }

    fn no_letter(&self, position: GlobalPosition) -> RuntimeError {
        RuntimeError::NoDeadLetter {
            projection: self.target.name(),
            position,
        }
    }

    fn conflict(&self, position: GlobalPosition, reason: &str) -> RuntimeError {
        RuntimeError::DeadLetterConflict {
            projection: self.target.name(),
            position,
            reason: reason.to_owned(),
        }
    }
}

/// Why a letter that is neither skipped nor the one the projection stopped at is left be.
const NOT_STOPPED_HERE: &str = "the projection is not stopped at it and did not skip it (it was \
     resumed, and applied or is applying the event since)";

/// The event at `position` in `feed`.
pub(crate) async fn event_at(
    feed: &dyn projector_core::EventFeed,
    projection: &projector_core::ProjectionName,
    position: GlobalPosition,
) -> Result<RecordedEvent, RuntimeError> {
    let unavailable = |reason: String| RuntimeError::EventUnavailable {
        projection: projection.clone(),
        position,
        reason,
    };
    let after = GlobalPosition::new(position.get().saturating_sub(1));
    let events = feed
        .read_all(after, 1)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    events
        .into_iter()
        .next()
        .filter(|e| e.position == position)
        .ok_or_else(|| unavailable("the feed has no event at that position".to_owned()))
}
