//! One group of appends sent to the database: the arrays `sql/append_group.sql` takes, its
//! answer read back per append, and the explanation of a statement the server refused.

use chrono::{DateTime, Utc};
use projector_core::{
    AppendOutcome, ExpectedVersion, GlobalPosition, RecordedEvent, StoreError, StreamId,
    StreamVersion, VersionConflict, recorded_appends,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::error::{describe, store_error};
use crate::rows::{clamp, to_u64};
use crate::writer::AppendRequest;

/// Each append's answer, in the group's order.
pub(crate) type Outcomes = Vec<Result<AppendOutcome, StoreError>>;

/// A committed group's answers, with the events it committed as the feed will read them back;
/// `None` when their time is not known (the appends were committed one at a time).
pub(crate) struct Committed {
    pub(crate) outcomes: Outcomes,
    pub(crate) events: Option<Vec<RecordedEvent>>,
}

/// Appends `group` (no stream twice) in one statement and one transaction.
///
/// A group of one takes `sql/append_one.sql`, which answers as the group statement would at
/// about 15% less server time: the lone writer's path. First optimistically, as a single
/// statement. If another process moved the head between that statement's snapshot and its
/// update, the statement wrote nothing; the group then runs again in a transaction that takes
/// the head lock first, which cannot lose that race.
pub(crate) async fn append_group(
    client: &mut deadpool_postgres::Client,
    group: &[AppendRequest],
) -> Result<Committed, tokio_postgres::Error> {
    let requests: Vec<&AppendRequest> = group.iter().collect();
    let arrays = GroupArrays::new(&requests);
    let (sql, params) = match arrays.one_params() {
        Some(params) => (include_str!("sql/append_one.sql"), params),
        None => (include_str!("sql/append_group.sql"), arrays.group_params()),
    };
    let statement = client.prepare_cached(sql).await?;
    let rows = client.query(&statement, &params).await?;
    if let Some(outcomes) = outcomes(&requests, &rows) {
        return Ok(committed(&requests, outcomes, &rows));
    }
    metrics::counter!("projector_append_group_retries_total").increment(1);
    let lock = client
        .prepare_cached(include_str!("sql/lock_head.sql"))
        .await?;
    let tx = client.transaction().await?;
    tx.query_one(&lock, &[]).await?;
    let rows = tx.query(&statement, &params).await?;
    tx.commit().await?;
    let outcomes = outcomes_under_lock(&requests, &rows);
    Ok(committed(&requests, outcomes, &rows))
}

/// The group's answers and events, recorded at the time the statement returns in every row.
fn committed(
    group: &[&AppendRequest],
    outcomes: Outcomes,
    rows: &[tokio_postgres::Row],
) -> Committed {
    let recorded_at: Option<DateTime<Utc>> = rows.first().and_then(|row| row.try_get(3).ok());
    let events = recorded_at.map(|at| {
        appended_events(group, &outcomes, at)
            .into_iter()
            .flatten()
            .collect()
    });
    Committed { outcomes, events }
}

/// Each append's events as recorded events, at the positions the group gave them.
pub(crate) fn appended_events(
    group: &[&AppendRequest],
    outcomes: &Outcomes,
    recorded_at: DateTime<Utc>,
) -> Vec<Vec<RecordedEvent>> {
    recorded_appends(
        group.iter().map(|r| (&r.stream, r.events.as_slice())),
        outcomes,
        recorded_at,
    )
}

/// Each append's answer from a statement run under the head lock, which cannot lose the race.
pub(crate) fn outcomes_under_lock(
    group: &[&AppendRequest],
    rows: &[tokio_postgres::Row],
) -> Outcomes {
    outcomes(group, rows).unwrap_or_else(|| {
        let lost = "the head moved while this process held its lock";
        group
            .iter()
            .map(|_| Err(StoreError::Corrupt(lost.into())))
            .collect()
    })
}

/// The group as the parallel arrays the statement takes.
#[derive(Default)]
pub(crate) struct GroupArrays<'a> {
    streams: Vec<&'a str>,
    kinds: Vec<i16>,
    versions: Vec<i64>,
    counts: Vec<i32>,
    appends: Vec<i32>,
    places: Vec<i64>,
    ids: Vec<Uuid>,
    types: Vec<&'a str>,
    schema_versions: Vec<i32>,
    payloads: Vec<&'a str>,
    correlation_ids: Vec<Option<&'a str>>,
    causation_ids: Vec<Option<&'a str>>,
    user_ids: Vec<Option<&'a str>>,
}

