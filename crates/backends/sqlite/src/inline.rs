//! Inline projections: SQL projections the writer applies to their serving generation inside
//! each group commit, so a write's answer comes after its read-model rows are committed.
//!
//! The group's events transaction stays open while each inline projection applies the
//! group's events (one append at a time, so a failure names its append) in a transaction on
//! the serving generation's own file. Then `events.db` commits, then each read model: a crash
//! between leaves events without their rows (the checkpoint is behind, and the next append or
//! the projector catches up), never rows without their events. See ADR 0013.
//!
//! A group holding no event a read model takes leaves its file alone: the writer remembers
//! that the read model is current through the group's end (see [`Current`]), and the next group
//! that brings it events moves its checkpoint past both without reading the events between.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use projector_core::{
    AppendOutcome, Checkpoint, EventFilter, Generation, GlobalPosition, ProjectionName,
    RecordedEvent, StoreError, catching_panics, recorded_appends,
};
use projector_sql::SqlProjection;
use rusqlite::Connection;

use crate::read_store::SqliteReadStore;
use crate::read_store::generation::{GenerationDb, position, write_checkpoint};
use crate::read_store::transaction::SqliteTransaction;
use crate::rows::collect_events;
use crate::writer::{AppendRequest, GroupFailure};

/// A serving checkpoint further behind the head than this is not caught up inside an append
/// (it would hold every writer for as long); the projector catches it up instead.
const CATCH_UP_LIMIT: u64 = 10_000;

/// The inline projections of an event store, with the read store that keeps their tables.
pub struct InlineProjections {
    reads: SqliteReadStore,
    projections: Vec<(Arc<dyn SqlProjection>, EventFilter)>,
    runtime: tokio::runtime::Handle,
    current: Current,
}

/// How far each serving inline read model is known to be current: the position it reflects
/// every event it takes up to, by generation. Its stored checkpoint may be behind that when only
/// events it ignores came since, which is the commit per group this saves. Only groups that
/// committed move it; a generation another writer could rewind is never reused (a rebuild makes
/// a new one), and a process starting afresh knows nothing, so it reads the checkpoint again.
#[derive(Debug, Default)]
struct Current(Mutex<HashMap<ProjectionName, (Generation, GlobalPosition)>>);

impl Current {
    /// Where `generation` of `projection` is known to be current, if known.
    fn get(&self, projection: &ProjectionName, generation: Generation) -> Option<GlobalPosition> {
        match self.lock().get(projection) {
            Some(&(known, position)) if known == generation => Some(position),
            _ => None,
        }
    }

    fn set(&self, projection: ProjectionName, generation: Generation, position: GlobalPosition) {
        self.lock().insert(projection, (generation, position));
    }

    fn forget(&self, projection: &ProjectionName) {
        self.lock().remove(projection);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ProjectionName, (Generation, GlobalPosition)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for InlineProjections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineProjections")
            .field("projections", &self.names())
            .finish_non_exhaustive()
    }
}

