//! Errors of the projector runtime.

use projector_core::{Generation, GlobalPosition, ProjectionName, ReadStoreError, StoreError};

/// Why a request to the projector failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// No projection of that name is registered.
    ///
    /// # Handling
    /// A caller error (HTTP 404).
    #[error("no projection named {0}")]
    UnknownProjection(ProjectionName),

    /// Two projections were registered under one name.
    ///
    /// # Handling
    /// A programming error: rename one.
    #[error("projection {0} is registered twice")]
    DuplicateProjection(ProjectionName),

    /// A rebuild was asked for while one is running.
    ///
    /// # Handling
    /// Wait for it to finish (HTTP 409).
    #[error("projection {projection} is already rebuilding into {generation}")]
    RebuildInProgress {
        /// The projection.
        projection: ProjectionName,
        /// The generation being built.
        generation: Generation,
    },

    /// The read store failed.
    ///
    /// # Handling
    /// Retry later (HTTP 503).
    #[error(transparent)]
    ReadStore(#[from] ReadStoreError),

    /// The event store failed.
    ///
    /// # Handling
    /// Retry later (HTTP 503).
    #[error(transparent)]
    Store(#[from] StoreError),

    /// The projection runs in another process (which holds its lease).
    ///
    /// # Handling
    /// Ask the process that runs it (HTTP 409).
    #[error("projection {0} runs in another process; ask that one")]
    Standby(ProjectionName),

    /// A newer version of the projection builds or serves its read model; this process runs
    /// an older one, and leaves the read model to it.
    ///
    /// # Handling
    /// Run the request where the newer version runs (HTTP 409).
    #[error(
        "projection {projection} runs version {version} here, but version {newer_version} builds or serves its read model; ask a process running that version"
    )]
    Outdated {
        /// The projection.
        projection: ProjectionName,
        /// The version this process runs.
        version: u32,
        /// The newer version.
        newer_version: u32,
    },

    /// The projection has no dead letter at that position (it was retried already, or never
    /// recorded).
    ///
    /// # Handling
    /// A caller error (HTTP 404).
    #[error("projection {projection} has no dead letter at position {position}")]
    NoDeadLetter {
        /// The projection.
        projection: ProjectionName,
        /// The position asked for.
        position: GlobalPosition,
    },

    /// A dead letter cannot be acted on as asked, for the reason given (it is skipped
    /// already, or it is not the event the projection is stopped at).
    ///
    /// # Handling
    /// A conflict with the projection's state (HTTP 409).
    #[error("the dead letter of {projection} at position {position} cannot be acted on: {reason}")]
    DeadLetterConflict {
        /// The projection.
        projection: ProjectionName,
        /// The letter's position.
        position: GlobalPosition,
        /// Why.
        reason: String,
    },

    /// The event of a dead letter could not be read from the projection's feed.
    ///
    /// # Handling
    /// Retry later (HTTP 503); a feed that no longer holds the event never will.
    #[error("the event at position {position} for {projection} cannot be read: {reason}")]
    EventUnavailable {
        /// The projection.
        projection: ProjectionName,
        /// The event's position.
        position: GlobalPosition,
        /// Why.
        reason: String,
    },

    /// The projection's worker has shut down.
    ///
    /// # Handling
    /// The process is stopping.
    #[error("projection {0} has shut down")]
    ShutDown(ProjectionName),

    /// A rebuild started but did not swap in (see [`WaitError`]).
    ///
    /// # Handling
    /// As the wait error says; the rebuild may still finish after a timeout.
    #[error(transparent)]
    Wait(#[from] WaitError),
}

/// Why waiting for a projection to reach a position ended without it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// No projection of that name is registered.
    #[error("no projection named {0}")]
    UnknownProjection(ProjectionName),
    /// The time ran out.
    #[error("projection {projection} reached position {reached}, not {wanted}, in time")]
    TimedOut {
        /// The projection.
        projection: ProjectionName,
        /// The position asked for.
        wanted: GlobalPosition,
        /// How far it got.
        reached: GlobalPosition,
    },
    /// The projection is stopped at a poison event before the position.
    #[error("projection {projection} is stopped at position {stopped_at}: {error}")]
    Stopped {
        /// The projection.
        projection: ProjectionName,
        /// How far it got.
        reached: GlobalPosition,
        /// The poison event's position.
        stopped_at: GlobalPosition,
        /// The poison event's error.
        error: String,
    },
    /// The projection refuses to project: its checkpoint is past the head of the event store.
    #[error(
        "projection {projection} is at position {reached}, past the head of the event store ({head}): {error}"
    )]
    Diverged {
        /// The projection.
        projection: ProjectionName,
        /// Its checkpoint.
        reached: GlobalPosition,
        /// The head of the event store.
        head: GlobalPosition,
        /// How to mend it.
        error: String,
    },
    /// The projector shut down.
    #[error("projection {projection} shut down at position {reached}")]
    ShutDown {
        /// The projection.
        projection: ProjectionName,
        /// How far it got.
        reached: GlobalPosition,
    },
    /// A rebuild ended without swapping in: it stopped at a poison event (its generation is
    /// dropped), or its generation is no longer the one being built.
    ///
    /// # Handling
    /// Look at the projection's dead letters, mend, and rebuild again.
    #[error("the rebuild of {projection} into {generation} ended without its swap")]
    RebuildAbandoned {
        /// The projection.
        projection: ProjectionName,
        /// The generation that was being built.
        generation: Generation,
    },
}

impl WaitError {
    /// The position the projection had reached when the wait ended.
    pub fn reached(&self) -> Option<GlobalPosition> {
        match self {
            WaitError::UnknownProjection(_) | WaitError::RebuildAbandoned { .. } => None,
            WaitError::TimedOut { reached, .. }
            | WaitError::Stopped { reached, .. }
            | WaitError::Diverged { reached, .. }
            | WaitError::ShutDown { reached, .. } => Some(*reached),
        }
    }
}
