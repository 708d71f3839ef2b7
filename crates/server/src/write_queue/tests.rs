//! The limit's adjustments and the measured target, driven with made-up times.

use super::*;
use crate::config::TargetFloors;

const TARGET: Duration = Duration::from_millis(20);
const FIXED: Option<WriteLatencyTarget> = Some(WriteLatencyTarget::Fixed(TARGET));
const LOCAL: TargetFloors = TargetFloors::LOCAL;
const MEASURED: Option<WriteLatencyTarget> = Some(WriteLatencyTarget::Measured(LOCAL));

fn state(queue: &WriteQueue) -> std::sync::MutexGuard<'_, State> {
    lock(&queue.state)
}

/// `writes` writes that each took `took`, finishing over one whole window from `start`.
fn window(queue: &WriteQueue, start: Instant, writes: u32, took: Duration) -> Instant {
    let mut state = state(queue);
    for n in 1..=writes {
        state.waiting += 1;
        state.finished(took, start + WINDOW * n / writes, false);
    }
    start + WINDOW
}

#[test]
fn slow_writes_shrink_the_limit_by_a_quarter_a_window_down_to_the_floor() {
    let queue = WriteQueue::new(128, FIXED);
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
    let queue = WriteQueue::new(128, FIXED);
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
    let queue = WriteQueue::new(128, FIXED);
    let mut at = state(&queue).window.began;
    for _ in 0..5 {
        at = window(&queue, at, 10, TARGET * 2);
        at = window(&queue, at, 10, TARGET / 2);
    }
    assert_eq!(state(&queue).limit, 128);
}

#[test]
fn a_few_slow_writes_do_not_shrink_the_limit() {
    let queue = WriteQueue::new(128, FIXED);
    let mut at = state(&queue).window.began;
    for _ in 0..3 {
        at = window(&queue, at, MIN_SAMPLE - 1, TARGET * 10);
    }
    assert_eq!(state(&queue).limit, 128);
}

