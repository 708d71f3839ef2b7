//! Inline projections: SQL projections the writer applies to their serving generation inside
//! each group's own transaction, so a write's answer comes after its read-model rows commit.
//!
//! The events and the read models share the database, so one transaction holds both: the
//! head lock, the group's insert, then for each inline projection (in a savepoint, so a read
//! model left to the projector costs the append nothing) its checkpoint, locked, any committed
//! events it missed, the group's events, and the checkpoint moved to the new head. One commit
//! makes all of it visible at once. A swap takes the head lock too, so the serving generation
//! read here cannot change before the commit. See ADR 0013.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use projector_core::{
    Checkpoint, EventFilter, Generation, GlobalPosition, ProjectionName, RecordedEvent, StoreError,
};
use projector_sql::{SqlProjection, apply_catching_panics};

use crate::append::{Committed, GroupArrays, appended_events, outcomes_under_lock};
use crate::read_store::catalog::{quoted, schema_name};
use crate::read_store::generation::{checkpoint, write_checkpoint};
use crate::read_store::transaction::PgTransaction;
use crate::rows::{clamp, recorded_events, to_u64};
use crate::writer::AppendRequest;

/// A serving checkpoint further behind the head than this is not caught up inside an append
/// (it would hold the head lock for as long); the projector catches it up instead.
const CATCH_UP_LIMIT: u64 = 10_000;

/// The inline projections of a [`crate::PgEventStore`]. Their read models must be kept by a
/// [`crate::PgReadStore`] on the event store's own database: they commit in its transactions.
pub struct PgInlineProjections {
    projections: Vec<(Arc<dyn SqlProjection>, EventFilter)>,
}

impl std::fmt::Debug for PgInlineProjections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgInlineProjections")
            .field("projections", &self.names())
            .finish()
    }
}

impl PgInlineProjections {
    /// The projections of `projections` that declare themselves inline.
    pub fn new(projections: impl IntoIterator<Item = Arc<dyn SqlProjection>>) -> Self {
        Self {
            projections: projections
                .into_iter()
                .filter(|p| p.inline())
                .map(|p| {
                    let filter = p.handles();
                    (p, filter)
                })
                .collect(),
        }
    }

    /// The names of the inline projections.
    pub fn names(&self) -> Vec<ProjectionName> {
        self.projections.iter().map(|(p, _)| p.name()).collect()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.projections.is_empty()
    }
}

/// An append an inline projection could not take: its place in the attempted group.
struct Refusal {
    index: usize,
    error: StoreError,
}

/// Appends `group` with its inline projections in one transaction. An append a projection
/// refuses is answered [`StoreError::InlineProjection`] and the rest run again without it.
pub(crate) async fn append_group(
    client: &mut deadpool_postgres::Client,
    group: &[AppendRequest],
    inline: &PgInlineProjections,
) -> Result<Committed, tokio_postgres::Error> {
    let mut refused: Vec<Option<StoreError>> = group.iter().map(|_| None).collect();
    loop {
        let live: Vec<usize> = (0..group.len()).filter(|&i| refused[i].is_none()).collect();
        let requests: Vec<&AppendRequest> = live.iter().map(|&i| &group[i]).collect();
        let decided = if requests.is_empty() {
            Committed {
                outcomes: Vec::new(),
                events: Some(Vec::new()),
            }
        } else {
            match attempt(client, &requests, inline).await? {
                Ok(committed) => committed,
                Err(refusal) => {
                    refused[live[refusal.index]] = Some(refusal.error);
                    continue;
                }
            }
        };
        let mut outcomes = decided.outcomes.into_iter();
        return Ok(Committed {
            outcomes: refused
                .into_iter()
                .map(|refusal| match refusal {
                    Some(error) => Err(error),
                    None => outcomes.next().unwrap_or(Err(StoreError::Closed)),
                })
                .collect(),
            events: decided.events,
        });
    }
}

