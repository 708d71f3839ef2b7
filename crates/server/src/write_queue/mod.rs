//! The writes waiting for the event store, and when a new one is turned away instead.
//!
//! At most `limit` writes wait at once; past it, a write is answered 503 with `Retry-After` at
//! once, before anything is recorded. The limit adapts to how long writes take, as TCP's
//! window does to loss: at the end of each [`WINDOW`], if the writes that finished in it and
//! in the one before took longer than the target on average, the limit shrinks by a quarter
//! (to no fewer than [`MIN_LIMIT`]); after a quick window it grows back by an eighth, up to
//! `max_queued_writes`. One slow window alone, a stall of the store, leaves it be; but a slow
//! window in which a good share of writes were turned away ([`SHEDDING_PERCENT`]) is the
//! server past its capacity, and the limit falls at once to the writes the store completes
//! within the target at that window's pace (Little's law). Shrinking by a quarter a window
//! from a full queue took about a second, and the writes taken meanwhile waited behind it.
//!
//! The target is fixed, or by default measured: [`MEASURED_TIMES`] the store's own write time,
//! and at least its floor while a good share of writes ([`SHEDDING_PERCENT`]) were turned away
//! in each of the last two windows, or its floor for taking every write while not (see
//! [`TargetFloors`](crate::config::TargetFloors)). A server
//! turning writes away has no burst to absorb, since the excess is refused anyway, so the writes
//! it takes had better be quick, and few in flight; one taking every write keeps room for a
//! burst at its capacity. The store's own time is the quickest of the writes stored that found
//! no other waiting over the last [`OWN_TIME_SPAN`] or two: the quickest, not a mean, since on
//! a saturated CPU even a write alone waits for the scheduler, and a mean would let the target
//! climb with the very overload it is there to shed. A store that syncs each commit in a
//! fraction of a millisecond gets the floors; one whose disk takes 10 ms to sync gets 40 ms, so
//! its places do not shrink at a load it takes in its stride.
//!
//! A fixed count lets each write taken wait behind that many others however slowly they go:
//! past its capacity a saturated server takes a burst of writes each time places free, and
//! each of them waits for the CPU the others hold. Fewer at once keeps the writes taken quick,
//! and the rest are told at once to come back.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::WriteLatencyTarget;
use crate::error::ApiError;

/// How often the limit is adjusted.
const WINDOW: Duration = Duration::from_millis(100);
/// The limit never shrinks below this: enough writes for a group commit to pay.
const MIN_LIMIT: usize = 8;
/// The fewest writes finished in a window for their mean to shrink the limit.
const MIN_SAMPLE: u32 = 4;
/// A measured target is this many times the store's own write time: a write in a group commit
/// waits for the commit before its own, and a little queueing is the price of full batches.
const MEASURED_TIMES: u32 = 4;
/// The share of writes turned away in a window, in percent, from which the server counts as
/// turning writes away.
const SHEDDING_PERCENT: u32 = 10;
/// How long the quickest write alone is kept as the store's own time: a disk that slows for
/// good raises the target within two spans.
const OWN_TIME_SPAN: Duration = Duration::from_secs(5);

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
    target: Option<WriteLatencyTarget>,
    /// The store's own write time, as the writes that found none waiting took.
    own_time: OwnTime,
    /// The writes finished since the window began.
    window: Window,
    /// Whether the window before was slow.
    slow_before: bool,
    /// The writes taken and turned away since the window began.
    arrived: Arrivals,
    /// Whether a good share of the writes were turned away in the window before.
    shed_before: bool,
    /// Whether they were in the last two windows: the server is past its capacity, not caught
    /// by one stall.
    shedding: bool,
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

/// The writes that arrived in a window: taken, or turned away.
#[derive(Debug, Default)]
struct Arrivals {
    taken: u32,
    shed: u32,
}

impl Arrivals {
    /// Whether a good share of them were turned away, not a few caught by a burst.
    fn shedding(&self) -> bool {
        let (shed, taken) = (u64::from(self.shed), u64::from(self.taken));
        self.shed >= MIN_SAMPLE && shed * 100 >= (taken + shed) * u64::from(SHEDDING_PERCENT)
    }
}

/// The quickest write alone in the current span and in the one before.
#[derive(Debug, Default)]
struct OwnTime {
    current: Option<Duration>,
    before: Option<Duration>,
    began: Option<Instant>,
}

impl OwnTime {
    fn note(&mut self, took: Duration, now: Instant) {
        let began = *self.began.get_or_insert(now);
        if now.saturating_duration_since(began) >= OWN_TIME_SPAN {
            // A span without a write alone keeps the one before: no news is not a faster store.
            if self.current.is_some() {
                self.before = self.current.take();
            }
            self.began = Some(now);
        }
        self.current = Some(self.current.map_or(took, |quickest| quickest.min(took)));
    }

    fn get(&self) -> Option<Duration> {
        self.current.into_iter().chain(self.before).min()
    }
}

