//! The counter example, compiled into this test so `cargo test` runs it start to end, and its
//! decider tested given/when/then with the testkit.

include!("../examples/counter.rs");

use projector::testkit::harness::given;

#[test]
fn the_example_runs_to_its_end() {
    main().expect("the counter example runs");
}

#[test]
fn increments_add_up_and_a_reset_starts_again() {
    given(
        &Counter,
        [CounterEvent::Incremented { by: 2 }, CounterEvent::Reset],
    )
    .when(&Command::Increment(4))
    .then([CounterEvent::Incremented { by: 4 }]);
}

#[test]
fn an_increment_by_zero_is_refused() {
    let refusal = given(&Counter, [])
        .when(&Command::Increment(0))
        .then_refused(|_| true);
    assert_eq!(refusal.to_string(), "increment by at least 1");
}
