//! One group commit: every append of the group in one transaction, each answered on its own.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use projector_core::{
    AppendOutcome, ExpectedVersion, GlobalPosition, StoreError, StreamId, StreamVersion,
    VersionConflict,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::AppendRequest;
use crate::error::is_constraint;
use crate::inline::InlineProjections;
use crate::rows::time_to_micros;

/// The committed version of recently appended streams. Exact, because every append goes
/// through this writer; it saves a lookup per append on hot streams.
#[derive(Default)]
pub(super) struct VersionCache {
    committed: HashMap<StreamId, StreamVersion>,
}

impl VersionCache {
    /// Beyond this many streams the cache starts over rather than grow without bound.
    const CAPACITY: usize = 100_000;

    fn get(&self, stream: &StreamId) -> Option<StreamVersion> {
        self.committed.get(stream).copied()
    }

    pub(super) fn commit(&mut self, group: HashMap<StreamId, StreamVersion>) {
        if self.committed.len() + group.len() > Self::CAPACITY {
            self.committed.clear();
        }
        self.committed.extend(group);
    }
}

/// A group that did not commit; in every case its transaction was rolled back or never began.
pub(crate) enum GroupFailure {
    /// The append at `index` broke a constraint (a duplicate event id) or an inline projection
    /// failed on it; the others may commit without it.
    Refused { index: usize, error: StoreError },
    /// A statement failed; nothing was written.
    BeforeCommit(rusqlite::Error),
    /// `COMMIT` itself failed: whether anything reached the disk is unknown.
    Commit(rusqlite::Error),
}

impl From<rusqlite::Error> for GroupFailure {
    fn from(e: rusqlite::Error) -> Self {
        GroupFailure::BeforeCommit(e)
    }
}

pub(super) type Outcomes = Vec<Result<AppendOutcome, StoreError>>;

/// Stream versions as the group in progress leaves them, over the committed cache.
struct GroupVersions<'c> {
    committed: &'c VersionCache,
    written: HashMap<StreamId, StreamVersion>,
}

impl GroupVersions<'_> {
    /// The stream's version if known without a lookup.
    fn known(&self, stream: &StreamId) -> Option<StreamVersion> {
        self.written
            .get(stream)
            .copied()
            .or_else(|| self.committed.get(stream))
    }
}

/// Applies every append of the group in one transaction after `head`, with no savepoints: the
/// common case pays nothing for the rare constraint failure, which rolls the group back and is
/// retried without the culprit.
pub(super) fn commit_group(
    conn: &mut Connection,
    group: &[AppendRequest],
    head: GlobalPosition,
    committed: &VersionCache,
    inline: Option<&InlineProjections>,
) -> Result<Committed, GroupFailure> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Stored in microseconds: the time the events are read back with.
    let now = Utc::now();
    let recorded_at = time_to_micros(now);
    let recorded_at_stored = DateTime::from_timestamp_micros(recorded_at).unwrap_or(now);
    let mut next = to_i64(head.get()) + 1;
    let mut outcomes = Vec::with_capacity(group.len());
    let mut versions = GroupVersions {
        committed,
        written: HashMap::new(),
    };
    for (index, request) in group.iter().enumerate() {
        match append_one(&tx, request, next, recorded_at, &versions)? {
            Appended::Ok(outcome) => {
                next = to_i64(outcome.last_position.get()) + 1;
                versions
                    .written
                    .insert(request.stream.clone(), outcome.stream_version);
                outcomes.push(Ok(outcome));
            }
            Appended::Conflict(conflict) => outcomes.push(Err(StoreError::Conflict(conflict))),
            Appended::Refused(error) => return Err(GroupFailure::Refused { index, error }),
        }
    }
    let new_head = GlobalPosition::new(to_u64(next - 1));
    match inline {
        Some(inline) if new_head > head => {
            inline.commit(tx, group, &outcomes, head, new_head, recorded_at_stored)?;
        }
        _ => tx.commit().map_err(GroupFailure::Commit)?,
    }
    Ok(Committed {
        outcomes,
        new_head,
        versions: versions.written,
        recorded_at: recorded_at_stored,
    })
}

/// A group committed.
pub(super) struct Committed {
    /// Each append's answer, in the group's order.
    pub(super) outcomes: Outcomes,
    /// The head after it.
    pub(super) new_head: GlobalPosition,
    /// The version each stream it wrote is at now.
    pub(super) versions: HashMap<StreamId, StreamVersion>,
    /// The time its events were recorded at, as stored.
    pub(super) recorded_at: DateTime<Utc>,
}

/// What one append inside a group came to.
enum Appended {
    Ok(AppendOutcome),
    /// The expected version did not hold; nothing was written for it.
    Conflict(VersionConflict),
    /// A constraint refused it part-way; the group must roll back.
    Refused(StoreError),
}

fn append_one(
    tx: &rusqlite::Transaction<'_>,
    request: &AppendRequest,
    first: i64,
    recorded_at: i64,
    versions: &GroupVersions<'_>,
) -> rusqlite::Result<Appended> {
    let actual = match (versions.known(&request.stream), request.expected) {
        (Some(version), _) => version,
        // A new stream needs no lookup: if the stream exists after all, inserting its
        // version 1 breaks the unique (stream, version) index and the append is refused as a
        // conflict.
        (None, ExpectedVersion::NoStream) => StreamVersion::NONE,
        (None, _) => current_version(tx, &request.stream)?,
    };
    if !request.expected.accepts(actual) {
        return Ok(Appended::Conflict(VersionConflict {
            stream: request.stream.clone(),
            expected: request.expected,
            actual,
        }));
    }
    let mut insert = tx.prepare_cached(include_str!("../sql/insert_event.sql"))?;
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
                return explain_constraint(tx, request, i, actual).map(Appended::Refused);
            }
            Err(error) => return Err(error),
        }
    }
    let count = request.events.len() as i64;
    Ok(Appended::Ok(AppendOutcome {
        stream_version: StreamVersion::new(actual.get() + count as u64),
        first_position: GlobalPosition::new(to_u64(first)),
        last_position: GlobalPosition::new(to_u64(first + count - 1)),
    }))
}

/// Works out, from the data rather than the error text, which constraint the insert of event
/// `failed` broke. Called inside the doomed transaction, so "already stored" includes appends
/// earlier in the group, which will commit.
fn explain_constraint(
    tx: &rusqlite::Transaction<'_>,
    request: &AppendRequest,
    failed: usize,
    version_seen: StreamVersion,
) -> rusqlite::Result<StoreError> {
    let event_id = request.events[failed].event_id;
    let repeated = request.events[..failed]
        .iter()
        .any(|e| e.event_id == event_id);
    let stored = tx
        .prepare_cached("SELECT 1 FROM events WHERE event_id = ?1")?
        .query_row([event_id.as_bytes().as_slice()], |_| Ok(()))
        .optional()?
        .is_some();
    if repeated || stored {
        return Ok(StoreError::DuplicateEvent { event_id });
    }
    Ok(StoreError::Conflict(VersionConflict {
        stream: request.stream.clone(),
        expected: request.expected,
        actual: current_version(tx, &request.stream)?.max(version_seen),
    }))
}

fn current_version(
    tx: &rusqlite::Transaction<'_>,
    stream: &StreamId,
) -> rusqlite::Result<StreamVersion> {
    let version: Option<i64> = tx
        .prepare_cached(include_str!("../sql/stream_version.sql"))?
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