impl State {
    /// Notes a write that took `took`, finishing at `now` (`alone` if it was stored and found
    /// none waiting), and adjusts the limit at the end of a window.
    fn finished(&mut self, took: Duration, now: Instant, alone: bool) {
        self.waiting = self.waiting.saturating_sub(1);
        // Past its capacity even a write alone waits for the CPU the others hold: noted then,
        // it would raise the target with the very overload the target is there to shed.
        if alone && !self.shedding {
            self.own_time.note(took, now);
        }
        let Some(target) = self.target() else { return };
        self.window.took += took;
        self.window.writes += 1;
        if now.saturating_duration_since(self.window.began) < WINDOW {
            return;
        }
        let mean = self.window.took / self.window.writes;
        let limit = self.limit;
        let shed = std::mem::take(&mut self.arrived).shedding();
        let floor = MIN_LIMIT.min(self.max_limit);
        if mean <= target {
            self.limit = (self.limit + (self.limit / 8).max(1)).min(self.max_limit);
            self.slow_before = false;
        } else if self.window.writes >= MIN_SAMPLE {
            if shed {
                self.limit = self
                    .limit
                    .min(self.completed_within(target, now))
                    .max(floor);
            } else if self.slow_before {
                self.limit = (self.limit - self.limit / 4).max(floor);
            }
            self.slow_before = true;
        }
        self.window = Window::beginning(now);
        self.shedding = shed && self.shed_before;
        self.shed_before = shed;
        if self.limit != limit {
            publish_limit(self.limit);
        }
        self.publish_target();
    }

    /// How many writes the store completes within `target` at the pace of the window so far
    /// (Little's law): as many places as a server past its capacity should keep.
    fn completed_within(&self, target: Duration, now: Instant) -> usize {
        let elapsed = now.saturating_duration_since(self.window.began);
        let completes = f64::from(self.window.writes) * target.as_secs_f64()
            / elapsed.as_secs_f64().max(f64::EPSILON);
        completes.ceil() as usize
    }

    /// Shows the target in use, and what a measured one follows: the store's own write time
    /// and whether writes are being turned away.
    fn publish_target(&self) {
        let Some(target) = self.target() else { return };
        metrics::gauge!("http_writes_latency_target_seconds").set(target.as_secs_f64());
        if let Some(own) = self.own_time.get() {
            metrics::gauge!("http_writes_store_time_seconds").set(own.as_secs_f64());
        }
        metrics::gauge!("http_writes_shedding").set(if self.shedding { 1.0 } else { 0.0 });
    }

    /// The mean write time past which the limit shrinks, if it adapts.
    fn target(&self) -> Option<Duration> {
        match self.target? {
            WriteLatencyTarget::Fixed(target) => Some(target),
            WriteLatencyTarget::Measured(floors) => {
                let floor = if self.shedding {
                    floors.shedding
                } else {
                    floors.taking
                };
                Some(
                    self.own_time
                        .get()
                        .map_or(floor, |own| own * MEASURED_TIMES)
                        .max(floor),
                )
            }
        }
    }
}

impl WriteQueue {
    /// At most `max_queued` writes waiting (at least one); with `target`, fewer while writes
    /// take longer than it on average.
    pub(crate) fn new(max_queued: usize, target: Option<WriteLatencyTarget>) -> Self {
        let max_limit = max_queued.max(1);
        publish_limit(max_limit);
        Self {
            state: Arc::new(Mutex::new(State {
                waiting: 0,
                limit: max_limit,
                max_limit,
                target: target.filter(|t| *t != WriteLatencyTarget::Fixed(Duration::ZERO)),
                own_time: OwnTime::default(),
                window: Window::beginning(Instant::now()),
                slow_before: false,
                arrived: Arrivals::default(),
                shed_before: false,
                shedding: false,
            })),
        }
    }

    /// A place for a write, held until the write ends, or [`ApiError::WritesQueued`] at once
    /// when every place is taken.
    pub(crate) fn enter(&self) -> Result<WritePlace, ApiError> {
        let mut state = lock(&self.state);
        if state.waiting >= state.limit {
            state.arrived.shed = state.arrived.shed.saturating_add(1);
            drop(state);
            metrics::counter!("http_writes_shed_total").increment(1);
            return Err(ApiError::WritesQueued);
        }
        let alone = state.waiting == 0;
        state.waiting += 1;
        state.arrived.taken = state.arrived.taken.saturating_add(1);
        drop(state);
        metrics::gauge!("http_writes_queued").increment(1.0);
        Ok(WritePlace {
            state: Arc::clone(&self.state),
            entered: Instant::now(),
            alone,
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
    /// Whether it found no other write waiting: its time, if it is stored, is then the store's
    /// own.
    alone: bool,
}

impl WritePlace {
    /// Gives the place back once the write has ended, `stored` or not: only a stored write's
    /// time says how long the store takes.
    pub(crate) fn release(mut self, stored: bool) {
        self.alone &= stored;
    }
}

impl Drop for WritePlace {
    fn drop(&mut self) {
        let now = Instant::now();
        let took = now.saturating_duration_since(self.entered);
        lock(&self.state).finished(took, now, self.alone);
        metrics::gauge!("http_writes_queued").decrement(1.0);
    }
}

#[cfg(test)]
mod tests;