impl<'a> GroupArrays<'a> {
    pub(crate) fn new(group: &[&'a AppendRequest]) -> Self {
        let events: usize = group.iter().map(|r| r.events.len()).sum();
        let mut arrays = GroupArrays {
            streams: Vec::with_capacity(group.len()),
            kinds: Vec::with_capacity(group.len()),
            versions: Vec::with_capacity(group.len()),
            counts: Vec::with_capacity(group.len()),
            appends: Vec::with_capacity(events),
            places: Vec::with_capacity(events),
            ids: Vec::with_capacity(events),
            types: Vec::with_capacity(events),
            schema_versions: Vec::with_capacity(events),
            payloads: Vec::with_capacity(events),
            correlation_ids: Vec::with_capacity(events),
            causation_ids: Vec::with_capacity(events),
            user_ids: Vec::with_capacity(events),
        };
        for (index, request) in (1i32..).zip(group.iter().copied()) {
            let (kind, version) = match request.expected {
                ExpectedVersion::Any => (0, 0),
                ExpectedVersion::NoStream => (1, 0),
                ExpectedVersion::StreamExists => (2, 0),
                ExpectedVersion::Exact(v) => (3, clamp(v.get())),
            };
            arrays.streams.push(request.stream.as_str());
            arrays.kinds.push(kind);
            arrays.versions.push(version);
            arrays
                .counts
                .push(i32::try_from(request.events.len()).unwrap_or(i32::MAX));
            for (place, event) in (1i64..).zip(&request.events) {
                arrays.appends.push(index);
                arrays.places.push(place);
                arrays.ids.push(event.event_id);
                arrays.types.push(event.event_type.as_str());
                arrays
                    .schema_versions
                    .push(i32::try_from(event.schema_version).unwrap_or(i32::MAX));
                arrays.payloads.push(event.data.as_str());
                let meta = &event.metadata;
                arrays
                    .correlation_ids
                    .push(meta.correlation_id.as_ref().map(|id| id.as_str()));
                arrays
                    .causation_ids
                    .push(meta.causation_id.as_ref().map(|id| id.as_str()));
                arrays
                    .user_ids
                    .push(meta.user_id.as_ref().map(|id| id.as_str()));
            }
        }
        arrays
    }

    /// The parameters of `sql/append_group.sql`.
    pub(crate) fn group_params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &self.streams,
            &self.kinds,
            &self.versions,
            &self.counts,
            &self.appends,
        ];
        params.extend(self.event_columns());
        params
    }

    /// The parameters of `sql/append_one.sql`, for a group of one append.
    pub(crate) fn one_params(&self) -> Option<Vec<&(dyn ToSql + Sync)>> {
        let ([stream], [kind], [version], [count]) = (
            self.streams.as_slice(),
            self.kinds.as_slice(),
            self.versions.as_slice(),
            self.counts.as_slice(),
        ) else {
            return None;
        };
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![stream, kind, version, count];
        params.extend(self.event_columns());
        Some(params)
    }

    /// Each event's place in its append and its columns: the tail of both statements'
    /// parameters.
    fn event_columns(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.places,
            &self.ids,
            &self.types,
            &self.schema_versions,
            &self.payloads,
            &self.correlation_ids,
            &self.causation_ids,
            &self.user_ids,
        ]
    }
}

/// Each append's answer from the statement's rows, or `None` when the statement lost the race
/// for the head and wrote nothing.
fn outcomes(group: &[&AppendRequest], rows: &[tokio_postgres::Row]) -> Option<Outcomes> {
    if rows.len() != group.len() {
        let missing = format!(
            "the append statement answered {} of {} appends",
            rows.len(),
            group.len()
        );
        return Some(
            group
                .iter()
                .map(|_| Err(StoreError::Corrupt(missing.clone())))
                .collect(),
        );
    }
    let mut outcomes = Vec::with_capacity(group.len());
    for (request, row) in group.iter().zip(rows) {
        match outcome(request, row) {
            Answer::Decided(outcome) => outcomes.push(outcome),
            Answer::LostRace => return None,
        }
    }
    Some(outcomes)
}

enum Answer {
    Decided(Result<AppendOutcome, StoreError>),
    LostRace,
}

