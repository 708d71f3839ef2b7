//! Waiting for the writer's answer to an append.
//!
//! An append with no other in flight is answered within one commit, often a fraction of a
//! millisecond. If its task sleeps meanwhile, the worker thread under it parks, its core goes
//! idle, and the writer's answer has to wake that core again: 30 to 110 µs on a virtual
//! machine, a quarter of a commit that syncs to disk. A caller appending in a loop pays that
//! on every append, so its appends poll for their answers first, yielding to the executor's
//! other tasks between polls, for up to twice as long as its last append took, and sleep only
//! after that. An append is taken for part of such a loop when it is alone and follows the last
//! lone answer within [`BACK_TO_BACK`]. Any other sleeps at once: one among others in flight
//! waits for a group to commit first, one arriving on its own (a server's occasional write)
//! would spend on polling the CPU its neighbours need, and where lone appends take longer than
//! [`MOST_POLLING`] (a slow disk) the wake is a small part of the wait.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// The longest a lone append polls for its answer before sleeping.
const MOST_POLLING: Duration = Duration::from_millis(1);
/// A lone append this soon after the last lone answer comes from a caller appending in a loop.
const BACK_TO_BACK: Duration = Duration::from_micros(100);

/// The appends in flight, and when and how quickly the last lone one was answered.
#[derive(Debug)]
pub(crate) struct AnswerWait {
    in_flight: AtomicUsize,
    /// What the times below count from.
    epoch: Instant,
    /// Microseconds from `epoch` to the last lone answer; 0 before the first.
    answered_at: AtomicU64,
    /// Microseconds the last lone append took.
    took: AtomicU64,
}

impl Default for AnswerWait {
    fn default() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            epoch: Instant::now(),
            answered_at: AtomicU64::new(0),
            took: AtomicU64::new(0),
        }
    }
}

impl AnswerWait {
    /// Counts an append in flight until the returned wait is dropped.
    pub(crate) fn enter(&self) -> InFlight<'_> {
        let alone = self.in_flight.fetch_add(1, Ordering::AcqRel) == 0;
        let began = Instant::now();
        let polling = if alone {
            self.polling(began)
        } else {
            Duration::ZERO
        };
        InFlight {
            wait: self,
            alone,
            began,
            poll_until: began + polling,
        }
    }

    /// How long a lone append beginning at `now` polls: twice as long as the last one took if
    /// it follows that one's answer back to back and that was quick, else not at all.
    fn polling(&self, now: Instant) -> Duration {
        let answered_at = self.answered_at.load(Ordering::Relaxed);
        let since = self.micros(now).saturating_sub(answered_at);
        let took = Duration::from_micros(self.took.load(Ordering::Relaxed));
        if answered_at == 0 || Duration::from_micros(since) > BACK_TO_BACK || took > MOST_POLLING {
            Duration::ZERO
        } else {
            (took * 2).min(MOST_POLLING)
        }
    }

    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }
}

/// One append in flight.
pub(crate) struct InFlight<'w> {
    wait: &'w AnswerWait,
    alone: bool,
    began: Instant,
    poll_until: Instant,
}

impl InFlight<'_> {
    /// Whether this append is alone and follows a quick lone answer back to back: part of a
    /// caller's loop, which may as well commit on its own thread.
    pub(crate) fn back_to_back(&self) -> bool {
        self.poll_until > self.began
    }

    /// The writer's answer, or `None` if the writer went away without one.
    pub(crate) async fn answer<T>(self, mut answer: oneshot::Receiver<T>) -> Option<T> {
        while Instant::now() < self.poll_until {
            match answer.try_recv() {
                Ok(answered) => return Some(self.answered(answered)),
                Err(oneshot::error::TryRecvError::Closed) => return None,
                Err(oneshot::error::TryRecvError::Empty) => tokio::task::yield_now().await,
            }
        }
        let answered = answer.await.ok()?;
        Some(self.answered(answered))
    }

    /// Notes when a lone append was answered and how long it took, which decide whether and
    /// how long the next one polls.
    fn answered<T>(&self, answered: T) -> T {
        if self.alone {
            let now = Instant::now();
            let took = now.saturating_duration_since(self.began);
            let took = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
            self.wait.took.store(took, Ordering::Relaxed);
            self.wait
                .answered_at
                .store(self.wait.micros(now).max(1), Ordering::Relaxed);
        }
        answered
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.wait.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wait whose last lone append took `took` and was answered `ago` before now.
    fn after_lone(took: Duration, ago: Duration) -> (AnswerWait, Instant) {
        let wait = AnswerWait::default();
        let now = wait.epoch + Duration::from_secs(1);
        let answered = wait.micros(now - ago);
        wait.answered_at.store(answered, Ordering::Relaxed);
        let took = u64::try_from(took.as_micros()).expect("small");
        wait.took.store(took, Ordering::Relaxed);
        (wait, now)
    }

    #[test]
    fn a_lone_append_back_to_back_polls_twice_as_long_as_the_last_took() {
        let (wait, now) = after_lone(Duration::from_micros(150), Duration::from_micros(20));
        assert_eq!(wait.polling(now), Duration::from_micros(300));
        let (wait, now) = after_lone(Duration::from_micros(900), Duration::from_micros(20));
        assert_eq!(wait.polling(now), MOST_POLLING, "at most");
    }

    #[test]
    fn an_append_on_its_own_after_a_slow_one_or_the_first_does_not_poll() {
        let (wait, now) = after_lone(Duration::from_micros(150), BACK_TO_BACK * 2);
        assert_eq!(wait.polling(now), Duration::ZERO, "not back to back");
        let (wait, now) = after_lone(MOST_POLLING * 2, Duration::from_micros(20));
        assert_eq!(wait.polling(now), Duration::ZERO, "a slow disk");
        let wait = AnswerWait::default();
        assert_eq!(wait.polling(Instant::now()), Duration::ZERO, "the first");
    }

    #[test]
    fn an_append_among_others_does_not_poll() {
        let (wait, _) = after_lone(Duration::from_micros(150), Duration::ZERO);
        let first = wait.enter();
        assert!(first.alone);
        let second = wait.enter();
        assert!(!second.alone);
        assert_eq!(second.poll_until, second.began);
        drop((first, second));
        assert_eq!(wait.in_flight.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn an_answer_is_taken_while_polling_or_sleeping_and_noted_if_alone() {
        let wait = AnswerWait::default();
        let (reply, answer) = oneshot::channel();
        let answering = std::thread::spawn(move || reply.send(7));
        assert_eq!(wait.enter().answer(answer).await, Some(7));
        answering.join().expect("thread").expect("sent");
        assert_ne!(wait.answered_at.load(Ordering::Relaxed), 0);

        // One polling (for longer than any machine takes to answer) is answered while it
        // polls.
        let began = Instant::now();
        wait.in_flight.fetch_add(1, Ordering::AcqRel);
        let polling = InFlight {
            wait: &wait,
            alone: true,
            began,
            poll_until: began + Duration::from_secs(60),
        };
        let (reply, answer) = oneshot::channel();
        let answering = std::thread::spawn(move || reply.send(8));
        assert_eq!(polling.answer(answer).await, Some(8));
        answering.join().expect("thread").expect("sent");

        // A writer gone without an answer.
        let (reply, answer) = oneshot::channel::<u8>();
        drop(reply);
        assert_eq!(wait.enter().answer(answer).await, None);
        assert_eq!(wait.in_flight.load(Ordering::Relaxed), 0);
    }
}
