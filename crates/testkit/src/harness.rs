//! Given/when/then tests for deciders: no store, no I/O.
//!
//! ```ignore
//! given(&OrderDecider, [created, item_added])
//!     .when(&OrderCommand::Ship { .. })
//!     .then([shipped]);
//! ```

use std::fmt::Debug;

use projector_core::Decider;

/// A decider with the events that came before the command under test.
#[derive(Debug)]
pub struct Given<'d, D: Decider> {
    decider: &'d D,
    state: D::State,
}

/// Starts a test from the state after `history`.
pub fn given<D: Decider>(decider: &D, history: impl IntoIterator<Item = D::Event>) -> Given<'_, D> {
    let events: Vec<D::Event> = history.into_iter().collect();
    Given {
        decider,
        state: decider.fold(&events),
    }
}

impl<D: Decider> Given<'_, D> {
    /// Decides `command` on the given state.
    pub fn when(self, command: &D::Command) -> Then<D> {
        Then {
            result: self.decider.decide(&self.state, command),
        }
    }
}

/// What a decision produced, to assert on.
#[derive(Debug)]
pub struct Then<D: Decider> {
    result: Result<Vec<D::Event>, D::Error>,
}

impl<D: Decider> Then<D>
where
    D::Event: PartialEq + Debug,
    D::Error: Debug,
{
    /// Asserts the command recorded exactly `expected`.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = D::Event>) {
        let expected: Vec<D::Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) => assert_eq!(events, expected, "the decider recorded other events"),
            Err(error) => {
                panic!("expected events {expected:?}, but the command was refused: {error:?}")
            }
        }
    }

    /// Asserts the command changed nothing.
    #[track_caller]
    pub fn then_nothing(self) {
        self.then([]);
    }

    /// Asserts the command was refused with an error that satisfies `check`, and returns it.
    #[track_caller]
    pub fn then_refused(self, check: impl FnOnce(&D::Error) -> bool) -> D::Error {
        match self.result {
            Ok(events) => panic!("expected a refusal, but the decider recorded {events:?}"),
            Err(error) => {
                assert!(
                    check(&error),
                    "the command was refused for another reason: {error:?}"
                );
                error
            }
        }
    }
}
