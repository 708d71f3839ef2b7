//! The shapes of the issue tracker's requests and responses, and the parsing that enforces them.

use chrono::{DateTime, Utc};
use projector_issues::queries::{CommentView, HistoryEntry, IssueView};
use projector_issues::{Changes, IssueState, Priority};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::limits::{PROSE_MAX, TITLE_MAX};
use crate::validate::{Checker, Text};

const PRIORITIES: [&str; 4] = ["low", "medium", "high", "critical"];
const STATES: [&str; 4] = ["open", "in_progress", "resolved", "closed"];

/// `POST /api/issues`: report an issue (state `open`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct CreateIssueRequest {
    /// What is wrong, in a line.
    title: String,
    /// The details (line breaks allowed); empty when absent.
    description: Option<String>,
    /// How urgent; `medium` when absent.
    #[schema(value_type = Option<String>, pattern = "^(low|medium|high|critical)$")]
    priority: Option<String>,
}

/// `PATCH /api/issues/{id}`: change any of these fields; one event per field that changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct UpdateIssueRequest {
    title: Option<String>,
    description: Option<String>,
    #[schema(value_type = Option<String>, pattern = "^(low|medium|high|critical)$")]
    priority: Option<String>,
    /// One lifecycle step: `open` → `in_progress` → `resolved` → `closed`, or back to `open`
    /// from `in_progress`, `resolved` or `closed`.
    #[schema(value_type = Option<String>, pattern = "^(open|in_progress|resolved|closed)$")]
    state: Option<String>,
    /// The user to assign; `null` unassigns.
    assignee: Option<String>,
}

/// `POST /api/issues/{id}/comments`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the body; `validate` reads it from the JSON, naming every bad field.
pub(crate) struct CommentRequest {
    /// What to say (line breaks allowed).
    body: String,
}

/// A validated creation: title, description, priority.
pub(crate) fn check_create(
    checker: &mut Checker,
    body: &Value,
) -> Option<(String, String, Priority)> {
    let object = checker.object(body, "", &["title", "description", "priority"])?;
    let title = checker.text(&object, "title", Text::Free { max: TITLE_MAX });
    let description = checker.optional_text(
        &object,
        "description",
        Text::Prose {
            max: PROSE_MAX,
            allow_empty: true,
        },
    );
    let priority = checker.optional_choice(&object, "priority", &PRIORITIES);
    Some((
        title?,
        description?.unwrap_or_default(),
        priority?
            .as_deref()
            .and_then(Priority::parse)
            .unwrap_or(Priority::Medium),
    ))
}

/// A validated update.
pub(crate) fn check_update(checker: &mut Checker, body: Option<&Value>) -> Option<Changes> {
    let Some(body) = body else {
        return Some(Changes::default());
    };
    let object = checker.object(
        body,
        "",
        &["title", "description", "priority", "state", "assignee"],
    )?;
    let title = checker.optional_text(&object, "title", Text::Free { max: TITLE_MAX });
    let description = checker.optional_text(
        &object,
        "description",
        Text::Prose {
            max: PROSE_MAX,
            allow_empty: true,
        },
    );
    let priority = checker.optional_choice(&object, "priority", &PRIORITIES);
    let state = checker.optional_choice(&object, "state", &STATES);
    let assignee = checker.nullable_text(&object, "assignee", Text::User);
    Some(Changes {
        title: title?,
        description: description?,
        priority: priority?.as_deref().and_then(Priority::parse),
        state: state?.as_deref().and_then(IssueState::parse),
        assignee: assignee?,
    })
}

/// A validated comment.
pub(crate) fn check_comment(checker: &mut Checker, body: &Value) -> Option<String> {
    let object = checker.object(body, "", &["body"])?;
    checker.text(
        &object,
        "body",
        Text::Prose {
            max: PROSE_MAX,
            allow_empty: false,
        },
    )
}

/// A comment on an issue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Comment {
    comment_id: String,
    body: String,
    author: Option<String>,
    added_at: DateTime<Utc>,
}

impl From<CommentView> for Comment {
    fn from(v: CommentView) -> Self {
        Self {
            comment_id: v.comment_id,
            body: v.body,
            author: v.author,
            added_at: v.added_at,
        }
    }
}

/// An issue as it stands.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Issue {
    id: String,
    title: String,
    description: String,
    /// `low`, `medium`, `high` or `critical`.
    priority: String,
    /// `open`, `in_progress`, `resolved` or `closed`.
    state: String,
    assignee: Option<String>,
    /// The stream version: send it back in `If-Match` (also the `ETag`).
    version: u64,
    comment_count: i64,
    created_by: Option<String>,
    created_at: DateTime<Utc>,
    updated_by: Option<String>,
    updated_at: DateTime<Utc>,
    /// Present when reading one issue.
    #[serde(skip_serializing_if = "Option::is_none")]
    comments: Option<Vec<Comment>>,
}

impl Issue {
    pub(crate) fn new(view: IssueView, comments: Option<Vec<CommentView>>) -> Self {
        Self {
            id: view.id,
            title: view.title,
            description: view.description,
            priority: view.priority,
            state: view.state,
            assignee: view.assignee,
            version: view.version,
            comment_count: view.comment_count,
            created_by: view.created_by,
            created_at: view.created_at,
            updated_by: view.updated_by,
            updated_at: view.updated_at,
            comments: comments.map(|c| c.into_iter().map(Comment::from).collect()),
        }
    }

    pub(crate) fn version(&self) -> u64 {
        self.version
    }
}

/// A page of issues, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IssueList {
    pub(crate) issues: Vec<Issue>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_cursor: Option<String>,
}

/// One change in an issue's audit log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Change {
    /// The issue's version after the change.
    version: u64,
    /// The event's global position.
    position: u64,
    /// `created`, `retitled`, `description_changed`, `priority_changed`, `state_changed`,
    /// `assigned` or `commented`.
    change: String,
    field: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// Who made the change.
    user_id: Option<String>,
    /// The command that made it (the events' causation id).
    command_id: Option<String>,
    correlation_id: Option<String>,
    at: DateTime<Utc>,
}

impl From<HistoryEntry> for Change {
    fn from(h: HistoryEntry) -> Self {
        Self {
            version: h.version,
            position: h.position,
            change: h.change,
            field: h.field,
            from: h.from,
            to: h.to,
            user_id: h.user_id,
            command_id: h.command_id,
            correlation_id: h.correlation_id,
            at: h.at,
        }
    }
}

/// An issue's audit log, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IssueHistory {
    pub(crate) id: String,
    pub(crate) changes: Vec<Change>,
    /// The stream version to pass as `after_version` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_after_version: Option<u64>,
}
