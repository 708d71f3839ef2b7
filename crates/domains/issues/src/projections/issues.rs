//! `issues`: each issue as it stands, and its comments (tables `issues` and `issue_comments`).

use projector_core::{DomainEvent, Envelope, GlobalPosition, ProjectionError, ProjectionName};
use projector_sql::{SqlParam, SqlRun, SqlTransaction, TypedSqlProjection, sql_time};

use crate::events::IssueEvent;

/// The projection's name.
pub const ISSUES: ProjectionName = ProjectionName::from_static("issues");

/// Keeps `issues` and `issue_comments` current.
#[derive(Clone, Copy, Debug, Default)]
pub struct IssuesProjection;

impl TypedSqlProjection for IssuesProjection {
    type Event = IssueEvent;
    const NAME: ProjectionName = ISSUES;
    const SCHEMA: &'static [&'static str] = &[include_str!("sql/issues_schema.sql")];

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        event: &Envelope<'_, IssueEvent>,
    ) -> Result<(), ProjectionError> {
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    async fn apply_batch(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[Envelope<'_, IssueEvent>],
    ) -> Result<(), ProjectionError> {
        // The batch's statements go out together: one round trip where the store pipelines.
        let writes: Vec<Write<'_>> = events.iter().map(Write::new).collect();
        let mut statements = Vec::with_capacity(events.len());
        let mut owners = Vec::with_capacity(events.len());
        // Each event's last statement is the one on its `issues` row.
        let mut issue_rows = Vec::with_capacity(events.len());
        for (index, write) in writes.iter().enumerate() {
            for statement in write.statements() {
                statements.push(statement);
                owners.push(index);
            }
            issue_rows.push(statements.len() - 1);
        }
        let runs: Vec<SqlRun<'_, '_>> = statements
            .iter()
            .map(|(sql, params)| (*sql, params.as_slice()))
            .collect();
        let changed = tx.execute_batch(&runs).await.map_err(|failed| {
            let position = owners
                .get(failed.index)
                .and_then(|&i| events.get(i))
                .map_or(GlobalPosition::ZERO, |e| e.position);
            failed.error.at(position)
        })?;
        for (envelope, &row) in events.iter().zip(&issue_rows) {
            if changed.get(row).copied().unwrap_or(0) == 0 {
                return Err(ProjectionError::at(
                    envelope.position,
                    format!(
                        "{} for issue {}, which the read model does not have",
                        envelope.event.event_type(),
                        envelope.event.issue_id()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The statement setting one column of an issue, with its version and who changed it when.
macro_rules! set_column {
    ($column:literal) => {
        concat!(
            "UPDATE issues SET ",
            $column,
            " = $2, version = $3, updated_by = $4, updated_at = $5 WHERE issue_id = $1"
        )
    };
}

/// One event's changes to the read model, with the values its statements bind.
struct Write<'e> {
    event: &'e IssueEvent,
    version: i64,
    user: Option<&'e str>,
    at: String,
    created_at: Option<String>,
}

impl<'e> Write<'e> {
    fn new(envelope: &'e Envelope<'e, IssueEvent>) -> Self {
        let event = &envelope.event;
        Self {
            event,
            version: i64::try_from(envelope.stream_version.get()).unwrap_or(i64::MAX),
            user: envelope.metadata.user_id.as_ref().map(|u| u.as_str()),
            at: sql_time(envelope.recorded_at),
            created_at: match event {
                IssueEvent::Created(e) => Some(sql_time(e.created_at)),
                _ => None,
            },
        }
    }

    /// The event's statements; the last one touches its `issues` row.
    fn statements(&self) -> Vec<(&'static str, Vec<SqlParam<'_>>)> {
        let id = self.event.issue_id();
        let at = self.at.as_str();
        let (version, user) = (self.version, self.user);
        // A field change sets one column; the column names are fixed here, never from input.
        let (sql, value): (&'static str, SqlParam<'_>) = match self.event {
            IssueEvent::Created(e) => {
                let created_at = self.created_at.as_deref().unwrap_or(at);
                return vec![(
                    "INSERT INTO issues (issue_id, title, description, priority, state, assignee, comment_count, \
                     version, created_by, created_at, updated_by, updated_at) \
                     VALUES ($1, $2, $3, $4, 'open', NULL, 0, $5, $6, $7, $6, $8)",
                    vec![
                        id.into(),
                        e.title.as_str().into(),
                        e.description.as_str().into(),
                        e.priority.as_str().into(),
                        version.into(),
                        user.into(),
                        created_at.into(),
                        at.into(),
                    ],
                )];
            }
            IssueEvent::CommentAdded(e) => {
                return vec![
                    (
                        "INSERT INTO issue_comments (issue_id, comment_id, body, author, added_at, version) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                        vec![
                            id.into(),
                            e.comment_id.as_str().into(),
                            e.body.as_str().into(),
                            user.into(),
                            at.into(),
                            version.into(),
                        ],
                    ),
                    (
                        "UPDATE issues SET comment_count = comment_count + 1, version = $2, \
                         updated_by = $3, updated_at = $4 WHERE issue_id = $1",
                        vec![id.into(), version.into(), user.into(), at.into()],
                    ),
                ];
            }
            IssueEvent::Retitled(e) => (set_column!("title"), e.to.as_str().into()),
            IssueEvent::DescriptionChanged(e) => (set_column!("description"), e.to.as_str().into()),
            IssueEvent::PriorityChanged(e) => (set_column!("priority"), e.to.as_str().into()),
            IssueEvent::StateChanged(e) => (set_column!("state"), e.to.as_str().into()),
            IssueEvent::Assigned(e) => (set_column!("assignee"), e.to.as_deref().into()),
        };
        vec![(
            sql,
            vec![id.into(), value, version.into(), user.into(), at.into()],
        )]
    }
}
