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
    /// The issue holds as many comments as an issue may.
    ///
    /// # Handling
    /// HTTP 422, naming the limit.
    #[error("an issue holds at most {max} comments")]
    TooManyComments {
        /// The limit.
        max: u32,
    },
    /// The issue has been changed as many times as an issue may: its stream, which every
    /// command reads whole, stays bounded.
    ///
    /// # Handling
    /// HTTP 422, naming the limit.
    #[error("an issue takes at most {max} changes; open a new issue")]
    TooManyChanges {
        /// The limit.
        max: u32,
    },
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
