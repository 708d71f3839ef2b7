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

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, TryLockError};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use projector_core::{
    AppendOutcome, ExpectedVersion, GlobalPosition, NewEvent, RecentEvents, RecordedEvent,
    StoreError, StreamId, StreamVersion,
};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, watch};

use crate::inline::InlineProjections;

mod group;

pub(crate) use group::GroupFailure;
use group::{Committed, VersionCache, commit_group};

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
