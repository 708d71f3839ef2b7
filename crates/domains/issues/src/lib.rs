//! The issue tracker: issues with a history of who changed what, and no dirty
//! writes when users edit at once.
//!
//! Written only against `projector-core`'s public traits, it is the larger example beside the
//! counter of `docs/embedding.md`:
//! - [`events`]: the events, stored with schema versions, and an upcaster that reads
//!   `IssueCreated` v1 (no priority) as v2;
//! - [`state`] and [`decider`]: the pure decider, one event per changed field;
//! - [`projections`]: `issues` (current state and comments) and `issue_history` (the audit log);
//! - [`queries`]: typed reads of those read models; [`error`]: why commands are refused.
//!
//! It is not: an HTTP API (see `projector-server`) or storage (any backend runs it).

pub mod decider;
pub mod error;
pub mod events;
pub mod projections;
pub mod queries;
pub mod state;

pub use decider::{Changes, IssueCommand, IssueDecider, issue_stream};
pub use error::IssueError;
pub use events::IssueEvent;
pub use state::{Issue, IssueState, Priority};
