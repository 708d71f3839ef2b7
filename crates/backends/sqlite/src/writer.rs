//! The single writer with group commit.
//!
//! One thread owns the only write connection. Appends queue on a channel; the thread takes
//! every append waiting at that moment, applies them in one transaction and commits once: one
//! sync to disk for the whole group. Appends that arrive while a commit is syncing form the
//! next group, so the busier the store, the bigger the groups and the fewer the syncs per
//! event. Each caller still gets its own answer: a version conflict writes nothing and touches
//! no other append, and an append that breaks a constraint is taken out of the group, which is
//! then committed without it.
//!
//! A caller appending in a loop on its own would pay two thread hand-offs per append, for the
//! request and for the answer; when no other append waits and the writer is idle, such a caller
//! commits its append on its own thread instead ([`Committer::try_commit`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, TryLockError};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use projector_core::{
    AppendOutcome, ExpectedVersion, GlobalPosition, NewEvent, RecentEvents, RecordedEvent,
    StoreError, StreamId, StreamVersion, VersionConflict,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::is_constraint;
use crate::inline::InlineProjections;
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

/// The inline projections the writer applies in each group, set once the read store is open.
pub(crate) type InlineSlot = Arc<RwLock<Option<Arc<InlineProjections>>>>;

/// The writer's connection and state, behind a lock: its thread commits the groups queued for
/// it, and a caller with no other append waiting may commit its own append directly.
#[derive(Debug)]
pub(crate) struct Committer {
    /// `None` once the writer's thread has stopped, which closes the connection.
    writer: Mutex<Option<Writer>>,
}

