//! The writes waiting for the event store, and when a new one is turned away instead.
//!
//! At most `limit` writes wait at once; past it, a write is answered 503 with `Retry-After` at
//! once, before anything is recorded. The limit adapts to how long writes take, as TCP's
//! window does to loss: at the end of each [`WINDOW`], if the writes that finished in it and
//! in the one before took longer than the target on average, the limit shrinks by a quarter
//! (to no fewer than [`MIN_LIMIT`]); after a quick window it grows back by an eighth, up to
//! `max_queued_writes`. One slow window alone, a stall of the store, leaves it be.
//!
//! A fixed count lets each write taken wait behind that many others however slowly they go:
//! past its capacity a saturated server takes a burst of writes each time places free, and
//! each of them waits for the CPU the others hold. Fewer at once keeps the writes taken quick,
//! and the rest are told at once to come back.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::ApiError;

/// How often the limit is adjusted.
const WINDOW: Duration = Duration::from_millis(100);
/// The limit never shrinks below this: enough writes for a group commit to pay.
const MIN_LIMIT: usize = 8;
/// The fewest writes finished in a window for their mean to shrink the limit.
const MIN_SAMPLE: u32 = 4;

/// The places for writes waiting for the event store.
#[derive(Debug)]
pub(crate) struct WriteQueue {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    /// Writes holding a place.
    waiting: usize,
    /// The places there are now.
    limit: usize,
    /// The most places there may be.
    max_limit: usize,
    /// The mean time a write may take before the limit shrinks; `None` keeps it fixed.
    target: Option<Duration>,
    /// The writes finished since the window began.
    window: Window,
    /// Whether the window before was slow.
    slow_before: bool,
}

#[derive(Debug)]
struct Window {
    began: Instant,
    took: Duration,
    writes: u32,
}

impl Window {
    fn beginning(at: Instant) -> Self {
        Self {
            began: at,
            took: Duration::ZERO,
            writes: 0,
        }
    }
}

impl State {
    /// Notes a write that took `took`, finishing at `now`, and adjusts the limit at the end of
    /// a window.
    fn finished(&mut self, took: Duration, now: Instant) {
        self.waiting = self.waiting.saturating_sub(1);
        let Some(target) = self.target else { return };
        self.window.took += took;
        self.window.writes += 1;
        if now.saturating_duration_since(self.window.began) < WINDOW {
            return;
        }
        let mean = self.window.took / self.window.writes;
        let limit = self.limit;
        if mean <= target {
            self.limit = (self.limit + (self.limit / 8).max(1)).min(self.max_limit);
            self.slow_before = false;
        } else if self.window.writes >= MIN_SAMPLE {
            if self.slow_before {
                self.limit = (self.limit - self.limit / 4).max(MIN_LIMIT.min(self.max_limit));
            }
            self.slow_before = true;
        }
        self.window = Window::beginning(now);
        if self.limit != limit {
            publish_limit(self.limit);
        }
    }
}

impl WriteQueue {
    /// At most `max_queued` writes waiting (at least one); with `target`, fewer while writes
    /// take longer than it on average.
    pub(crate) fn new(max_queued: usize, target: Option<Duration>) -> Self {
        let max_limit = max_queued.max(1);
        publish_limit(max_limit);
        Self {
            state: Arc::new(Mutex::new(State {
                waiting: 0,
                limit: max_limit,
                max_limit,
                target: target.filter(|t| !t.is_zero()),
                window: Window::beginning(Instant::now()),
                slow_before: false,
            })),
        }
    }

    /// A place for a write, held until the write ends, or [`ApiError::WritesQueued`] at once
    /// when every place is taken.
    pub(crate) fn enter(&self) -> Result<WritePlace, ApiError> {
        let mut state = lock(&self.state);
        if state.waiting >= state.limit {
            drop(state);
            metrics::counter!("http_writes_shed_total").increment(1);
            return Err(ApiError::WritesQueued);
        }
        state.waiting += 1;
        drop(state);
        metrics::gauge!("http_writes_queued").increment(1.0);
        Ok(WritePlace {
            state: Arc::clone(&self.state),
            entered: Instant::now(),
        })
    }
}

