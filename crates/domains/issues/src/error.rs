//! Why the issue decider refuses a command.

use crate::state::IssueState;

/// A command the issue's current state does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The issue does not exist.
    ///
    /// # Handling
    /// HTTP 404.
    #[error("issue not found")]
    NotFound,
    /// An issue with this id exists.
    ///
    /// # Handling
    /// HTTP 409.
    #[error("an issue with this id already exists")]
    AlreadyExists,
    /// The lifecycle does not allow this step.
    ///
    /// # Handling
    /// HTTP 409.
    #[error("an issue cannot go from {from} to {to}")]
    InvalidTransition {
        /// Its state.
        from: IssueState,
        /// The state asked for.
        to: IssueState,
    },
}