/// One try at committing `requests`: their outcomes, or the append a projection refused
/// (everything rolled back).
async fn attempt(
    client: &mut deadpool_postgres::Client,
    requests: &[&AppendRequest],
    inline: &PgInlineProjections,
) -> Result<Result<Committed, Refusal>, tokio_postgres::Error> {
    let arrays = GroupArrays::new(requests);
    let (sql, params) = match arrays.one_params() {
        Some(params) => (include_str!("sql/append_one.sql"), params),
        None => (include_str!("sql/append_group.sql"), arrays.group_params()),
    };
    let lock = client
        .prepare_cached(include_str!("sql/inline_lock_head.sql"))
        .await?;
    let statement = client.prepare_cached(sql).await?;
    let mut tx = client.transaction().await?;
    let row = tx.query_one(&lock, &[]).await?;
    let head = GlobalPosition::new(to_u64(row.try_get(0)?));
    let recorded_at: DateTime<Utc> = row.try_get(1)?;
    let rows = tx.query(&statement, &params).await?;
    let outcomes = outcomes_under_lock(requests, &rows);
    let new_head = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().map(|o| o.last_position))
        .max();
    let appends = appended_events(requests, &outcomes, recorded_at);
    if let Some(new_head) = new_head {
        let step = Step {
            head,
            new_head,
            recorded_at,
            appends: &appends,
        };
        for (projection, filter) in &inline.projections {
            if let Err(refusal) = project(&mut tx, projection.as_ref(), filter, &step).await? {
                tx.rollback().await?;
                return Ok(Err(refusal));
            }
        }
    }
    tx.commit().await?;
    Ok(Ok(Committed {
        outcomes,
        events: Some(appends.into_iter().flatten().collect()),
    }))
}

/// What one group brings to every inline read model.
struct Step<'a> {
    /// The head before the group.
    head: GlobalPosition,
    /// The head after it.
    new_head: GlobalPosition,
    recorded_at: DateTime<Utc>,
    /// Each append's events as stored (empty for one that wrote nothing).
    appends: &'a [Vec<RecordedEvent>],
}

/// Why a read model was left to the projector for this group.
enum Skip {
    /// Logged already.
    Logged,
    Refused(Refusal),
}

/// Applies the group to one projection's serving generation, in a savepoint: rolled back and
/// left to the projector when it cannot be (far behind, ahead, an old event failing); a
/// refusal when one of the group's appends fails it.
async fn project(
    tx: &mut deadpool_postgres::Transaction<'_>,
    projection: &dyn SqlProjection,
    filter: &EventFilter,
    step: &Step<'_>,
) -> Result<Result<(), Refusal>, tokio_postgres::Error> {
    let name = projection.name();
    let serving = tx
        .query_opt(include_str!("sql/inline_serving.sql"), &[&name.as_str()])
        .await?;
    let Some(serving) = serving else {
        // The first build is running: the projector makes it.
        return Ok(Ok(()));
    };
    let generation: i32 = serving.try_get(0)?;
    let generation = Generation::new(u32::try_from(generation).unwrap_or(0));
    let schema = schema_name(&name, generation);
    let brings_nothing = !step.appends.iter().flatten().any(|e| filter.accepts(e));
    if brings_nothing && pass(tx, &schema, step).await? {
        return Ok(Ok(()));
    }
    let savepoint = tx.transaction().await?;
    match apply(&savepoint, projection, filter, generation, &schema, step).await {
        Ok(()) => {
            savepoint.commit().await?;
            Ok(Ok(()))
        }
        Err(Skip::Logged) => {
            savepoint.rollback().await?;
            Ok(Ok(()))
        }
        Err(Skip::Refused(refusal)) => {
            savepoint.rollback().await?;
            Ok(Err(refusal))
        }
    }
}

/// Moves the checkpoint of a read model the group brings no event to from the old head to the
/// new one, in one statement where the savepoint takes five; most groups bring nothing to most
/// inline read models. Whether it moved: not when the checkpoint was not at the old head, which
/// the savepoint then catches up or leaves to the projector. The generation's schema is there:
/// it is the serving one, read under the head lock that every swap and drop takes too.
async fn pass(
    tx: &deadpool_postgres::Transaction<'_>,
    schema: &str,
    step: &Step<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let statement = tx
        .prepare_cached(&format!(
            "UPDATE {}._projector_checkpoint SET position = $1, last_event_at = $2, \
             updated_at = now() WHERE id = 1 AND position = $3",
            quoted(schema)
        ))
        .await?;
    let moved = tx
        .execute(
            &statement,
            &[
                &clamp(step.new_head.get()),
                &step.recorded_at,
                &clamp(step.head.get()),
            ],
        )
        .await?;
    Ok(moved == 1)
}