impl InlineProjections {
    /// The projections of `projections` that declare themselves inline, over `reads`. Their
    /// code runs on the writer thread, driven by the current tokio runtime.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] outside a tokio runtime.
    pub fn new(
        reads: SqliteReadStore,
        projections: impl IntoIterator<Item = Arc<dyn SqlProjection>>,
    ) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| StoreError::unavailable("inline projections need a tokio runtime", e))?;
        Ok(Self {
            reads,
            projections: projections
                .into_iter()
                .filter(|p| p.inline())
                .map(|p| {
                    let filter = p.handles();
                    (p, filter)
                })
                .collect(),
            runtime,
            current: Current::default(),
        })
    }

    /// The names of the inline projections.
    pub fn names(&self) -> Vec<ProjectionName> {
        self.projections.iter().map(|(p, _)| p.name()).collect()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.projections.is_empty()
    }

    /// Applies the group's appends (those whose outcome is `Ok`) to every serving inline read model, then commits
    /// `tx` and after it the read models. `head` is the head before the group, `new_head`
    /// after it.
    pub(crate) fn commit(
        &self,
        tx: rusqlite::Transaction<'_>,
        group: &[AppendRequest],
        outcomes: &[Result<AppendOutcome, StoreError>],
        head: GlobalPosition,
        new_head: GlobalPosition,
        recorded_at: DateTime<Utc>,
    ) -> Result<(), GroupFailure> {
        let appends = recorded_appends(
            group.iter().map(|r| (&r.stream, r.events.as_slice())),
            outcomes,
            recorded_at,
        );
        let step = Step {
            head,
            new_head,
            recorded_at,
            appends: &appends,
        };
        loop {
            let mut targets = Vec::new();
            let mut untouched = Vec::new();
            for (projection, filter) in &self.projections {
                let name = projection.name();
                match self.reads.inline_serving(&name) {
                    Ok(Some((generation, db))) => {
                        let current = self.current.get(&name, generation) == Some(head);
                        if current && !step.brings(filter) {
                            untouched.push((name, generation));
                        } else {
                            targets.push(Target {
                                projection,
                                filter,
                                generation,
                                db,
                                current,
                            });
                        }
                    }
                    // The first build is running: the projector makes it.
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(projection = %name, %error,
                            "cannot open the inline read model; the projector catches it up");
                    }
                }
            }
            let guards: Vec<MutexGuard<'_, Connection>> =
                targets.iter().map(|t| t.db.writer()).collect();
            // A swap holds the replaced generation's writer: once held, serving is stable.
            if targets
                .iter()
                .any(|t| !self.reads.serves(&t.projection.name(), t.generation))
            {
                continue;
            }
            return self.commit_locked(tx, &targets, guards, &step, &untouched);
        }
    }

    fn commit_locked(
        &self,
        tx: rusqlite::Transaction<'_>,
        targets: &[Target<'_>],
        mut guards: Vec<MutexGuard<'_, Connection>>,
        step: &Step<'_>,
        untouched: &[(ProjectionName, Generation)],
    ) -> Result<(), GroupFailure> {
        let mut open = Vec::new();
        for (index, (target, conn)) in targets.iter().zip(guards.iter_mut()).enumerate() {
            let conn: &mut Connection = conn;
            let name = target.projection.name();
            if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
                tracing::warn!(projection = %name, %error,
                    "cannot begin the inline read model's transaction; the projector catches it up");
                self.current.forget(&name);
                continue;
            }
            match self.apply(&tx, conn, target, step) {
                Ok(true) => open.push(index),
                Ok(false) => {
                    rollback(conn);
                    self.current.forget(&name);
                }
                Err(failure) => {
                    rollback(conn);
                    for &i in &open {
                        rollback(&guards[i]);
                    }
                    return Err(failure);
                }
            }
        }
        // Whether or not a failed commit wrote the events, each read model stays current through
        // the head before the group: a next group after them does not find it so.
        if let Err(error) = tx.commit() {
            for &i in &open {
                rollback(&guards[i]);
            }
            return Err(GroupFailure::Commit(error));
        }
        for (name, generation) in untouched {
            self.current.set(name.clone(), *generation, step.new_head);
        }
        for &i in &open {
            let target = &targets[i];
            match guards[i].execute_batch("COMMIT") {
                Ok(()) => {
                    self.current
                        .set(target.projection.name(), target.generation, step.new_head);
                }
                Err(error) => {
                    tracing::warn!(projection = %target.projection.name(), %error,
                        "the inline read model did not commit after its events; the projector catches it up");
                    rollback(&guards[i]);
                    self.current.forget(&target.projection.name());
                }
            }
        }
        Ok(())
    }

    /// Applies the group to one read model in its open transaction: `Ok(false)` to leave it
    /// to the projector (rolled back by the caller), an error to refuse an append.
    fn apply(
        &self,
        events: &rusqlite::Transaction<'_>,
        conn: &mut Connection,
        target: &Target<'_>,
        step: &Step<'_>,
    ) -> Result<bool, GroupFailure> {
        let name = target.projection.name();
        let at = match position(conn) {
            Ok(at) => at,
            Err(error) => {
                tracing::warn!(projection = %name, %error, "cannot read the inline checkpoint");
                return Ok(false);
            }
        };
        if at > step.head {
            tracing::error!(projection = %name, checkpoint = %at, head = %step.head,
                "the inline read model is ahead of the event store; rebuild it");
            return Ok(false);
        }
        // Current through the head already: whatever came after the checkpoint, it ignores.
        if at < step.head && !target.current && !self.catch_up(events, conn, target, at, step.head)
        {
            return Ok(false);
        }
        for (index, appended) in step.appends.iter().enumerate() {
            let handled: Vec<RecordedEvent> = appended
                .iter()
                .filter(|e| target.filter.accepts(e))
                .cloned()
                .collect();
            if handled.is_empty() {
                continue;
            }
            if let Err(error) = self.run(conn, target.projection.as_ref(), &handled) {
                tracing::warn!(projection = %name, %error, "inline projection refused an append");
                return Err(GroupFailure::Refused {
                    index,
                    error: StoreError::InlineProjection {
                        projection: name.to_string(),
                        message: error,
                    },
                });
            }
        }
        let checkpoint = Checkpoint {
            position: step.new_head,
            last_event_at: Some(step.recorded_at),
        };
        if let Err(error) = write_checkpoint(conn, checkpoint, None) {
            tracing::warn!(projection = %name, %error, "cannot move the inline checkpoint");
            return Ok(false);
        }
        Ok(true)
    }

    /// Applies the committed events after `at` up to `head` (a swap, a crash or a restart left
    /// the checkpoint behind), so the checkpoint moves without a gap. False to leave it to the
    /// projector: too far behind, or an old event fails (the projector dead-letters it).
    fn catch_up(
        &self,
        events: &rusqlite::Transaction<'_>,
        conn: &mut Connection,
        target: &Target<'_>,
        at: GlobalPosition,
        head: GlobalPosition,
    ) -> bool {
        let name = target.projection.name();
        let behind = head.get() - at.get();
        if behind > CATCH_UP_LIMIT {
            tracing::info!(projection = %name, checkpoint = %at, %head,
                "the inline read model is far behind; the projector catches it up first");
            return false;
        }
        let read = events
            .prepare_cached(include_str!("sql/read_all.sql"))
            .and_then(|mut stmt| {
                let rows = stmt.query(rusqlite::params![to_i64(at.get()), to_i64(behind)])?;
                Ok(collect_events(rows))
            });
        let missed = match read {
            Ok(Ok(missed)) => missed,
            Ok(Err(error)) => {
                tracing::warn!(projection = %name, %error, "cannot read the events to catch up");
                return false;
            }
            Err(error) => {
                tracing::warn!(projection = %name, %error, "cannot read the events to catch up");
                return false;
            }
        };
        let handled: Vec<RecordedEvent> = missed
            .into_iter()
            .filter(|e| target.filter.accepts(e))
            .collect();
        if handled.is_empty() {
            return true;
        }
        match self.run(conn, target.projection.as_ref(), &handled) {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(projection = %name, %error,
                    "an earlier event fails the inline projection; the projector handles it");
                false
            }
        }
    }

    /// Runs the projection's code on this thread, a panic becoming an error.
    fn run(
        &self,
        conn: &mut Connection,
        projection: &dyn SqlProjection,
        events: &[RecordedEvent],
    ) -> Result<(), String> {
        let mut tx = SqliteTransaction::new(conn);
        self.runtime
            .block_on(catching_panics(projection.apply(&mut tx, events)))
            .map_err(|e| e.to_string())
    }
}

/// A serving inline read model.
struct Target<'p> {
    projection: &'p Arc<dyn SqlProjection>,
    filter: &'p EventFilter,
    generation: Generation,
    db: Arc<GenerationDb>,
    /// Whether it was known to be current through the head before this group.
    current: bool,
}

/// What one group commit brings to every inline read model.
struct Step<'a> {
    head: GlobalPosition,
    new_head: GlobalPosition,
    recorded_at: DateTime<Utc>,
    /// Each append's events as they will be stored (empty for one that wrote nothing).
    appends: &'a [Vec<RecordedEvent>],
}

impl Step<'_> {
    /// Whether any event of the group passes `filter`.
    fn brings(&self, filter: &EventFilter) -> bool {
        self.appends.iter().flatten().any(|e| filter.accepts(e))
    }
}

fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
