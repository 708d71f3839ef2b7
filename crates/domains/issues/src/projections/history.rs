//! `issue_history`: the audit log, one row per change with who made it, when, by which command,
//! and from which value to which.

use projector_core::{Envelope, EventMetadata, GlobalPosition, ProjectionError, ProjectionName};
use projector_sql::{MultiRowInsert, SqlParam, SqlTransaction, TypedSqlProjection, sql_time};

use crate::events::IssueEvent;

/// The projection's name.
pub const ISSUE_HISTORY: ProjectionName = ProjectionName::from_static("issue_history");

/// Keeps `issue_history` current.
#[derive(Clone, Copy, Debug, Default)]
pub struct IssueHistoryProjection;

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

impl TypedSqlProjection for IssueHistoryProjection {
    type Event = IssueEvent;
    const NAME: ProjectionName = ISSUE_HISTORY;
    const SCHEMA: &'static [&'static str] = &[include_str!("sql/history_schema.sql")];

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
        // Every event is one new row: the batch goes out as multi-row inserts.
        let rows: Vec<HistoryRow<'_>> = events
            .iter()
            .map(|envelope| HistoryRow {
                change: describe(&envelope.event),
                issue_id: envelope.event.issue_id(),
                version: i64::try_from(envelope.stream_version.get()).unwrap_or(i64::MAX),
                position: i64::try_from(envelope.position.get()).unwrap_or(i64::MAX),
                at: sql_time(envelope.recorded_at),
                metadata: envelope.metadata,
            })
            .collect();
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
    metadata: &'e EventMetadata,
}

impl HistoryRow<'_> {
    fn params(&self) -> [SqlParam<'_>; 11] {
        let metadata = self.metadata;
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
