//! `issue_history`: the audit log, one row per change with who made it, when, by which command,
//! and from which value to which.

use async_trait::async_trait;
use projector_core::{
    DomainEvent, EventFilter, Projection, ProjectionError, ProjectionName, RecordedEvent,
    SqlProjection, SqlTransaction, sql_time,
};

use crate::events::{IssueEvent, types};

/// The projection's name.
pub const ISSUE_HISTORY: ProjectionName = ProjectionName::from_static("issue_history");

/// Keeps `issue_history` current.
#[derive(Clone, Copy, Debug, Default)]
pub struct IssueHistoryProjection;

impl Projection for IssueHistoryProjection {
    fn name(&self) -> ProjectionName {
        ISSUE_HISTORY
    }

    fn handles(&self) -> EventFilter {
        EventFilter::types(&types::ALL)
    }
}

/// One change as the audit log records it.
struct Change<'e> {
    change: &'static str,
    field: Option<&'static str>,
    from: Option<&'e str>,
    to: Option<&'e str>,
}

fn describe(event: &IssueEvent) -> Change<'_> {
    let change = |change, field, from, to| Change {
        change,
        field: Some(field),
        from,
        to,
    };
    match event {
        IssueEvent::Created(e) => Change {
            change: "created",
            field: None,
            from: None,
            to: Some(&e.title),
        },
        IssueEvent::Retitled(e) => change(
            "retitled",
            "title",
            Some(e.from.as_str()),
            Some(e.to.as_str()),
        ),
        IssueEvent::DescriptionChanged(e) => change(
            "description_changed",
            "description",
            Some(e.from.as_str()),
            Some(e.to.as_str()),
        ),
        IssueEvent::PriorityChanged(e) => change(
            "priority_changed",
            "priority",
            Some(e.from.as_str()),
            Some(e.to.as_str()),
        ),
        IssueEvent::StateChanged(e) => change(
            "state_changed",
            "state",
            Some(e.from.as_str()),
            Some(e.to.as_str()),
        ),
        IssueEvent::Assigned(e) => {
            change("assigned", "assignee", e.from.as_deref(), e.to.as_deref())
        }
        IssueEvent::CommentAdded(e) => change("commented", "comment", None, Some(e.body.as_str())),
    }
}

#[async_trait]
impl SqlProjection for IssueHistoryProjection {
    fn schema(&self) -> &[&str] {
        &[include_str!("sql/history_schema.sql")]
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for recorded in events {
            let event = IssueEvent::decode(recorded)?;
            let change = describe(&event);
            let metadata = &recorded.metadata;
            let version = i64::try_from(recorded.stream_version.get()).unwrap_or(i64::MAX);
            let position = i64::try_from(recorded.position.get()).unwrap_or(i64::MAX);
            let at = sql_time(recorded.recorded_at);
            tx.execute(
                "INSERT INTO issue_history (issue_id, version, position, change, field, from_value, to_value, user_id, \
                 command_id, correlation_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    event.issue_id().into(),
                    version.into(),
                    position.into(),
                    change.change.into(),
                    change.field.into(),
                    change.from.into(),
                    change.to.into(),
                    metadata.user_id.as_ref().map(|u| u.as_str()).into(),
                    metadata.causation_id.as_ref().map(|c| c.as_str()).into(),
                    metadata.correlation_id.as_ref().map(|c| c.as_str()).into(),
                    at.as_str().into(),
                ],
            )
            .await
            .map_err(|e| ProjectionError::sql(recorded.position, e))?;
        }
        Ok(())
    }
}
