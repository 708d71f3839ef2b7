//! `issue_history`: the audit log, one row per change with who made it, when, by which command,
//! and from which value to which.

use async_trait::async_trait;
use projector_core::{
    DomainEvent, EventFilter, GlobalPosition, Projection, ProjectionError, ProjectionName,
    RecordedEvent,
};
use projector_sql::{MultiRowInsert, SqlParam, SqlProjection, SqlTransaction, sql_time};

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
        // Every event is one new row: the batch goes out as multi-row inserts.
        let mut decoded = Vec::with_capacity(events.len());
        for recorded in events {
            decoded.push(IssueEvent::decode(recorded)?);
        }
        let mut rows = Vec::with_capacity(events.len());
        for (recorded, event) in events.iter().zip(&decoded) {
            rows.push(HistoryRow {
                change: describe(event),
                issue_id: event.issue_id(),
                version: i64::try_from(recorded.stream_version.get()).unwrap_or(i64::MAX),
                position: i64::try_from(recorded.position.get()).unwrap_or(i64::MAX),
                at: sql_time(recorded.recorded_at),
                recorded,
            });
        }
        let params: Vec<[SqlParam<'_>; 11]> = rows.iter().map(HistoryRow::params).collect();
        let runs: Vec<&[SqlParam<'_>]> = params.iter().map(|p| &p[..]).collect();
        if let Err(failed) = INSERT.execute(tx, &runs).await {
            let position = events
                .get(failed.index)
                .map_or(GlobalPosition::ZERO, |e| e.position);
            return Err(failed.error.at(position));
        }
        Ok(())
    }
}

/// Appends one row per event.
static INSERT: MultiRowInsert = MultiRowInsert::new(
    "INSERT INTO issue_history (issue_id, version, position, change, field, from_value, to_value, \
     user_id, command_id, correlation_id, at)",
    11,
    "",
);

/// One event's row, borrowing what it can from the event.
struct HistoryRow<'e> {
    change: Change<'e>,
    issue_id: &'e str,
    version: i64,
    position: i64,
    at: String,
    recorded: &'e RecordedEvent,
}

impl HistoryRow<'_> {
    fn params(&self) -> [SqlParam<'_>; 11] {
        let metadata = &self.recorded.metadata;
        [
            self.issue_id.into(),
            self.version.into(),
            self.position.into(),
            self.change.change.into(),
            self.change.field.into(),
            self.change.from.into(),
            self.change.to.into(),
            metadata.user_id.as_ref().map(|u| u.as_str()).into(),
            metadata.causation_id.as_ref().map(|c| c.as_str()).into(),
            metadata.correlation_id.as_ref().map(|c| c.as_str()).into(),
            self.at.as_str().into(),
        ]
    }
}