async fn apply(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &dyn SqlProjection,
    filter: &EventFilter,
    generation: Generation,
    schema: &str,
    step: &Step<'_>,
) -> Result<(), Skip> {
    let name = projection.name();
    let skip = |what: &str, error: &dyn std::fmt::Display| {
        tracing::warn!(projection = %name, %error, "{what}; the projector catches it up");
        Skip::Logged
    };
    tx.batch_execute(&format!("SET LOCAL search_path TO {}", quoted(schema)))
        .await
        .map_err(|e| skip("cannot enter the inline read model's schema", &e))?;
    let at = checkpoint(tx, &name, generation, true, None)
        .await
        .map_err(|e| skip("cannot read the inline checkpoint", &e))?
        .position;
    if at > step.head {
        tracing::error!(projection = %name, checkpoint = %at, head = %step.head,
            "the inline read model is ahead of the event store; rebuild it");
        return Err(Skip::Logged);
    }
    if at < step.head {
        catch_up(tx, projection, filter, schema, at, step.head).await?;
    }
    for (index, appended) in step.appends.iter().enumerate() {
        let handled: Vec<RecordedEvent> = appended
            .iter()
            .filter(|e| filter.accepts(e))
            .cloned()
            .collect();
        if handled.is_empty() {
            continue;
        }
        let mut sql = PgTransaction::new(tx, schema);
        if let Err(error) = apply_catching_panics(projection, &mut sql, &handled).await {
            tracing::warn!(projection = %name, %error, "inline projection refused an append");
            return Err(Skip::Refused(Refusal {
                index,
                error: StoreError::InlineProjection {
                    projection: name.to_string(),
                    message: error.to_string(),
                },
            }));
        }
    }
    let checkpoint = Checkpoint {
        position: step.new_head,
        last_event_at: Some(step.recorded_at),
    };
    write_checkpoint(tx, schema, checkpoint, None)
        .await
        .map_err(|e| skip("cannot move the inline checkpoint", &e))
}

/// Applies the committed events after `at` up to `head` (a swap, a crash or a restart left the
/// checkpoint behind), so the checkpoint moves without a gap; too far behind, or an old event
/// that fails (the projector dead-letters it), is left to the projector.
async fn catch_up(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &dyn SqlProjection,
    filter: &EventFilter,
    schema: &str,
    at: GlobalPosition,
    head: GlobalPosition,
) -> Result<Option<DateTime<Utc>>, Skip> {
    let name = projection.name();
    let behind = head.get() - at.get();
    if behind > CATCH_UP_LIMIT {
        tracing::info!(projection = %name, checkpoint = %at, %head,
            "the inline read model is far behind; the projector catches it up first");
        return Err(Skip::Logged);
    }
    let skip = |error: &dyn std::fmt::Display| {
        tracing::warn!(projection = %name, %error,
            "cannot catch the inline read model up; the projector does");
        Skip::Logged
    };
    let rows = tx
        .query(
            include_str!("sql/read_all.sql"),
            &[&clamp(at.get()), &clamp(behind)],
        )
        .await
        .map_err(|e| skip(&e))?;
    let events = recorded_events(&rows).map_err(|e| skip(&e))?;
    let last_event_at = events.last().map(|e| e.recorded_at);
    let handled: Vec<RecordedEvent> = events.into_iter().filter(|e| filter.accepts(e)).collect();
    if handled.is_empty() {
        return Ok(last_event_at);
    }
    let mut sql = PgTransaction::new(tx, schema);
    apply_catching_panics(projection, &mut sql, &handled)
        .await
        .map_err(|e| skip(&e))?;
    Ok(last_event_at)
}

/// Catches the building `generation` of an inline projection up to `head` inside `tx`, which
/// holds the head lock, so a rebuild swaps in under a steady stream of writes rather than
/// waiting for a moment with none: each append moves the serving checkpoint, and the new
/// generation must hold everything the serving one does when it replaces it. Whether it is at
/// the head now; in a savepoint, so a catch-up that cannot be made (too far behind, an event
/// that fails, which the projector then dead-letters) changes nothing.
pub(crate) async fn catch_up_generation(
    tx: &mut deadpool_postgres::Transaction<'_>,
    projection: &dyn SqlProjection,
    generation: Generation,
    head: GlobalPosition,
) -> Result<bool, tokio_postgres::Error> {
    let name = projection.name();
    let schema = schema_name(&name, generation);
    let savepoint = tx.transaction().await?;
    let caught_up = async {
        savepoint
            .batch_execute(&format!("SET LOCAL search_path TO {}", quoted(&schema)))
            .await
            .map_err(|_| Skip::Logged)?;
        let at = checkpoint(&savepoint, &name, generation, true, None)
            .await
            .map_err(|_| Skip::Logged)?;
        if at.position >= head {
            return Ok(at.position == head);
        }
        let last_event_at = catch_up(
            &savepoint,
            projection,
            &projection.handles(),
            &schema,
            at.position,
            head,
        )
        .await?;
        let moved = Checkpoint {
            position: head,
            last_event_at: last_event_at.or(at.last_event_at),
        };
        write_checkpoint(&savepoint, &schema, moved, None)
            .await
            .map_err(|_| Skip::Logged)?;
        Ok::<bool, Skip>(true)
    }
    .await;
    match caught_up {
        Ok(true) => {
            savepoint.commit().await?;
            Ok(true)
        }
        Ok(false) | Err(_) => {
            savepoint.rollback().await?;
            Ok(false)
        }
    }
}
