//! The event store conformance suite: every backend must pass it unchanged.
//!
//! Each check is a public async function over `Arc<dyn EventStore>`; a backend's test file
//! stamps them all out with [`event_store_conformance!`](crate::event_store_conformance), given
//! an expression that makes a fresh, empty store per test:
//!
//! ```ignore
//! projector_testkit::event_store_conformance!(async { Some(fresh_sqlite_store()) });
//! ```
//!
//! The expression yields `Option<Fixture>`; `None` means the backend's service is unavailable
//! outside CI and the test skips (see [`crate::services`]).
//!
//! [`idempotency`] holds the idempotency store's suite; [`target`] the suite every kind of
//! read model passes (stamped out with [`target_conformance!`](crate::target_conformance)),
//! and [`batch_writes`] and [`partition_swaps`] what SQL read stores add to it; [`controls`]
//! what stores of projection controls (pauses) must do.

mod append;
pub mod batch_writes;
pub mod controls;
mod feed;
pub mod idempotency;
pub mod partition_swaps;
pub mod property;
mod read;
pub mod target;

use std::any::Any;
use std::sync::Arc;

use projector_core::EventStore;

pub use append::{
    append_and_read_back, conflicts_write_nothing, expected_version_rules,
    invalid_appends_are_refused,
};
pub use feed::{
    a_conflict_reaches_only_its_caller,
    a_duplicate_id_among_concurrent_appends_refuses_only_its_append,
    concurrent_appenders_make_a_gapless_feed, head_watch_wakes_on_commit,
    subscription_catches_up_then_follows,
};
pub use read::{
    a_kept_read_is_the_page_less_what_its_filter_refuses, read_all_pages_through_the_feed,
    read_stream_directions_and_limits,
};

/// A fresh store for one test, with whatever must outlive it (a temporary directory, a
/// database that is dropped afterwards).
pub struct Fixture {
    store: Arc<dyn EventStore>,
    _guard: Box<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture").finish_non_exhaustive()
    }
}

impl Fixture {
    /// A store and the guard that keeps its storage alive.
    pub fn new(store: Arc<dyn EventStore>, guard: impl Any + Send + Sync) -> Self {
        Self {
            store,
            _guard: Box::new(guard),
        }
    }

    /// The store under test.
    pub fn store(&self) -> Arc<dyn EventStore> {
        Arc::clone(&self.store)
    }
}

/// Stamps out the whole conformance suite as tests, given an expression (evaluated once per
/// test) of type `impl Future<Output = Option<Fixture>>`.
#[macro_export]
macro_rules! event_store_conformance {
    ($factory:expr) => {
        $crate::event_store_conformance!(@async $factory;
            append_and_read_back,
            expected_version_rules,
            conflicts_write_nothing,
            invalid_appends_are_refused,
            read_stream_directions_and_limits,
            read_all_pages_through_the_feed,
            a_kept_read_is_the_page_less_what_its_filter_refuses,
            head_watch_wakes_on_commit,
            subscription_catches_up_then_follows,
            concurrent_appenders_make_a_gapless_feed,
            a_conflict_reaches_only_its_caller,
            a_duplicate_id_among_concurrent_appends_refuses_only_its_append,
        );

        #[test]
        fn random_concurrent_appends_keep_the_feed_consistent() {
            $crate::conformance::property::check_random_concurrent_appends(|| $factory);
        }
    };
    (@async $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(fixture) = $factory.await else { return };
                $crate::conformance::$name(fixture.store()).await;
            }
        )*
    };
}
