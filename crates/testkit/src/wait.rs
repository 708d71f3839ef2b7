//! One way for a test to wait: poll a condition until it holds, under one deadline policy.
//!
//! Every wait in the suites goes through [`eventually`], so a slow machine is handled in one
//! place: the default deadline ([`deadline`], 20 s) is scaled by `PROJECTOR_TEST_TIME_SCALE`
//! (a number, default 1). A test that asserts a bound on purpose (a takeover within what the
//! README promises) passes that bound to [`eventually_within`] instead.
//!
//! On timeout the panic names what was awaited and the last value observed, so a failure says
//! how far things got rather than only that they did not finish.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

/// The deadline of a wait that asserts no bound of its own, before scaling.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(20);

/// The first pause between two polls; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// The longest pause between two polls: short enough that a wait ends soon after its condition.
const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// The factor every default deadline is multiplied by: `PROJECTOR_TEST_TIME_SCALE`, default 1.
///
/// # Panics
/// If the variable is set but not a positive number.
pub fn time_scale() -> f64 {
    match std::env::var("PROJECTOR_TEST_TIME_SCALE") {
        Ok(value) => {
            let scale: f64 = value.trim().parse().unwrap_or_else(|_| {
                panic!("PROJECTOR_TEST_TIME_SCALE must be a number, not {value:?}")
            });
            assert!(
                scale.is_finite() && scale > 0.0,
                "PROJECTOR_TEST_TIME_SCALE must be positive, not {value:?}"
            );
            scale
        }
        Err(_) => 1.0,
    }
}

/// `duration` scaled for this machine (see [`time_scale`]).
pub fn scaled(duration: Duration) -> Duration {
    duration.mul_f64(time_scale())
}

/// The deadline of a wait that asserts no bound of its own: [`DEFAULT_DEADLINE`], scaled.
pub fn deadline() -> Duration {
    scaled(DEFAULT_DEADLINE)
}

/// What one poll saw: either the awaited value, or what was observed instead (kept for the
/// panic message).
pub trait Observation {
    /// The value the wait returns once the condition holds.
    type Output;

    /// The awaited value, or a description of what was seen instead.
    fn settle(self) -> Result<Self::Output, String>;
}

impl<T> Observation for Option<T> {
    type Output = T;

    fn settle(self) -> Result<T, String> {
        self.ok_or_else(|| "nothing yet".to_owned())
    }
}

impl<T, E: Debug> Observation for Result<T, E> {
    type Output = T;

    fn settle(self) -> Result<T, String> {
        self.map_err(|observed| format!("{observed:#?}"))
    }
}

impl Observation for bool {
    type Output = ();

    fn settle(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("false".to_owned())
        }
    }
}

/// Polls `probe` with a short backoff until it yields its value, within the default
/// [`deadline`]. `probe` returns an `Option`, a `bool`, or a `Result` whose `Err` is what it
/// observed instead (shown when the wait fails).
///
/// # Panics
/// At the deadline, naming `what` and the last observation.
#[track_caller]
pub fn eventually<O, F, Fut>(what: &str, probe: F) -> impl Future<Output = O::Output>
where
    O: Observation,
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
{
    eventually_within(what, deadline(), probe)
}

/// As [`eventually`], with a bound the test asserts on purpose: `limit` is not scaled.
///
/// # Panics
/// After `limit`, naming `what` and the last observation.
#[track_caller]
pub fn eventually_within<O, F, Fut>(
    what: &str,
    limit: Duration,
    probe: F,
) -> impl Future<Output = O::Output>
where
    O: Observation,
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
{
    poll(what, limit, (FIRST_BACKOFF, MAX_BACKOFF), probe)
}

/// As [`eventually`], polling every `every` without backing off: for a state that lasts only a
/// moment (a rebuild caught partway), which a longer pause could miss.
///
/// # Panics
/// At the deadline, naming `what` and the last observation.
#[track_caller]
pub fn eventually_every<O, F, Fut>(
    what: &str,
    every: Duration,
    probe: F,
) -> impl Future<Output = O::Output>
where
    O: Observation,
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
{
    poll(what, deadline(), (every, every), probe)
}

#[track_caller]
fn poll<O, F, Fut>(
    what: &str,
    limit: Duration,
    (first_pause, max_pause): (Duration, Duration),
    mut probe: F,
) -> impl Future<Output = O::Output>
where
    O: Observation,
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
{
    let caller = std::panic::Location::caller();
    let what = what.to_owned();
    async move {
        let started = tokio::time::Instant::now();
        let mut pause = first_pause;
        loop {
            let observed = match probe().await.settle() {
                Ok(value) => return value,
                Err(observed) => observed,
            };
            let waited = started.elapsed();
            if waited >= limit {
                panic!(
                    "waited {waited:?} (limit {limit:?}) at {caller} for {what}; last observed: {observed}"
                );
            }
            tokio::time::sleep(pause.min(limit - waited)).await;
            pause = (pause * 2).min(max_pause);
        }
    }
}

/// As [`eventually`], for a condition read without awaiting (a flag, a log buffer, a file).
///
/// # Panics
/// At the deadline, naming `what` and the last observation.
#[track_caller]
pub fn eventually_sync<O, F>(what: &str, mut probe: F) -> impl Future<Output = O::Output>
where
    O: Observation,
    F: FnMut() -> O,
{
    eventually(what, move || std::future::ready(probe()))
}
