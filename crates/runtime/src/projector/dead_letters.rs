//! [`ProjectorHandle`]'s dead letters: listing them with their events, and retrying or
//! skipping them through the projection's worker (see `letter_actions`).

use projector_core::{DeadLetter, GlobalPosition, ProjectionName, ReadStoreError, RecordedEvent};
use tokio::sync::oneshot;

use super::ProjectorHandle;
use crate::error::RuntimeError;
use crate::letter_actions::{LetterAction, RetryOutcome, event_at};
use crate::status::WorkerState;
use crate::worker::Command;

impl ProjectorHandle {
    /// The dead letters of `name`'s serving generation, oldest first (none before it has
    /// one). Read from the store, so a standby lists what the process running it recorded.
    ///
    /// # Errors
    /// Unknown projection, or the read store failing.
    pub async fn dead_letters(
        &self,
        name: &ProjectionName,
    ) -> Result<Vec<DeadLetter>, RuntimeError> {
        let partitions = self.partition_workers(name);
        if !partitions.is_empty() && !self.inner.workers.contains_key(name) {
            // Each partition lists the letters of its own streams: together, all of them.
            let mut letters = Vec::new();
            for partition in &partitions {
                letters.extend(Box::pin(self.dead_letters(partition)).await?);
            }
            letters.sort_by_key(|l| l.position);
            letters.dedup_by_key(|l| l.position);
            return Ok(letters);
        }
        let worker = self.worker(name)?;
        match worker.target.dead_letters().await {
            Ok(mut letters) => {
                letters.sort_by_key(|l| l.position);
                Ok(letters)
            }
            Err(ReadStoreError::NoGeneration { .. }) => Ok(Vec::new()),
            Err(error) => Err(error.into()),
        }
    }

    /// The dead letter of `name` at `position`.
    ///
    /// # Errors
    /// [`RuntimeError::NoDeadLetter`] when there is none; as [`dead_letters`](Self::dead_letters).
    pub async fn dead_letter(
        &self,
        name: &ProjectionName,
        position: GlobalPosition,
    ) -> Result<DeadLetter, RuntimeError> {
        self.dead_letters(name)
            .await?
            .into_iter()
            .find(|l| l.position == position)
            .ok_or_else(|| RuntimeError::NoDeadLetter {
                projection: name.clone(),
                position,
            })
    }

    /// The event at `position` as `name` reads it from the projector's feed (an event store,
    /// or a bus that replays its stream).
    ///
    /// # Errors
    /// Unknown projection; [`RuntimeError::EventUnavailable`] when the feed fails or does
    /// not hold the event.
    pub async fn event(
        &self,
        name: &ProjectionName,
        position: GlobalPosition,
    ) -> Result<RecordedEvent, RuntimeError> {
        if self.partition_workers(name).is_empty() {
            self.worker(name)?;
        }
        event_at(self.inner.feed.as_ref(), name, position).await
    }

    /// Applies the event of `name`'s dead letter at `position` again: a letter it skipped
    /// without moving the checkpoint, the one it stopped at moving past it (it goes on).
    /// Applied, the letter is gone; failed, it has one more attempt and the new error.
    ///
    /// # Errors
    /// Unknown projection or letter, [`RuntimeError::DeadLetterConflict`] for a letter
    /// neither skipped nor stopped at, the projection running in another process
    /// ([`RuntimeError::Standby`]), the event unavailable, or the read store failing.
    pub async fn retry_dead_letter(
        &self,
        name: &ProjectionName,
        position: GlobalPosition,
    ) -> Result<RetryOutcome, RuntimeError> {
        let worker = self.letter_worker(name, position).await?;
        // The other partitions stopped at the event go again from their checkpoints first:
        // the letter stays with its own partition until that one applies it.
        for other in self.others_stopped_at(name, position, &worker) {
            if let Some(error) = self.resume_past(&other, position).await? {
                let attempts = self.dead_letter(name, position).await?.attempts;
                return Ok(RetryOutcome::Failed { error, attempts });
            }
        }
        let (reply, answer) = oneshot::channel();
        self.letter_action(&worker, LetterAction::Retry { position, reply })
            .await?;
        answer
            .await
            .map_err(|_| RuntimeError::ShutDown(name.clone()))?
    }

    /// Retries every dead letter of `name`, in position order, and says how each went. Stops
    /// early only when the projection cannot be asked at all (another process runs it, or it
    /// shut down).
    ///
    /// # Errors
    /// As [`retry_dead_letter`](Self::retry_dead_letter), for the projection as a whole.
    pub async fn retry_dead_letters(
        &self,
        name: &ProjectionName,
    ) -> Result<Vec<(GlobalPosition, Result<RetryOutcome, RuntimeError>)>, RuntimeError> {
        // A standby refuses even when there is nothing to retry, as every action does.
        if self
            .status(name)
            .is_some_and(|s| s.state == WorkerState::Standby)
        {
            return Err(RuntimeError::Standby(name.clone()));
        }
        let mut outcomes = Vec::new();
        for letter in self.dead_letters(name).await? {
            let outcome = self.retry_dead_letter(name, letter.position).await;
            if let Err(
                error @ (RuntimeError::Standby(_)
                | RuntimeError::Outdated { .. }
                | RuntimeError::ShutDown(_)),
            ) = outcome
            {
                return Err(error);
            }
            outcomes.push((letter.position, outcome));
        }
        Ok(outcomes)
    }

    /// Moves `name` past the event it stopped at (`position`), keeping its letter, marked
    /// skipped; the projection goes on. Returns the letter as now recorded.
    ///
    /// # Errors
    /// Unknown projection or letter; [`RuntimeError::DeadLetterConflict`] when the letter
    /// is skipped already or the projection is not stopped at it; as
    /// [`retry_dead_letter`](Self::retry_dead_letter).
    pub async fn skip_dead_letter(
        &self,
        name: &ProjectionName,
        position: GlobalPosition,
    ) -> Result<DeadLetter, RuntimeError> {
        let worker = self.letter_worker(name, position).await?;
        let skip = |worker: ProjectionName| async move {
            let (reply, answer) = oneshot::channel();
            self.letter_action(&worker, LetterAction::Skip { position, reply })
                .await?;
            answer
                .await
                .map_err(|_| RuntimeError::ShutDown(name.clone()))?
        };
        let others = self.others_stopped_at(name, position, &worker);
        let letter = skip(worker).await?;
        // Every other partition stopped at the event moves past it as well.
        for other in others {
            skip(other).await?;
        }
        Ok(letter)
    }

    /// The worker a letter action on `name` at `position` goes to: `name`'s own, or, named by
    /// a partitioned projection, the partition whose stream the letter is in.
    async fn letter_worker(
        &self,
        name: &ProjectionName,
        position: GlobalPosition,
    ) -> Result<ProjectionName, RuntimeError> {
        if self.inner.workers.contains_key(name) || self.partition_workers(name).is_empty() {
            return Ok(name.clone());
        }
        self.letter_partition(name, position).await
    }

    async fn letter_action(
        &self,
        worker: &ProjectionName,
        action: LetterAction,
    ) -> Result<(), RuntimeError> {
        self.worker(worker)?
            .commands
            .send(Command::DeadLetter(action))
            .await
            .map_err(|_| RuntimeError::ShutDown(worker.clone()))
    }
}
