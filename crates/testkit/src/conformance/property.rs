//! A property test: appends with expected versions across a few streams, some reusing an
//! event id already sent, in a generated schedule. Whatever the schedule, the feed holds exactly
//! the successful appends, positions have no gaps, every stream's versions are in order, and an
//! append refused for a duplicate id names an id another append stored.
//!
//! The schedule is part of the input, so a failure shrinks and replays: rounds run one after
//! another, and the appends of a round are sent together, in the listed order, on a
//! single-threaded runtime (so they reach the store's writer in that order and may share a
//! group commit).

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use projector_core::{
    AppendOutcome, EventStore, ExpectedVersion, GlobalPosition, StoreError, StreamId, StreamVersion,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{TestCaseError, TestRunner};
use uuid::Uuid;

use super::Fixture;
use crate::events::numbered;

/// One append of the schedule.
#[derive(Clone, Debug)]
struct Op {
    stream: u8,
    expected: ExpectedVersion,
    events: usize,
    /// Its last event takes the id of an event sent earlier in the schedule, if any was.
    reuse: Option<Index>,
}

fn op() -> impl Strategy<Value = Op> {
    let expected = prop_oneof![
        Just(ExpectedVersion::Any),
        Just(ExpectedVersion::NoStream),
        Just(ExpectedVersion::StreamExists),
        (0u64..6).prop_map(|v| ExpectedVersion::Exact(StreamVersion::new(v))),
    ];
    (
        0u8..4,
        expected,
        1usize..4,
        prop::option::weighted(0.2, any::<Index>()),
    )
        .prop_map(|(stream, expected, events, reuse)| Op {
            stream,
            expected,
            events,
            reuse,
        })
}

/// Rounds of appends sent together.
fn schedule() -> impl Strategy<Value = Vec<Vec<Op>>> {
    prop::collection::vec(prop::collection::vec(op(), 1..5), 1..12)
}

/// Cases on a developer's machine, each against a fresh store; CI runs more (see
/// [`property`](crate::property)).
const CASES: u32 = 24;

/// Runs the property against fresh stores from `factory` (one per case), for [`CASES`] cases
/// (as [`property::config`](crate::property::config) scales them).
///
/// # Panics
/// When a case breaks the property (with the shrunk case), or the factory fails.
pub fn check_random_concurrent_appends<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<Fixture>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut runner = TestRunner::new(crate::property::config(CASES));
    let result = runner.run(&schedule(), |rounds| {
        runtime.block_on(async {
            let Some(fixture) = factory().await else {
                return Ok(());
            };
            run_case(fixture.store(), rounds).await
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

type Answer = (Op, Vec<Uuid>, Result<AppendOutcome, StoreError>);

async fn run_case(store: Arc<dyn EventStore>, rounds: Vec<Vec<Op>>) -> Result<(), TestCaseError> {
    let mut sent: Vec<Uuid> = Vec::new();
    let mut answers: Vec<Answer> = Vec::new();
    for round in rounds {
        let mut handles = Vec::new();
        for op in round {
            let stream = StreamId::parse(format!("prop-{}", op.stream)).expect("valid");
            let mut events = numbered(op.events);
            if let (Some(reuse), false) = (op.reuse, sent.is_empty())
                && let Some(last) = events.last_mut()
            {
                last.event_id = sent[reuse.index(sent.len())];
            }
            let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
            sent.extend(&ids);
            let store = Arc::clone(&store);
            // Spawned in order on one thread: they run, and enqueue, in this order.
            handles.push(tokio::spawn(async move {
                let result = store.append(&stream, op.expected, events).await;
                (op, ids, result)
            }));
        }
        for handle in handles {
            answers.push(
                handle
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?,
            );
        }
    }

    let mut feed = Vec::new();
    let mut after = GlobalPosition::ZERO;
    loop {
        let page = store
            .read_all(after, 7)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let Some(last) = page.last() else { break };
        after = last.position;
        feed.extend(page);
    }

    let stored: HashSet<Uuid> = feed.iter().map(|e| e.event_id).collect();
    prop_assert_eq!(stored.len(), feed.len(), "an event id is stored twice");
    let mut expected_total = 0;
    let by_position: BTreeMap<u64, &projector_core::RecordedEvent> =
        feed.iter().map(|e| (e.position.get(), e)).collect();
    for (op, ids, result) in &answers {
        match result {
            Ok(outcome) => {
                expected_total += ids.len();
                let before = outcome.stream_version.get() - ids.len() as u64;
                prop_assert!(
                    op.expected.accepts(StreamVersion::new(before)),
                    "{op:?} succeeded on a stream at version {before}"
                );
                prop_assert_eq!(
                    outcome.last_position.get() - outcome.first_position.get() + 1,
                    ids.len() as u64
                );
                for (i, id) in ids.iter().enumerate() {
                    let event = by_position.get(&(outcome.first_position.get() + i as u64));
                    prop_assert!(
                        event.is_some_and(|e| e.event_id == *id),
                        "append {op:?} is not in the feed as acknowledged"
                    );
                    prop_assert_eq!(
                        event.map(|e| e.stream_version.get()),
                        Some(before + 1 + i as u64)
                    );
                }
            }
            Err(StoreError::Conflict(conflict)) => {
                prop_assert!(
                    !op.expected.accepts(conflict.actual),
                    "{op:?} was refused although version {} satisfies it",
                    conflict.actual
                );
            }
            Err(StoreError::DuplicateEvent { event_id }) => {
                prop_assert!(ids.contains(event_id), "{op:?} refused for another's id");
                prop_assert!(
                    stored.contains(event_id),
                    "{op:?} was refused for id {event_id}, which no append stored"
                );
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
    prop_assert_eq!(
        feed.len(),
        expected_total,
        "the feed holds other events than the successful appends"
    );
    for (i, event) in feed.iter().enumerate() {
        prop_assert_eq!(event.position.get(), i as u64 + 1, "positions have a gap");
    }
    let mut versions: BTreeMap<&str, u64> = BTreeMap::new();
    for event in &feed {
        let last = versions.entry(event.stream_id.as_str()).or_insert(0);
        prop_assert_eq!(
            event.stream_version.get(),
            *last + 1,
            "stream versions out of order"
        );
        *last += 1;
    }
    Ok(())
}