fn outcome(request: &AppendRequest, row: &tokio_postgres::Row) -> Answer {
    let corrupt =
        |e: tokio_postgres::Error| Answer::Decided(Err(StoreError::Corrupt(e.to_string())));
    let accepted: bool = match row.try_get(0) {
        Ok(accepted) => accepted,
        Err(e) => return corrupt(e),
    };
    let stored: i64 = match row.try_get(1) {
        Ok(stored) => stored,
        Err(e) => return corrupt(e),
    };
    let first: Option<i64> = match row.try_get(2) {
        Ok(first) => first,
        Err(e) => return corrupt(e),
    };
    let Some(first) = first else {
        return Answer::LostRace;
    };
    let count = request.events.len() as u64;
    Answer::Decided(if accepted {
        let first = to_u64(first);
        Ok(AppendOutcome {
            stream_version: StreamVersion::new(to_u64(stored) + count),
            first_position: GlobalPosition::new(first),
            last_position: GlobalPosition::new(first + count - 1),
        })
    } else {
        Err(StoreError::Conflict(VersionConflict {
            stream: request.stream.clone(),
            expected: request.expected,
            actual: StreamVersion::new(to_u64(stored)),
        }))
    })
}

/// Turns the error of a single append into the caller's answer: a unique violation by its
/// constraint name (a duplicate event id looked up from the data, or a version taken), a data
/// exception as an invalid request, anything else as unavailable.
pub(crate) async fn explain(
    client: &deadpool_postgres::Client,
    request: &AppendRequest,
    error: tokio_postgres::Error,
) -> StoreError {
    let constraint = error.as_db_error().and_then(|db| db.constraint());
    match (error.code(), constraint) {
        (Some(code), Some("events_stream_version")) if *code == SqlState::UNIQUE_VIOLATION => {
            match current_version(client, &request.stream).await {
                Ok(actual) => StoreError::Conflict(VersionConflict {
                    stream: request.stream.clone(),
                    expected: request.expected,
                    actual,
                }),
                Err(error) => error,
            }
        }
        (Some(code), Some("events_event_id")) if *code == SqlState::UNIQUE_VIOLATION => {
            duplicate(client, request, error).await
        }
        (Some(code), _) if code.code().starts_with("22") => refused_value(code, &error),
        _ => store_error("appending", error),
    }
}

/// A data exception: the database refused a value of the append. The caller is told what
/// kind of value, never the database's message or DETAIL, which may quote the row's values;
/// those go to the log.
fn refused_value(code: &SqlState, error: &tokio_postgres::Error) -> StoreError {
    tracing::warn!(
        sqlstate = code.code(),
        cause = %describe(error),
        "the database refused a value of an append"
    );
    let what = if *code == SqlState::UNTRANSLATABLE_CHARACTER
        || *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE
    {
        "a character the event store cannot hold (such as \\u0000)"
    } else if *code == SqlState::STRING_DATA_RIGHT_TRUNCATION {
        "a text longer than the event store holds"
    } else if *code == SqlState::NUMERIC_VALUE_OUT_OF_RANGE {
        "a number out of the event store's range"
    } else {
        "a value the event store cannot hold"
    };
    StoreError::InvalidRequest(format!("the event data holds {what}"))
}

/// The event id of `request` that is already stored, or given twice within it.
async fn duplicate(
    client: &deadpool_postgres::Client,
    request: &AppendRequest,
    error: tokio_postgres::Error,
) -> StoreError {
    let mut ids: Vec<Uuid> = request.events.iter().map(|e| e.event_id).collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
        return StoreError::DuplicateEvent { event_id: pair[0] };
    }
    match client
        .query_opt(include_str!("sql/event_ids_stored.sql"), &[&ids])
        .await
    {
        Ok(Some(row)) => match row.try_get::<_, Uuid>(0) {
            Ok(event_id) => StoreError::DuplicateEvent { event_id },
            Err(e) => StoreError::Corrupt(e.to_string()),
        },
        Ok(None) => store_error("appending", error),
        Err(lookup) => store_error("looking up a duplicate event id", lookup),
    }
}

async fn current_version(
    client: &deadpool_postgres::Client,
    stream: &StreamId,
) -> Result<StreamVersion, StoreError> {
    let row = client
        .query_one(include_str!("sql/stream_version.sql"), &[&stream.as_str()])
        .await
        .map_err(|e| store_error("reading a stream version", e))?;
    let version: i64 = row
        .try_get(0)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(StreamVersion::new(to_u64(version)))
}
