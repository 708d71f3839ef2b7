//! The single writer with group commit.
//!
//! One thread owns the only write connection. Appends queue on a channel; the thread takes
//! every append waiting at that moment, applies them in one transaction (each inside its own
//! savepoint, so one append's failure touches no other) and commits once: one sync to disk for
//! the whole group. Appends that arrive while a commit is syncing form the next group, so the
//! busier the store, the bigger the groups and the fewer the syncs per event.

use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use chrono::Utc;
use projector_core::{
    AppendOutcome, ExpectedVersion, GlobalPosition, NewEvent, StoreError, StreamId, StreamVersion,
    VersionConflict,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::is_constraint;
use crate::rows::time_to_micros;

/// One caller's append, with the channel its own answer goes back on.
pub(crate) struct AppendRequest {
    pub(crate) stream: StreamId,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<NewEvent>,
    pub(crate) reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// Limits on one group commit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GroupLimits {
    /// Stop adding appends to a group once it holds this many events.
    pub(crate) max_events: usize,
}

/// Set once a commit has failed: from then on the on-disk state is unknown to the writer, so
/// every append is refused until the store is reopened.
pub(crate) type PoisonFlag = Arc<OnceLock<String>>;

/// Spawns the writer thread. It runs until every sender of `requests` is dropped, draining the
/// queue first, and publishes each committed head on `head`.
pub(crate) fn spawn(
    conn: Connection,
    requests: mpsc::Receiver<AppendRequest>,
    head: watch::Sender<GlobalPosition>,
    poison: PoisonFlag,
    limits: GroupLimits,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("projector-sqlite-writer".into())
        .spawn(move || run(conn, requests, head, poison, limits))
}

fn run(
    mut conn: Connection,
    mut requests: mpsc::Receiver<AppendRequest>,
    head: watch::Sender<GlobalPosition>,
    poison: PoisonFlag,
    limits: GroupLimits,
) {
    let mut group: Vec<AppendRequest> = Vec::new();
    while let Some(first) = requests.blocking_recv() {
        let mut events = first.events.len();
        group.push(first);
        while events < limits.max_events {
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

        if let Some(reason) = poison.get() {
            reply_all(&mut group, || StoreError::Poisoned(reason.clone()));
            continue;
        }
        match commit_group(&mut conn, &group) {
            Ok((outcomes, new_head)) => {
                // Publish the head before answering, so a caller that reads right after its
                // append is answered never waits for a head it has already passed.
                head.send_if_modified(|current| {
                    let moved = new_head > *current;
                    if moved {
                        *current = new_head;
                    }
                    moved
                });
                for (request, outcome) in group.drain(..).zip(outcomes) {
                    if let Ok(o) = &outcome {
                        metrics::counter!("projector_events_appended_total")
                            .increment(o.last_position.get() - o.first_position.get() + 1);
                    }
                    let _ = request.reply.send(outcome);
                }
            }
            Err(GroupFailure::BeforeCommit(error)) => {
                tracing::warn!(%error, appends = group.len(), "group append failed; rolled back");
                let message = error.to_string();
                reply_all(&mut group, || StoreError::Unavailable {
                    message: format!("append failed: {message}"),
                    source: None,
                });
            }
            Err(GroupFailure::Commit(error)) => {
                tracing::error!(%error, "commit failed; the event store is poisoned");
                let reason = format!("commit failed: {error}");
                let _ = poison.set(reason.clone());
                reply_all(&mut group, || StoreError::Poisoned(reason.clone()));
            }
        }
    }
}

fn reply_all(group: &mut Vec<AppendRequest>, error: impl Fn() -> StoreError) {
    for request in group.drain(..) {
        let _ = request.reply.send(Err(error()));
    }
}

/// A group that did not commit.
enum GroupFailure {
    /// A statement failed; the transaction was rolled back and nothing was written.
    BeforeCommit(rusqlite::Error),
    /// `COMMIT` itself failed: whether anything reached the disk is unknown.
    Commit(rusqlite::Error),
}

impl From<rusqlite::Error> for GroupFailure {
    fn from(e: rusqlite::Error) -> Self {
        GroupFailure::BeforeCommit(e)
    }
}

type Outcomes = Vec<Result<AppendOutcome, StoreError>>;

fn commit_group(
    conn: &mut Connection,
    group: &[AppendRequest],
) -> Result<(Outcomes, GlobalPosition), GroupFailure> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read the head inside the write lock rather than trusting memory, so a rolled-back group
    // can never leave a gap or a duplicate position.
    let head: i64 = tx
        .prepare_cached("SELECT coalesce(max(position), 0) FROM events")?
        .query_row([], |row| row.get(0))?;
    let recorded_at = time_to_micros(Utc::now());
    let mut next = head + 1;
    let mut outcomes = Vec::with_capacity(group.len());
    for request in group {
        outcomes.push(append_one(&tx, request, &mut next, recorded_at)?);
    }
    tx.commit().map_err(GroupFailure::Commit)?;
    Ok((outcomes, GlobalPosition::new(to_u64(next - 1))))
}

/// Appends one request inside the group's transaction. The outer `Err` fails the whole group;
/// the inner one is this caller's alone (conflict, duplicate event).
fn append_one(
    tx: &rusqlite::Transaction<'_>,
    request: &AppendRequest,
    next: &mut i64,
    recorded_at: i64,
) -> rusqlite::Result<Result<AppendOutcome, StoreError>> {
    let actual = current_version(tx, &request.stream)?;
    if !request.expected.accepts(actual) {
        return Ok(Err(StoreError::Conflict(VersionConflict {
            stream: request.stream.clone(),
            expected: request.expected,
            actual,
        })));
    }
    tx.prepare_cached("SAVEPOINT append")?.execute([])?;
    let first = *next;
    let mut insert = tx.prepare_cached(include_str!("sql/insert_event.sql"))?;
    for (i, event) in request.events.iter().enumerate() {
        let version = to_i64(actual.get()) + 1 + i as i64;
        let inserted = insert.execute(params![
            first + i as i64,
            event.event_id.as_bytes().as_slice(),
            request.stream.as_str(),
            version,
            event.event_type.as_str(),
            event.schema_version,
            event.data.as_str(),
            event.metadata.correlation_id.as_ref().map(|id| id.as_str()),
            event.metadata.causation_id.as_ref().map(|id| id.as_str()),
            event.metadata.user_id.as_ref().map(|id| id.as_str()),
            recorded_at,
        ]);
        match inserted {
            Ok(_) => {}
            Err(error) if is_constraint(&error) => {
                tx.prepare_cached("ROLLBACK TO append")?.execute([])?;
                tx.prepare_cached("RELEASE append")?.execute([])?;
                return explain_constraint(tx, request, actual);
            }
            Err(error) => return Err(error),
        }
    }
    tx.prepare_cached("RELEASE append")?.execute([])?;
    let count = request.events.len() as i64;
    *next += count;
    Ok(Ok(AppendOutcome {
        stream_version: StreamVersion::new(actual.get() + count as u64),
        first_position: GlobalPosition::new(to_u64(first)),
        last_position: GlobalPosition::new(to_u64(first + count - 1)),
    }))
}

/// Works out, from the data rather than the error text, which constraint an insert broke.
fn explain_constraint(
    tx: &rusqlite::Transaction<'_>,
    request: &AppendRequest,
    version_seen: StreamVersion,
) -> rusqlite::Result<Result<AppendOutcome, StoreError>> {
    let mut exists = tx.prepare_cached("SELECT 1 FROM events WHERE event_id = ?1")?;
    for (i, event) in request.events.iter().enumerate() {
        let repeated_in_request = request.events[..i]
            .iter()
            .any(|e| e.event_id == event.event_id);
        let stored = exists
            .query_row([event.event_id.as_bytes().as_slice()], |_| Ok(()))
            .optional()?
            .is_some();
        if repeated_in_request || stored {
            return Ok(Err(StoreError::DuplicateEvent {
                event_id: event.event_id,
            }));
        }
    }
    let actual = current_version(tx, &request.stream)?;
    Ok(Err(StoreError::Conflict(VersionConflict {
        stream: request.stream.clone(),
        expected: request.expected,
        actual: actual.max(version_seen),
    })))
}

fn current_version(
    tx: &rusqlite::Transaction<'_>,
    stream: &StreamId,
) -> rusqlite::Result<StreamVersion> {
    let version: Option<i64> = tx
        .prepare_cached(include_str!("sql/stream_version.sql"))?
        .query_row([stream.as_str()], |row| row.get(0))
        .optional()?;
    Ok(StreamVersion::new(version.map_or(0, to_u64)))
}

/// Positions and versions are stored as SQLite integers (i64) and never negative.
fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