/// Shows the places there are now in the gauge `http_writes_queue_limit`.
fn publish_limit(limit: usize) {
    metrics::gauge!("http_writes_queue_limit").set(limit as f64);
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A write's place among those waiting for the event store; given back when dropped, which
/// also counts how long the write took.
#[derive(Debug)]
pub(crate) struct WritePlace {
    state: Arc<Mutex<State>>,
    entered: Instant,
}

impl Drop for WritePlace {
    fn drop(&mut self) {
        let now = Instant::now();
        lock(&self.state).finished(now.saturating_duration_since(self.entered), now);
        metrics::gauge!("http_writes_queued").decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: Duration = Duration::from_millis(20);

    fn state(queue: &WriteQueue) -> std::sync::MutexGuard<'_, State> {
        lock(&queue.state)
    }

    /// `writes` writes that each took `took`, finishing over one whole window from `start`.
    fn window(queue: &WriteQueue, start: Instant, writes: u32, took: Duration) -> Instant {
        let mut state = state(queue);
        for n in 1..=writes {
            state.waiting += 1;
            state.finished(took, start + WINDOW * n / writes);
        }
        start + WINDOW
    }

    #[test]
    fn slow_writes_shrink_the_limit_by_a_quarter_a_window_down_to_the_floor() {
        let queue = WriteQueue::new(128, Some(TARGET));
        let mut at = state(&queue).window.began;
        at = window(&queue, at, 10, TARGET * 2);
        assert_eq!(state(&queue).limit, 128, "one slow window is a stall");
        at = window(&queue, at, 10, TARGET * 2);
        assert_eq!(state(&queue).limit, 96);
        at = window(&queue, at, 10, TARGET * 2);
        assert_eq!(state(&queue).limit, 72);
        for _ in 0..20 {
            at = window(&queue, at, 10, TARGET * 2);
        }
        assert_eq!(state(&queue).limit, MIN_LIMIT);
    }

    #[test]
    fn quick_writes_grow_the_limit_back_up_to_the_most_allowed() {
        let queue = WriteQueue::new(128, Some(TARGET));
        let mut at = state(&queue).window.began;
        for _ in 0..3 {
            at = window(&queue, at, 10, TARGET * 3);
        }
        let shrunk = state(&queue).limit;
        at = window(&queue, at, 10, TARGET / 2);
        assert_eq!(state(&queue).limit, shrunk + shrunk / 8);
        for _ in 0..40 {
            at = window(&queue, at, 10, TARGET / 2);
        }
        assert_eq!(state(&queue).limit, 128);
    }

    #[test]
    fn slow_windows_apart_do_not_shrink_the_limit() {
        let queue = WriteQueue::new(128, Some(TARGET));
        let mut at = state(&queue).window.began;
        for _ in 0..5 {
            at = window(&queue, at, 10, TARGET * 2);
            at = window(&queue, at, 10, TARGET / 2);
        }
        assert_eq!(state(&queue).limit, 128);
    }

    #[test]
    fn a_few_slow_writes_do_not_shrink_the_limit() {
        let queue = WriteQueue::new(128, Some(TARGET));
        let mut at = state(&queue).window.began;
        for _ in 0..3 {
            at = window(&queue, at, MIN_SAMPLE - 1, TARGET * 10);
        }
        assert_eq!(state(&queue).limit, 128);
    }

    #[test]
    fn writes_past_the_limit_are_turned_away_until_a_place_is_given_back() {
        let queue = WriteQueue::new(128, Some(TARGET));
        let mut at = state(&queue).window.began;
        for _ in 0..30 {
            at = window(&queue, at, 10, TARGET * 2);
        }
        let places: Vec<_> = (0..MIN_LIMIT)
            .map(|_| queue.enter().expect("a place"))
            .collect();
        assert!(matches!(queue.enter(), Err(ApiError::WritesQueued)));
        drop(places);
        queue.enter().expect("the places given back");
    }

    #[test]
    fn without_a_target_the_limit_stays_the_most_allowed() {
        let queue = WriteQueue::new(2, None);
        let at = state(&queue).window.began;
        window(&queue, at, 10, Duration::from_secs(5));
        assert_eq!(state(&queue).limit, 2);
        let first = queue.enter().expect("a place");
        let _second = queue.enter().expect("a place");
        assert!(matches!(queue.enter(), Err(ApiError::WritesQueued)));
        drop(first);
        queue.enter().expect("the place given back");
    }
}