impl Committer {
    /// Commits `request` on the calling thread if the writer is idle, answering it on its reply
    /// channel; hands the request back if the writer is busy or stopped, or if inline
    /// projections are set: their handlers are async, and only the writer's own thread may
    /// block on them.
    pub(crate) fn try_commit(&self, request: AppendRequest) -> Result<(), AppendRequest> {
        let mut writer = match self.writer.try_lock() {
            Ok(writer) => writer,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Err(request),
        };
        match writer.as_mut() {
            Some(writer) if writer.inline().is_none() => {
                writer.commit(&mut vec![request]);
                Ok(())
            }
            _ => Err(request),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Writer>> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Spawns the writer thread. It runs until every sender of `requests` is dropped, draining the
/// queue first, and publishes each committed head on `head`, starting from `committed`, after
/// adding the events it committed to `recent`.
pub(crate) fn spawn(
    conn: Connection,
    requests: mpsc::Receiver<AppendRequest>,
    head: watch::Sender<GlobalPosition>,
    recent: Arc<RecentEvents>,
    poison: PoisonFlag,
    inline: InlineSlot,
    limits: GroupLimits,
) -> std::io::Result<(JoinHandle<()>, Arc<Committer>)> {
    let committer = Arc::new(Committer {
        writer: Mutex::new(Some(Writer {
            conn,
            head,
            recent,
            poison,
            inline,
            versions: VersionCache::default(),
        })),
    });
    let shared = Arc::clone(&committer);
    let thread = std::thread::Builder::new()
        .name("projector-sqlite-writer".into())
        .spawn(move || run(&shared, requests, limits))?;
    Ok((thread, committer))
}

/// The writer's state. Its in-memory head is exact because it is the only writer: the store's
/// lock file keeps other processes out, every append of this one goes through it, and the head
/// moves only after a commit.
struct Writer {
    conn: Connection,
    head: watch::Sender<GlobalPosition>,
    recent: Arc<RecentEvents>,
    poison: PoisonFlag,
    inline: InlineSlot,
    versions: VersionCache,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("head", &*self.head.borrow())
            .finish_non_exhaustive()
    }
}

/// The committed version of recently appended streams. Exact, because every append goes
/// through this writer; it saves a lookup per append on hot streams.
#[derive(Default)]
struct VersionCache {
    committed: HashMap<StreamId, StreamVersion>,
}

impl VersionCache {
    /// Beyond this many streams the cache starts over rather than grow without bound.
    const CAPACITY: usize = 100_000;

    fn get(&self, stream: &StreamId) -> Option<StreamVersion> {
        self.committed.get(stream).copied()
    }

    fn commit(&mut self, group: HashMap<StreamId, StreamVersion>) {
        if self.committed.len() + group.len() > Self::CAPACITY {
            self.committed.clear();
        }
        self.committed.extend(group);
    }
}

/// Yields this many times for the next request before sleeping on the channel.
const SPINS: u32 = 200;

/// The next request: a lone writer's next append usually follows within microseconds of the
/// last answer, and catching it without sleeping saves two context switches.
fn next_request(requests: &mut mpsc::Receiver<AppendRequest>) -> Option<AppendRequest> {
    for _ in 0..SPINS {
        match requests.try_recv() {
            Ok(request) => return Some(request),
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
            Err(mpsc::error::TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
    requests.blocking_recv()
}

/// The writer thread's loop: gathers every append waiting into a group and commits it, until
/// the queue is closed and drained; then closes the connection.
fn run(committer: &Committer, mut requests: mpsc::Receiver<AppendRequest>, limits: GroupLimits) {
    let mut group: Vec<AppendRequest> = Vec::new();
    while let Some(first) = next_request(&mut requests) {
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
        match committer.lock().as_mut() {
            Some(writer) => writer.commit(&mut group),
            None => reply_all(&mut group, || StoreError::Closed),
        }
    }
    *committer.lock() = None;
}

impl Writer {
    /// The inline projections set now.
    fn inline(&self) -> Option<Arc<InlineProjections>> {
        self.inline
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Commits a group, answering every caller in it.
    fn commit(&mut self, group: &mut Vec<AppendRequest>) {
        let events: usize = group.iter().map(|request| request.events.len()).sum();
        metrics::histogram!("projector_append_group_appends").record(group.len() as f64);
        metrics::histogram!("projector_append_group_events").record(events as f64);
        if let Some(reason) = self.poison.get() {
            reply_all(group, || StoreError::Poisoned(reason.clone()));
            return;
        }
        let inline = self.inline();
        loop {
            let head = *self.head.borrow();
            match commit_group(
                &mut self.conn,
                group,
                head,
                &self.versions,
                inline.as_deref(),
            ) {
                Ok(Committed {
                    outcomes,
                    new_head,
                    versions,
                    recorded_at,
                }) => {
                    self.versions.commit(versions);
                    // Publish the head before answering, so a caller that reads right after
                    // its append is answered never waits for a head it has already passed;
                    // and the events before the head, so a reader it wakes finds them here.
                    if new_head > head {
                        self.recent.extend(recorded(group, &outcomes, recorded_at));
                        self.head.send_replace(new_head);
                    }
                    for (request, outcome) in group.drain(..).zip(outcomes) {
                        if let Ok(o) = &outcome {
                            metrics::counter!("projector_events_appended_total")
                                .increment(o.last_position.get() - o.first_position.get() + 1);
                        }
                        let _ = request.reply.send(outcome);
                    }
                    return;
                }
                Err(GroupFailure::Refused { index, error }) => {
                    // One append broke a constraint: the group was rolled back. Answer that
                    // caller and commit the rest without it.
                    let refused = group.remove(index);
                    let _ = refused.reply.send(Err(error));
                    if group.is_empty() {
                        return;
                    }
                }
                Err(GroupFailure::BeforeCommit(error)) => {
                    tracing::warn!(%error, appends = group.len(), "group append failed; rolled back");
                    let message = error.to_string();
                    reply_all(group, || StoreError::Unavailable {
                        message: format!("append failed: {message}"),
                        source: None,
                    });
                    return;
                }
                Err(GroupFailure::Commit(error)) => {
                    tracing::error!(%error, "commit failed; the event store is poisoned");
                    let reason = format!("commit failed: {error}");
                    let _ = self.poison.set(reason.clone());
                    reply_all(group, || StoreError::Poisoned(reason.clone()));
                    return;
                }
            }
        }
    }
}

/// The events of `group` as committed: taken out of the requests (which are only answered
/// from here on), with the positions, versions and time the commit gave them.
fn recorded<'g>(
    group: &'g mut [AppendRequest],
    outcomes: &'g [Result<AppendOutcome, StoreError>],
    recorded_at: DateTime<Utc>,
) -> impl Iterator<Item = RecordedEvent> + 'g {
    group
        .iter_mut()
        .zip(outcomes)
        .filter_map(|(request, outcome)| Some((request, outcome.as_ref().ok()?)))
        .flat_map(move |(request, outcome)| {
            let stream = request.stream.clone();
            let first_version = outcome.stream_version.get() + 1 - request.events.len() as u64;
            let first_position = outcome.first_position.get();
            std::mem::take(&mut request.events)
                .into_iter()
                .zip(0u64..)
                .map(move |(event, i)| RecordedEvent {
                    event_id: event.event_id,
                    position: GlobalPosition::new(first_position + i),
                    stream_id: stream.clone(),
                    stream_version: StreamVersion::new(first_version + i),
                    event_type: event.event_type,
                    schema_version: event.schema_version,
                    data: event.data,
                    metadata: event.metadata,
                    recorded_at,
                })
        })
}

fn reply_all(group: &mut Vec<AppendRequest>, error: impl Fn() -> StoreError) {
    for request in group.drain(..) {
        let _ = request.reply.send(Err(error()));
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

type Outcomes = Vec<Result<AppendOutcome, StoreError>>;

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
fn commit_group(
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
struct Committed {
    /// Each append's answer, in the group's order.
    outcomes: Outcomes,
    /// The head after it.
    new_head: GlobalPosition,
    /// The version each stream it wrote is at now.
    versions: HashMap<StreamId, StreamVersion>,
    /// The time its events were recorded at, as stored.
    recorded_at: DateTime<Utc>,
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
