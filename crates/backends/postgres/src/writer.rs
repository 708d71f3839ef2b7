//! The group-commit writer: one task per store that gathers concurrent appends into one
//! transaction.
//!
//! Every append must hold the feed-head row lock from its first insert to its commit (see
//! `sql/append_group.sql`), so appends commit one at a time. Rather than pay one commit (one
//! WAL flush and one round trip) per append, the writer takes every append waiting at that
//! moment and hands them to `projector.append_group` in a single statement: one round trip,
//! one commit, one flush for the whole group. Appends that arrive meanwhile form the next
//! group, so the busier the store, the bigger the groups. Each caller still gets its own
//! answer: the function checks each append on its own, and an append that conflicts or repeats
//! an event id writes nothing and touches no other append.

use std::sync::Arc;

use projector_core::{
    AppendOutcome, ExpectedVersion, GlobalPosition, NewEvent, StoreError, StreamId, StreamVersion,
    VersionConflict,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::error::{describe, store_error};
use crate::rows::{clamp, to_u64};

/// One caller's append, with the channel its own answer goes back on.
pub(crate) struct AppendRequest {
    pub(crate) stream: StreamId,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<NewEvent>,
    pub(crate) reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// Moves the head watch forward, never back: the writer and the listener both publish, and
/// either may learn of a later head first.
pub(crate) fn publish(head: &watch::Sender<GlobalPosition>, position: GlobalPosition) {
    head.send_if_modified(|current| {
        if position > *current {
            *current = position;
            true
        } else {
            false
        }
    });
}

/// The writer task: runs until every sender of `requests` is dropped, draining the queue.
pub(crate) async fn run(
    pool: deadpool_postgres::Pool,
    mut requests: mpsc::Receiver<AppendRequest>,
    head: Arc<watch::Sender<GlobalPosition>>,
    max_group_events: usize,
) {
    let mut group: Vec<AppendRequest> = Vec::new();
    while let Some(first) = requests.recv().await {
        let mut events = first.events.len();
        group.push(first);
        while events < max_group_events {
            match requests.try_recv() {
                Ok(next) => {
                    events += next.events.len();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        metrics::histogram!("projector_append_group_appends").record(group.len() as f64);
        metrics::histogram!("projector_append_group_events").record(events as f64);
        commit(&pool, &mut group, &head).await;
    }
}

/// Commits a group, answering every caller in it.
async fn commit(
    pool: &deadpool_postgres::Pool,
    group: &mut Vec<AppendRequest>,
    head: &watch::Sender<GlobalPosition>,
) {
    let client = match pool.get().await {
        Ok(client) => client,
        Err(error) => {
            let message = format!("cannot reach the database to append: {error}");
            reply_all(group, || StoreError::Unavailable {
                message: message.clone(),
                source: None,
            });
            return;
        }
    };
    let outcomes = match append_group(&client, group).await {
        Ok(outcomes) => outcomes,
        // The server refused the statement as a whole (not the connection): find the culprit
        // by appending each request alone, so it fails only its own caller.
        Err(error) if error.code().is_some() && group.len() > 1 => {
            tracing::warn!(error = %describe(&error), appends = group.len(),
                "group append refused; appending one at a time");
            let mut outcomes = Vec::with_capacity(group.len());
            for request in group.iter() {
                let outcome = match append_group(&client, std::slice::from_ref(request)).await {
                    Ok(mut one) => one.pop().unwrap_or(Err(StoreError::Closed)),
                    Err(error) => Err(explain(&client, request, error).await),
                };
                outcomes.push(outcome);
            }
            outcomes
        }
        Err(error) => {
            let outcome = match group.as_slice() {
                [request] => explain(&client, request, error).await,
                _ => store_error("appending a group", error),
            };
            let message = outcome.to_string();
            let mut outcome = Some(outcome);
            reply_all(group, || {
                outcome.take().unwrap_or_else(|| StoreError::Unavailable {
                    message: message.clone(),
                    source: None,
                })
            });
            return;
        }
    };
    let last = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().map(|o| o.last_position))
        .max();
    // Publish before answering, so a caller that reads right after its append never waits for
    // a head it has already passed. Every position up to `last` has committed: appends commit
    // in position order.
    if let Some(last) = last {
        publish(head, last);
    }
    for (request, outcome) in group.drain(..).zip(outcomes) {
        if let Ok(o) = &outcome {
            metrics::counter!("projector_events_appended_total")
                .increment(o.last_position.get() - o.first_position.get() + 1);
        }
        let _ = request.reply.send(outcome);
    }
}

fn reply_all(group: &mut Vec<AppendRequest>, mut error: impl FnMut() -> StoreError) {
    for request in group.drain(..) {
        let _ = request.reply.send(Err(error()));
    }
}

/// The group as the parallel arrays `projector.append_group` takes.
#[derive(Default)]
struct GroupArrays<'a> {
    streams: Vec<&'a str>,
    kinds: Vec<i16>,
    versions: Vec<i64>,
    counts: Vec<i32>,
    ids: Vec<Uuid>,
    types: Vec<&'a str>,
    schema_versions: Vec<i32>,
    payloads: Vec<&'a str>,
    correlation_ids: Vec<Option<&'a str>>,
    causation_ids: Vec<Option<&'a str>>,
    user_ids: Vec<Option<&'a str>>,
}

impl<'a> GroupArrays<'a> {
    fn new(group: &'a [AppendRequest]) -> Self {
        let events: usize = group.iter().map(|r| r.events.len()).sum();
        let mut arrays = GroupArrays {
            ids: Vec::with_capacity(events),
            types: Vec::with_capacity(events),
            schema_versions: Vec::with_capacity(events),
            payloads: Vec::with_capacity(events),
            correlation_ids: Vec::with_capacity(events),
            causation_ids: Vec::with_capacity(events),
            user_ids: Vec::with_capacity(events),
            ..GroupArrays::default()
        };
        for request in group {
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
            for event in &request.events {
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
}

/// Outcomes of `projector.append_group`, one per append.
const APPENDED: i16 = 0;
const CONFLICT: i16 = 1;
const DUPLICATE: i16 = 2;

/// Runs one group in one statement (its own transaction) and reads each append's outcome.
async fn append_group(
    client: &deadpool_postgres::Client,
    group: &[AppendRequest],
) -> Result<Vec<Result<AppendOutcome, StoreError>>, tokio_postgres::Error> {
    let a = GroupArrays::new(group);
    let statement = client
        .prepare_cached(include_str!("sql/append_group.sql"))
        .await?;
    let rows = client
        .query(
            &statement,
            &[
                &a.streams,
                &a.kinds,
                &a.versions,
                &a.counts,
                &a.ids,
                &a.types,
                &a.schema_versions,
                &a.payloads,
                &a.correlation_ids,
                &a.causation_ids,
                &a.user_ids,
            ],
        )
        .await?;
    let mut outcomes = Vec::with_capacity(group.len());
    for (request, row) in group.iter().zip(&rows) {
        outcomes.push(outcome(request, row));
    }
    if outcomes.len() != group.len() {
        let missing = format!(
            "the append function answered {} of {} appends",
            outcomes.len(),
            group.len()
        );
        outcomes.resize_with(group.len(), || Err(StoreError::Corrupt(missing.clone())));
    }
    Ok(outcomes)
}

fn outcome(
    request: &AppendRequest,
    row: &tokio_postgres::Row,
) -> Result<AppendOutcome, StoreError> {
    let corrupt = |e: tokio_postgres::Error| StoreError::Corrupt(e.to_string());
    let code: i16 = row.try_get(0).map_err(corrupt)?;
    let version: Option<i64> = row.try_get(1).map_err(corrupt)?;
    let first: Option<i64> = row.try_get(2).map_err(corrupt)?;
    let duplicate: Option<Uuid> = row.try_get(3).map_err(corrupt)?;
    match (code, version, first, duplicate) {
        (APPENDED, Some(version), Some(first), _) => {
            let count = request.events.len() as u64;
            let first = to_u64(first);
            Ok(AppendOutcome {
                stream_version: StreamVersion::new(to_u64(version)),
                first_position: GlobalPosition::new(first),
                last_position: GlobalPosition::new(first + count - 1),
            })
        }
        (CONFLICT, Some(actual), _, _) => Err(StoreError::Conflict(VersionConflict {
            stream: request.stream.clone(),
            expected: request.expected,
            actual: StreamVersion::new(to_u64(actual)),
        })),
        (DUPLICATE, _, _, Some(event_id)) => Err(StoreError::DuplicateEvent { event_id }),
        other => Err(StoreError::Corrupt(format!(
            "the append function answered {other:?}"
        ))),
    }
}

/// Turns the error of a single append into the caller's answer: a unique violation by its
/// constraint name (a conflict or a duplicate id, looked up from the data), a data exception
/// as an invalid request, anything else as unavailable.
async fn explain(
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
            let ids: Vec<Uuid> = request.events.iter().map(|e| e.event_id).collect();
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
        (Some(code), _) if code.code().starts_with("22") => StoreError::InvalidRequest(format!(
            "the database refused the append: {}",
            describe(&error)
        )),
        _ => store_error("appending", error),
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
