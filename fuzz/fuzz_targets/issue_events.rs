//! Stored issue events of any type, schema version (older ones go through the upcasters) and
//! payload: decoding never panics, a decoded event survives encode and decode unchanged, and
//! folding any sequence of them into the decider's state never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use projector_fuzz::{recorded_events, round_trip};
use projector_issues::events::types::ALL;
use projector_issues::{Issue, IssueEvent};

fuzz_target!(|data: &[u8]| {
    let events: Vec<IssueEvent> = recorded_events(&ALL, data)
        .iter()
        .filter_map(round_trip::<IssueEvent>)
        .collect();
    let _ = events
        .iter()
        .fold(Issue::default(), |issue, event| issue.evolve(event));
});
