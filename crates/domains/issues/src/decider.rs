//! The issue decider: one event per field a command changes, nothing for a command that changes
//! nothing, and the lifecycle's rules for state changes.

use chrono::{DateTime, Utc};
use projector_core::{Decider, IdError, StreamId};

use crate::error::IssueError;
use crate::events::{
    CommentAdded, IssueAssigned, IssueCreated, IssueEvent, PriorityChanged, StateChanged,
    TextChanged,
};
use crate::state::{Issue, IssueState, Priority};

/// The fields an update may set; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// A new title.
    pub title: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new priority.
    pub priority: Option<Priority>,
    /// A new state, one lifecycle step away.
    pub state: Option<IssueState>,
    /// A new assignee; `Some(None)` unassigns.
    pub assignee: Option<Option<String>>,
}

/// What can be asked of an issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueCommand {
    /// Report a new issue (state `open`).
    Create {
        /// Its id.
        issue_id: String,
        /// Its title.
        title: String,
        /// Its description.
        description: String,
        /// How urgent.
        priority: Priority,
        /// Now.
        at: DateTime<Utc>,
    },
    /// Change some of its fields.
    Update(Changes),
    /// Comment on it.
    Comment {
        /// The comment's id.
        comment_id: String,
        /// What to say.
        body: String,
    },
}

/// The stream that holds issue `issue_id`'s events.
///
/// # Errors
/// When the id makes no valid stream id.
pub fn issue_stream(issue_id: &str) -> Result<StreamId, IdError> {
    StreamId::parse(format!("issue-{issue_id}"))
}

/// The most comments an issue holds, so its view (which lists them) stays bounded.
pub const MAX_COMMENTS: u32 = 1_000;
/// The most events an issue's stream holds. Every command reads the stream whole (no
/// snapshots: an issue is small and changed by people, so a cap keeps each command's read
/// bounded at no cost to real use, where a snapshot store would be a second model to keep).
pub const MAX_CHANGES: u32 = 10_000;

/// The issue decider.
#[derive(Clone, Copy, Debug, Default)]
pub struct IssueDecider;

impl Decider for IssueDecider {
    type State = Issue;
    type Command = IssueCommand;
    type Event = IssueEvent;
    type Error = IssueError;

    fn decide(&self, issue: &Issue, command: &IssueCommand) -> Result<Vec<IssueEvent>, IssueError> {
        if let IssueCommand::Create {
            issue_id,
            title,
            description,
            priority,
            at,
        } = command
        {
            if issue.id.is_some() {
                return Err(IssueError::AlreadyExists);
            }
            return Ok(vec![IssueEvent::Created(IssueCreated {
                issue_id: issue_id.clone(),
                title: title.clone(),
                description: description.clone(),
                priority: *priority,
                created_at: *at,
            })]);
        }
        let (Some(issue_id), Some(state), Some(priority)) =
            (issue.id.clone(), issue.state, issue.priority)
        else {
            return Err(IssueError::NotFound);
        };
        if issue.changes >= MAX_CHANGES {
            return Err(IssueError::TooManyChanges { max: MAX_CHANGES });
        }
        match command {
            IssueCommand::Create { .. } => Err(IssueError::AlreadyExists),
            IssueCommand::Comment { .. } if issue.comments >= MAX_COMMENTS => {
                Err(IssueError::TooManyComments { max: MAX_COMMENTS })
            }
            IssueCommand::Comment { comment_id, body } => {
                Ok(vec![IssueEvent::CommentAdded(CommentAdded {
                    issue_id,
                    comment_id: comment_id.clone(),
                    body: body.clone(),
                })])
            }
            IssueCommand::Update(changes) => {
                let mut events = Vec::new();
                if let Some(to) = changes.title.as_ref().filter(|t| **t != issue.title) {
                    events.push(IssueEvent::Retitled(TextChanged {
                        issue_id: issue_id.clone(),
                        from: issue.title.clone(),
                        to: to.clone(),
                    }));
                }
                if let Some(to) = changes
                    .description
                    .as_ref()
                    .filter(|d| **d != issue.description)
                {
                    events.push(IssueEvent::DescriptionChanged(TextChanged {
                        issue_id: issue_id.clone(),
                        from: issue.description.clone(),
                        to: to.clone(),
                    }));
                }
                if let Some(to) = changes.priority.filter(|p| *p != priority) {
                    events.push(IssueEvent::PriorityChanged(PriorityChanged {
                        issue_id: issue_id.clone(),
                        from: priority,
                        to,
                    }));
                }
                if let Some(to) = changes.state.filter(|s| *s != state) {
                    if !state.can_move_to(to) {
                        return Err(IssueError::InvalidTransition { from: state, to });
                    }
                    events.push(IssueEvent::StateChanged(StateChanged {
                        issue_id: issue_id.clone(),
                        from: state,
                        to,
                    }));
                }
                if let Some(to) = changes.assignee.as_ref().filter(|a| **a != issue.assignee) {
                    events.push(IssueEvent::Assigned(IssueAssigned {
                        issue_id,
                        from: issue.assignee.clone(),
                        to: to.clone(),
                    }));
                }
                Ok(events)
            }
        }
    }

    /// Only a new stream takes it: it is appended without reading the stream first.
    fn creates(&self, command: &IssueCommand) -> bool {
        matches!(command, IssueCommand::Create { .. })
    }

    fn evolve(&self, issue: Issue, event: &IssueEvent) -> Issue {
        issue.evolve(event)
    }
}

#[cfg(test)]
mod tests;
