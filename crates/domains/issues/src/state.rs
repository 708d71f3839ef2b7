//! An issue as the decider sees it, and the values its fields take.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::events::IssueEvent;

/// How urgent an issue is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Whenever.
    Low,
    /// The default.
    Medium,
    /// Soon.
    High,
    /// Now.
    Critical,
}

/// Where an issue is in its life: `open` → `in_progress` → `resolved` → `closed`, step by step,
/// and back to `open` from `in_progress` or `resolved`; a closed issue can only be reopened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueState {
    /// Reported, not yet worked on.
    Open,
    /// Someone is on it.
    InProgress,
    /// Fixed, awaiting confirmation.
    Resolved,
    /// Done.
    Closed,
}

macro_rules! names {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            /// Every value, in order.
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),*];

            /// The name used in events, read models and the API.
            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $name),* }
            }

            /// Reads a name written by `as_str`.
            pub fn parse(name: &str) -> Option<Self> {
                match name { $($name => Some(<$ty>::$variant),)* _ => None }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names!(Priority { Low => "low", Medium => "medium", High => "high", Critical => "critical" });
names!(IssueState { Open => "open", InProgress => "in_progress", Resolved => "resolved", Closed => "closed" });

impl IssueState {
    /// Whether an issue may move from `self` to `to` in one step.
    pub fn can_move_to(self, to: IssueState) -> bool {
        use IssueState::{Closed, InProgress, Open, Resolved};
        matches!(
            (self, to),
            (Open, InProgress)
                | (InProgress, Resolved)
                | (Resolved, Closed)
                | (InProgress | Resolved | Closed, Open)
        )
    }
}

/// The decider's view of one issue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Issue {
    /// `None` until created.
    pub id: Option<String>,
    /// Its title.
    pub title: String,
    /// Its description.
    pub description: String,
    /// How urgent.
    pub priority: Option<Priority>,
    /// Where it is.
    pub state: Option<IssueState>,
    /// Who works on it.
    pub assignee: Option<String>,
    /// How many comments it has.
    pub comments: u32,
    /// How many events its stream holds.
    pub changes: u32,
}

impl Issue {
    /// The issue after `event`.
    pub fn evolve(mut self, event: &IssueEvent) -> Self {
        self.changes = self.changes.saturating_add(1);
        match event {
            IssueEvent::Created(e) => {
                self.id = Some(e.issue_id.clone());
                self.title = e.title.clone();
                self.description = e.description.clone();
                self.priority = Some(e.priority);
                self.state = Some(IssueState::Open);
            }
            IssueEvent::Retitled(e) => self.title = e.to.clone(),
            IssueEvent::DescriptionChanged(e) => self.description = e.to.clone(),
            IssueEvent::PriorityChanged(e) => self.priority = Some(e.to),
            IssueEvent::StateChanged(e) => self.state = Some(e.to),
            IssueEvent::Assigned(e) => self.assignee = e.to.clone(),
            IssueEvent::CommentAdded(_) => self.comments = self.comments.saturating_add(1),
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_moves_one_step_at_a_time() {
        use IssueState::{Closed, InProgress, Open, Resolved};
        let allowed: Vec<(IssueState, IssueState)> = IssueState::ALL
            .iter()
            .flat_map(|from| IssueState::ALL.iter().map(move |to| (*from, *to)))
            .filter(|(from, to)| from.can_move_to(*to))
            .collect();
        assert_eq!(
            allowed,
            [
                (Open, InProgress),
                (InProgress, Open),
                (InProgress, Resolved),
                (Resolved, Open),
                (Resolved, Closed),
                (Closed, Open)
            ]
        );
        assert_eq!(Priority::parse("critical"), Some(Priority::Critical));
        assert_eq!(IssueState::InProgress.as_str(), "in_progress");
        assert_eq!(IssueState::parse("done"), None);
    }
}
