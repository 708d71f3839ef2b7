//! A property test: random concurrent appends with expected versions across a few streams.
//! Whatever the interleaving, the feed holds exactly the successful appends, positions have no
//! gaps, and every stream's versions are in order.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use projector_core::{
    AppendOutcome, EventStore, ExpectedVersion, GlobalPosition, StoreError, StreamId, StreamVersion,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use uuid::Uuid;

use super::Fixture;
use crate::events::numbered;

/// One random append.
#[derive(Clone, Debug)]
struct Op {
    stream: u8,
    expected: ExpectedVersion,
    events: usize,
}

fn op() -> impl Strategy<Value = Op> {
    let expected = prop_oneof![
        Just(ExpectedVersion::Any),
        Just(ExpectedVersion::NoStream),
        Just(ExpectedVersion::StreamExists),
        (0u64..6).prop_map(|v| ExpectedVersion::Exact(StreamVersion::new(v))),
    ];
    (0u8..4, expected, 1usize..4).prop_map(|(stream, expected, events)| Op {
        stream,
        expected,
        events,
    })
}

/// Runs the property against fresh stores from `factory` (one per case). The number of cases
/// is `PROPTEST_CASES`, default 24.
///
/// # Panics
/// When a case breaks the property (with the shrunk case), or the factory fails.
pub fn check_random_concurrent_appends<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<Fixture>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(
        &(prop::collection::vec(op(), 1..40), 1usize..6),
        |(ops, tasks)| {
            runtime.block_on(async {
                let Some(fixture) = factory().await else {
                    return Ok(());
                };
                run_case(fixture.store(), ops, tasks).await
            })
        },
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

type Answer = (Op, Vec<Uuid>, Result<AppendOutcome, StoreError>);

async fn run_case(
    store: Arc<dyn EventStore>,
    ops: Vec<Op>,
    tasks: usize,
) -> Result<(), TestCaseError> {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let mine: Vec<Op> = ops.iter().skip(t).step_by(tasks).cloned().collect();
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            let mut answers: Vec<Answer> = Vec::new();
            for op in mine {
                let stream = StreamId::parse(format!("prop-{}", op.stream)).expect("valid");
                let events = numbered(op.events);
                let ids = events.iter().map(|e| e.event_id).collect();
                let result = store.append(&stream, op.expected, events).await;
                answers.push((op, ids, result));
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for handle in handles {
        answers.extend(
            handle
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?,
        );
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
