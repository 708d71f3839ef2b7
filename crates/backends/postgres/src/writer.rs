//! The group-commit writer: one task per store that gathers concurrent appends into one
//! transaction.
//!
//! Appends commit one at a time, in position order (see `sql/append_group.sql`). Rather than
//! pay one commit (one WAL flush and one round trip) per append, the writer takes every append
//! waiting at that moment and sends them as a single statement: one round trip, one commit,
//! one flush for the whole group. Appends that arrive meanwhile form the next group, so the
//! busier the store, the bigger the groups. Each caller still gets its own answer: each append
//! is decided on its own, and one that conflicts writes nothing and touches no other.
//!
//! A group holds each stream at most once, so the statement can decide every append against
//! its stream's stored version alone; a second append to a stream waits for the next group.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use projector_core::{
    AppendOutcome, ExpectedVersion, NewEvent, RecentEvents, StoreError, StreamId,
};
use tokio::sync::{mpsc, oneshot};

use crate::append::{Committed, append_group, explain};
use crate::error::{describe, store_error};
use crate::head::HeadPublisher;
use crate::inline::{self, PgInlineProjections};

/// The inline projections the writer applies in each group, set once the read store is open.
pub(crate) type InlineSlot = Arc<Mutex<Option<Arc<PgInlineProjections>>>>;

/// One caller's append, with the channel its own answer goes back on.
pub(crate) struct AppendRequest {
    pub(crate) stream: StreamId,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<NewEvent>,
    pub(crate) reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// How many times the writer yields to let a group grow before it closes it.
const MAX_YIELDS: usize = 8;

/// The writer task: runs until every sender of `requests` is dropped, draining the queue.
pub(crate) async fn run(
    pool: deadpool_postgres::Pool,
    mut requests: mpsc::Receiver<AppendRequest>,
    head: Arc<HeadPublisher>,
    recent: Arc<RecentEvents>,
    max_group_events: usize,
    inline: InlineSlot,
) {
    let mut group: Vec<AppendRequest> = Vec::new();
    let mut streams: HashSet<StreamId> = HashSet::new();
    let mut held_over: Option<AppendRequest> = None;
    loop {
        let first = match held_over.take() {
            Some(first) => first,
            None => match requests.recv().await {
                Some(first) => first,
                None => break,
            },
        };
        let mut events = first.events.len();
        streams.insert(first.stream.clone());
        group.push(first);
        // Callers woken by the previous group's answers are still enqueueing their next
        // appends: yield to them while they keep arriving, so the group is not closed on the
        // first one. With nobody else appending this costs one yield.
        let mut yields = 0;
        let mut before_yield = 0;
        while events < max_group_events {
            match requests.try_recv() {
                Ok(next) => {
                    if !streams.insert(next.stream.clone()) {
                        held_over = Some(next);
                        break;
                    }
                    events += next.events.len();
                    group.push(next);
                }
                Err(mpsc::error::TryRecvError::Empty)
                    if yields < MAX_YIELDS && (yields == 0 || group.len() > before_yield) =>
                {
                    yields += 1;
                    before_yield = group.len();
                    tokio::task::yield_now().await;
                }
                Err(_) => break,
            }
        }
        streams.clear();
        metrics::histogram!("projector_append_group_appends").record(group.len() as f64);
        metrics::histogram!("projector_append_group_events").record(events as f64);
        let projections = inline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        commit(&pool, &mut group, &head, &recent, projections.as_deref()).await;
    }
}

/// Commits a group, answering every caller in it.
async fn commit(
    pool: &deadpool_postgres::Pool,
    group: &mut Vec<AppendRequest>,
    head: &HeadPublisher,
    recent: &RecentEvents,
    inline: Option<&PgInlineProjections>,
) {
    let mut client = match pool.get().await {
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
    // From here until `committed`, a head the listener learns may be this group's own.
    head.committing();
    let committed = match append(&mut client, group, inline).await {
        Ok(committed) => committed,
        // The server refused the statement as a whole (not the connection): find the culprit
        // by appending each request alone, so it fails only its own caller.
        Err(error) if error.code().is_some() && group.len() > 1 => {
            tracing::warn!(error = %describe(&error), appends = group.len(),
                "group append refused; appending one at a time");
            let mut outcomes = Vec::with_capacity(group.len());
            for request in group.iter() {
                let outcome = match append(&mut client, std::slice::from_ref(request), inline).await
                {
                    Ok(mut one) => one.outcomes.pop().unwrap_or(Err(StoreError::Closed)),
                    Err(error) => Err(explain(&client, request, error).await),
                };
                outcomes.push(outcome);
            }
            // Each in its own transaction, at its own time: not kept in `recent`.
            Committed {
                outcomes,
                events: None,
            }
        }
        Err(error) => {
            head.committed(None);
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
    let Committed { outcomes, events } = committed;
    let last = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().map(|o| o.last_position))
        .max();
    // Keep the events, then publish, before answering: a caller that reads right after its
    // append never waits for a head it has already passed, and a projection woken by the head
    // finds the events in memory. Every position up to `last` has committed: appends commit
    // in position order.
    if let Some(events) = events {
        recent.extend(events);
    }
    head.committed(last);
    for (request, outcome) in group.drain(..).zip(outcomes) {
        if let Ok(o) = &outcome {
            metrics::counter!("projector_events_appended_total")
                .increment(o.last_position.get() - o.first_position.get() + 1);
        }
        let _ = request.reply.send(outcome);
    }
}

/// Appends a group, with its inline projections in the same transaction when there are any.
async fn append(
    client: &mut deadpool_postgres::Client,
    group: &[AppendRequest],
    inline: Option<&PgInlineProjections>,
) -> Result<Committed, tokio_postgres::Error> {
    match inline {
        Some(projections) if !projections.is_empty() => {
            inline::append_group(client, group, projections).await
        }
        _ => append_group(client, group).await,
    }
}

fn reply_all(group: &mut Vec<AppendRequest>, mut error: impl FnMut() -> StoreError) {
    for request in group.drain(..) {
        let _ = request.reply.send(Err(error()));
    }
}