#[test]
fn writes_past_the_limit_are_turned_away_until_a_place_is_given_back() {
    let queue = WriteQueue::new(128, FIXED);
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

/// `writes` writes, each stored alone, that took `took`, from `at` on; returns when the
/// last ended.
fn alone(queue: &WriteQueue, at: Instant, writes: u32, took: Duration) -> Instant {
    let mut state = state(queue);
    let mut at = at;
    for _ in 0..writes {
        at += took;
        state.waiting += 1;
        state.finished(took, at, true);
    }
    at
}

#[test]
fn a_measured_target_is_the_floor_until_the_store_is_measured_slower() {
    let queue = WriteQueue::new(128, MEASURED);
    assert_eq!(state(&queue).target(), Some(LOCAL.taking));
    let at = alone(&queue, Instant::now(), 50, Duration::from_micros(500));
    assert_eq!(state(&queue).target(), Some(LOCAL.taking));
    // A disk that slows for good: the quick writes age out within two spans.
    let at = alone(&queue, at, 100, Duration::from_millis(10));
    let at = alone(&queue, at + OWN_TIME_SPAN, 10, Duration::from_millis(10));
    assert_eq!(state(&queue).target(), Some(LOCAL.taking), "not yet");
    alone(&queue, at + OWN_TIME_SPAN, 1, Duration::from_millis(10));
    assert_eq!(state(&queue).target(), Some(Duration::from_millis(40)));
}

#[test]
fn writes_alone_slowed_by_a_busy_cpu_do_not_raise_a_measured_target() {
    let queue = WriteQueue::new(128, MEASURED);
    let mut at = alone(&queue, Instant::now(), 20, Duration::from_millis(5));
    for _ in 0..20 {
        at = alone(&queue, at, 100, Duration::from_millis(30));
        at = alone(&queue, at, 1, Duration::from_millis(5));
    }
    assert_eq!(state(&queue).target(), Some(Duration::from_millis(20)));
}

#[test]
fn a_span_without_a_write_alone_keeps_the_store_s_time() {
    let queue = WriteQueue::new(128, MEASURED);
    let at = alone(&queue, Instant::now(), 10, Duration::from_millis(10));
    let at = alone(&queue, at + OWN_TIME_SPAN, 10, Duration::from_millis(10));
    alone(&queue, at + OWN_TIME_SPAN * 3, 1, Duration::from_millis(10));
    assert_eq!(state(&queue).target(), Some(Duration::from_millis(40)));
}

#[test]
fn a_slow_store_measured_keeps_its_places_at_a_mean_it_takes_in_its_stride() {
    let queue = WriteQueue::new(128, MEASURED);
    let mut at = alone(&queue, Instant::now(), 20, Duration::from_millis(10));
    for _ in 0..10 {
        at = window(&queue, at, 10, Duration::from_millis(25));
    }
    assert_eq!(state(&queue).limit, 128, "25 ms is within four times 10 ms");
    for _ in 0..3 {
        at = window(&queue, at, 10, Duration::from_millis(60));
    }
    assert!(state(&queue).limit < 128, "60 ms is past it");
}

#[test]
fn a_fast_store_measured_sheds_once_writes_queue_past_the_floor() {
    let queue = WriteQueue::new(128, MEASURED);
    let mut at = alone(&queue, Instant::now(), 20, Duration::from_micros(800));
    for _ in 0..3 {
        at = window(&queue, at, 10, LOCAL.taking - Duration::from_millis(1));
    }
    assert_eq!(state(&queue).limit, 128);
    for _ in 0..3 {
        at = window(&queue, at, 10, LOCAL.taking * 2);
    }
    assert!(state(&queue).limit < 128);
}

#[test]
fn while_writes_are_turned_away_a_measured_target_falls_to_the_lower_floor() {
    let queue = WriteQueue::new(2, MEASURED);
    let mut at = alone(&queue, Instant::now(), 20, Duration::from_micros(800));
    // `turned_away` writes turned away and two taken in a window.
    let mut window_shedding = |turned_away: u32| {
        let places = [queue.enter(), queue.enter()];
        for _ in 0..turned_away {
            assert!(matches!(queue.enter(), Err(ApiError::WritesQueued)));
        }
        drop(places);
        at = window(&queue, at + WINDOW, 10, Duration::from_millis(1));
        state(&queue).target()
    };
    assert_eq!(window_shedding(MIN_SAMPLE - 1), Some(LOCAL.taking), "a few");
    assert_eq!(window_shedding(MIN_SAMPLE), Some(LOCAL.taking), "a stall");
    assert_eq!(window_shedding(MIN_SAMPLE), Some(LOCAL.shedding));
    assert_eq!(window_shedding(MIN_SAMPLE), Some(LOCAL.shedding));
    assert_eq!(window_shedding(0), Some(LOCAL.taking));
}

#[test]
fn a_database_s_floor_holds_while_writes_are_turned_away() {
    let floors = TargetFloors::DATABASE;
    let queue = WriteQueue::new(2, Some(WriteLatencyTarget::Measured(floors)));
    let mut at = alone(&queue, Instant::now(), 20, Duration::from_millis(2));
    for _ in 0..3 {
        let places = [queue.enter(), queue.enter()];
        for _ in 0..MIN_SAMPLE {
            assert!(matches!(queue.enter(), Err(ApiError::WritesQueued)));
        }
        drop(places);
        at = window(&queue, at + WINDOW, 10, Duration::from_millis(1));
    }
    assert!(state(&queue).shedding);
    assert_eq!(state(&queue).target(), Some(floors.shedding));
    // A distant database's own time raises it past the floor, as a slow disk does.
    let distant = WriteQueue::new(2, Some(WriteLatencyTarget::Measured(floors)));
    alone(&distant, at, 20, Duration::from_millis(10));
    assert_eq!(state(&distant).target(), Some(Duration::from_millis(40)));
}

#[test]
fn writes_alone_while_writes_are_turned_away_do_not_measure_the_store() {
    let floors = TargetFloors::DATABASE;
    let queue = WriteQueue::new(128, Some(WriteLatencyTarget::Measured(floors)));
    let mut at = alone(&queue, Instant::now(), 20, Duration::from_millis(2));
    // Overload for spans on end: the rare write that finds none waiting is slowed by the CPU
    // the others hold.
    for _ in 0..10 {
        at += OWN_TIME_SPAN;
        let mut state = state(&queue);
        state.shedding = true;
        state.waiting += 1;
        state.finished(Duration::from_millis(16), at, true);
    }
    let mut state = state(&queue);
    assert_eq!(state.own_time.get(), Some(Duration::from_millis(2)));
    state.shedding = true;
    assert_eq!(state.target(), Some(floors.shedding));
}

#[test]
fn only_a_stored_write_alone_measures_the_store() {
    let queue = WriteQueue::new(128, MEASURED);
    alone(&queue, Instant::now(), 20, Duration::from_millis(10));
    queue.enter().expect("a place").release(false);
    assert_eq!(state(&queue).target(), Some(Duration::from_millis(40)));
    queue.enter().expect("a place").release(true);
    assert_eq!(state(&queue).target(), Some(LOCAL.taking));
}

#[test]
fn a_fixed_target_ignores_the_store_s_own_time() {
    let queue = WriteQueue::new(128, FIXED);
    alone(&queue, Instant::now(), 200, Duration::from_millis(100));
    assert_eq!(state(&queue).target(), Some(TARGET));
}

#[test]
fn a_slow_window_turning_writes_away_keeps_at_once_what_the_store_completes_within_the_target() {
    let queue = WriteQueue::new(256, FIXED);
    let at = state(&queue).window.began;
    {
        let mut state = state(&queue);
        state.arrived.taken = 100;
        state.arrived.shed = 100;
    }
    window(&queue, at, 100, TARGET * 2);
    // A hundred writes in a window of 100 ms: 1 000 a second, so 20 within 20 ms.
    assert_eq!(
        state(&queue).limit,
        20,
        "past capacity the places shrink in one window, not by a quarter after two"
    );
}

#[test]
fn a_slow_window_turning_few_writes_away_shrinks_the_limit_only_by_a_quarter() {
    let queue = WriteQueue::new(256, FIXED);
    let mut at = state(&queue).window.began;
    for expected in [256, 192] {
        state(&queue).arrived.taken = 100;
        state(&queue).arrived.shed = 5;
        at = window(&queue, at, 100, TARGET * 2);
        assert_eq!(state(&queue).limit, expected);
    }
}
