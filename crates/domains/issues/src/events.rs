//! The events of an issue's stream, how they are stored, and how old schemas are read.
//!
//! Every change event carries the value before and after, so the audit log can say "from which
//! value to which" without replaying anything.
//!
//! Schema history: `IssueCreated` v1 had no priority; v2 added it. Stored v1 events are read as
//! v2 with priority `medium`, by [`UPCASTERS`], before any code sees them.

use chrono::{DateTime, Utc};
use projector_core::{DomainEvent, Upcaster, Upcasters};
use serde::{Deserialize, Serialize};

use crate::state::{IssueState, Priority};

/// The stored type names.
pub mod types {
    use projector_core::EventType;

    /// An issue was reported.
    pub const ISSUE_CREATED: EventType = EventType::from_static("IssueCreated");
    /// Its title changed.
    pub const ISSUE_RETITLED: EventType = EventType::from_static("IssueRetitled");
    /// Its description changed.
    pub const DESCRIPTION_CHANGED: EventType = EventType::from_static("DescriptionChanged");
    /// Its priority changed.
    pub const PRIORITY_CHANGED: EventType = EventType::from_static("PriorityChanged");
    /// It moved through its lifecycle.
    pub const STATE_CHANGED: EventType = EventType::from_static("StateChanged");
    /// It was assigned, reassigned or unassigned.
    pub const ISSUE_ASSIGNED: EventType = EventType::from_static("IssueAssigned");
    /// Someone commented.
    pub const COMMENT_ADDED: EventType = EventType::from_static("CommentAdded");

    /// Every issue event type (as `IssueEvent::TYPES` lists them).
    pub const ALL: [&str; 7] = [
        "IssueCreated",
        "IssueRetitled",
        "DescriptionChanged",
        "PriorityChanged",
        "StateChanged",
        "IssueAssigned",
        "CommentAdded",
    ];
}

/// The schema version `IssueCreated` is written with now (as `#[event(version)]` says).
pub const ISSUE_CREATED_VERSION: u32 = 2;

/// How stored events of older schemas are brought to the current one.
pub static UPCASTERS: Upcasters = Upcasters::new(&[Upcaster {
    event_type: "IssueCreated",
    from_version: 1,
    upcast: issue_created_v1_to_v2,
}]);

/// v1 had no priority; issues of that time were all treated as `medium`.
fn issue_created_v1_to_v2(mut payload: serde_json::Value) -> Result<serde_json::Value, String> {
    let object = payload
        .as_object_mut()
        .ok_or("IssueCreated v1 is not an object")?;
    object.entry("priority").or_insert_with(|| "medium".into());
    Ok(payload)
}

/// `IssueCreated` (v2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueCreated {
    /// The issue.
    pub issue_id: String,
    /// Its title.
    pub title: String,
    /// Its description.
    pub description: String,
    /// How urgent.
    pub priority: Priority,
    /// When it was reported.
    #[serde(with = "projector_core::time::rfc3339")]
    pub created_at: DateTime<Utc>,
}

/// A text field's change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextChanged {
    /// The issue.
    pub issue_id: String,
    /// The value before.
    pub from: String,
    /// The value after.
    pub to: String,
}

/// `PriorityChanged`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityChanged {
    /// The issue.
    pub issue_id: String,
    /// Before.
    pub from: Priority,
    /// After.
    pub to: Priority,
}

/// `StateChanged`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChanged {
    /// The issue.
    pub issue_id: String,
    /// Before.
    pub from: IssueState,
    /// After.
    pub to: IssueState,
}

/// `IssueAssigned`: `to: None` unassigns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueAssigned {
    /// The issue.
    pub issue_id: String,
    /// Who had it.
    pub from: Option<String>,
    /// Who has it now.
    pub to: Option<String>,
}

/// `CommentAdded`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentAdded {
    /// The issue.
    pub issue_id: String,
    /// The comment's id.
    pub comment_id: String,
    /// What was said.
    pub body: String,
}

/// Everything that can happen to an issue, stored in the issue's stream (`issue-<id>`).
#[derive(Clone, Debug, PartialEq, Eq, DomainEvent)]
#[event(crate = "projector_core", category = "issue", upcasters = UPCASTERS)]
pub enum IssueEvent {
    /// See [`IssueCreated`].
    #[event(name = "IssueCreated", version = 2)]
    Created(IssueCreated),
    /// The title changed.
    #[event(name = "IssueRetitled")]
    Retitled(TextChanged),
    /// The description changed.
    DescriptionChanged(TextChanged),
    /// See [`PriorityChanged`].
    PriorityChanged(PriorityChanged),
    /// See [`StateChanged`].
    StateChanged(StateChanged),
    /// See [`IssueAssigned`].
    #[event(name = "IssueAssigned")]
    Assigned(IssueAssigned),
    /// See [`CommentAdded`].
    CommentAdded(CommentAdded),
}

impl IssueEvent {
    /// The issue the event belongs to.
    pub fn issue_id(&self) -> &str {
        match self {
            IssueEvent::Created(e) => &e.issue_id,
            IssueEvent::Retitled(e) | IssueEvent::DescriptionChanged(e) => &e.issue_id,
            IssueEvent::PriorityChanged(e) => &e.issue_id,
            IssueEvent::StateChanged(e) => &e.issue_id,
            IssueEvent::Assigned(e) => &e.issue_id,
            IssueEvent::CommentAdded(e) => &e.issue_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use projector_core::EventSet;

    use super::*;

    #[test]
    fn the_derived_types_are_the_stored_ones() {
        let names: Vec<&str> = IssueEvent::TYPES.iter().map(|t| t.name).collect();
        assert_eq!(names, types::ALL);
        assert_eq!(IssueEvent::TYPES[0].name, types::ISSUE_CREATED.as_str());
        assert_eq!(IssueEvent::TYPES[0].schema_version, ISSUE_CREATED_VERSION);
        assert_eq!(IssueEvent::CATEGORY, Some("issue"));
    }
}
