//! `issues`: each issue as it stands, and its comments (tables `issues` and `issue_comments`).

use async_trait::async_trait;
use projector_core::{
    DomainEvent, EventFilter, Projection, ProjectionError, ProjectionName, RecordedEvent, SqlParam,
    SqlProjection, SqlTransaction, sql_time,
};

use crate::events::{IssueEvent, types};

/// The projection's name.
pub const ISSUES: ProjectionName = ProjectionName::from_static("issues");

/// Keeps `issues` and `issue_comments` current.
#[derive(Clone, Copy, Debug, Default)]
pub struct IssuesProjection;

impl Projection for IssuesProjection {
    fn name(&self) -> ProjectionName {
        ISSUES
    }

    fn handles(&self) -> EventFilter {
        EventFilter::types(&types::ALL)
    }
}

#[async_trait]
impl SqlProjection for IssuesProjection {
    fn schema(&self) -> &[&str] {
        &[include_str!("sql/issues_schema.sql")]
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for recorded in events {
            let event = IssueEvent::decode(recorded)?;
            let changed = apply_one(tx, &event, recorded)
                .await
                .map_err(|e| ProjectionError::sql(recorded.position, e))?;
            if changed == 0 {
                return Err(ProjectionError::at(
                    recorded.position,
                    format!(
                        "{} for issue {}, which the read model does not have",
                        recorded.event_type,
                        event.issue_id()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Applies one event; returns how many `issues` rows it touched.
async fn apply_one(
    tx: &mut dyn SqlTransaction,
    event: &IssueEvent,
    recorded: &RecordedEvent,
) -> Result<u64, projector_core::SqlError> {
    let version = i64::try_from(recorded.stream_version.get()).unwrap_or(i64::MAX);
    let user = recorded.metadata.user_id.as_ref().map(|u| u.as_str());
    let at = sql_time(recorded.recorded_at);
    let id = event.issue_id();
    // A field change sets one column; the column names are fixed here, never from input.
    let (column, value): (&str, SqlParam<'_>) = match event {
        IssueEvent::Created(e) => {
            let created_at = sql_time(e.created_at);
            return tx
                .execute(
                    "INSERT INTO issues (issue_id, title, description, priority, state, assignee, comment_count, \
                     version, created_by, created_at, updated_by, updated_at) \
                     VALUES ($1, $2, $3, $4, 'open', NULL, 0, $5, $6, $7, $6, $8)",
                    &[
                        id.into(),
                        e.title.as_str().into(),
                        e.description.as_str().into(),
                        e.priority.as_str().into(),
                        version.into(),
                        user.into(),
                        created_at.as_str().into(),
                        at.as_str().into(),
                    ],
                )
                .await;
        }
        IssueEvent::CommentAdded(e) => {
            tx.execute(
                "INSERT INTO issue_comments (issue_id, comment_id, body, author, added_at, version) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[id.into(), e.comment_id.as_str().into(), e.body.as_str().into(), user.into(), at.as_str().into(), version.into()],
            )
            .await?;
            return tx
                .execute(
                    "UPDATE issues SET comment_count = comment_count + 1, version = $2, updated_by = $3, \
                     updated_at = $4 WHERE issue_id = $1",
                    &[id.into(), version.into(), user.into(), at.as_str().into()],
                )
                .await;
        }
        IssueEvent::Retitled(e) => ("title", e.to.as_str().into()),
        IssueEvent::DescriptionChanged(e) => ("description", e.to.as_str().into()),
        IssueEvent::PriorityChanged(e) => ("priority", e.to.as_str().into()),
        IssueEvent::StateChanged(e) => ("state", e.to.as_str().into()),
        IssueEvent::Assigned(e) => ("assignee", e.to.as_deref().into()),
    };
    let sql = format!(
        "UPDATE issues SET {column} = $2, version = $3, updated_by = $4, updated_at = $5 WHERE issue_id = $1"
    );
    tx.execute(
        &sql,
        &[
            id.into(),
            value,
            version.into(),
            user.into(),
            at.as_str().into(),
        ],
    )
    .await
}
