//! The events a process appended last, kept in memory so that projections following the head
//! read them without a query. At the head every projection reads every new event; from the
//! database, each read is a query, and each event's payload is checked as JSON again, once per
//! projection.
//!
//! A backend adds the events each commit wrote, in feed order, before it publishes the new
//! head; a reader then finds here every event up to any head it learned from this process.
//! Where other processes append too, the window holds only a consecutive run of this one's
//! events, and a read it cannot answer whole (one reaching a head another process published)
//! goes to the database.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use crate::{EventFilter, GlobalPosition, KeptRead, RecordedEvent};

/// How many of the newest events a backend keeps: several batches of a projection following
/// the head, a few megabytes.
pub const RECENT_EVENTS: usize = 16_384;

/// The newest events of the feed, consecutive in position.
#[derive(Debug)]
pub struct RecentEvents {
    events: Mutex<VecDeque<RecordedEvent>>,
    capacity: usize,
}

impl RecentEvents {
    /// Keeps up to `capacity` events.
    pub fn new(capacity: usize) -> Self {
        Self {
            events: Mutex::new(VecDeque::with_capacity(capacity.min(1_024))),
            capacity: capacity.max(1),
        }
    }

    /// Adds events just committed, in feed order, dropping the oldest beyond the capacity.
    /// Events that would not follow the last one held (nothing should make that happen) start
    /// the window over, so a read never gets a gap.
    pub fn extend(&self, committed: impl IntoIterator<Item = RecordedEvent>) {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        for event in committed {
            if events
                .back()
                .is_some_and(|last| last.position.get() + 1 != event.position.get())
            {
                events.clear();
            }
            events.push_back(event);
        }
        let excess = events.len().saturating_sub(self.capacity);
        events.drain(..excess);
    }

    /// Up to `limit` events after `after`, if the window holds them from the first on and
    /// reaches `head` (the newest committed position the caller knows of) or fills `limit`;
    /// `None` when the database must be read: the events start before the window, or end
    /// where another process's events begin.
    pub fn read(
        &self,
        after: GlobalPosition,
        limit: usize,
        head: GlobalPosition,
    ) -> Option<Vec<RecordedEvent>> {
        self.read_kept(after, limit, head, &EventFilter::All)
            .map(|kept| kept.events)
    }

    /// As [`RecentEvents::read`], copying out only the events `filter` accepts.
    pub fn read_kept(
        &self,
        after: GlobalPosition,
        limit: usize,
        head: GlobalPosition,
        filter: &EventFilter,
    ) -> Option<KeptRead> {
        let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let first = events.front()?.position.get();
        let skip = after.get().checked_add(1)?.checked_sub(first)?;
        let skip = usize::try_from(skip).ok()?;
        let mut kept = KeptRead::default();
        for event in events.iter().skip(skip).take(limit) {
            kept.push(event, filter);
        }
        let end = kept.through.map_or(after, |through| through.position);
        (kept.read == limit || end >= head).then_some(kept)
    }
}

#[cfg(test)]
mod tests {
    use crate::{EventMetadata, EventType, JsonPayload, StreamId, StreamVersion};
    use uuid::Uuid;

    use super::*;

    fn event(position: u64) -> RecordedEvent {
        event_of(position, "Placed")
    }

    fn event_of(position: u64, event_type: &'static str) -> RecordedEvent {
        RecordedEvent {
            event_id: Uuid::now_v7(),
            position: GlobalPosition::new(position),
            stream_id: StreamId::parse("order-1").expect("a stream"),
            stream_version: StreamVersion::new(position),
            event_type: EventType::from_static(event_type),
            schema_version: 1,
            data: JsonPayload::from_json("{}").expect("json"),
            metadata: EventMetadata::default(),
            recorded_at: chrono::Utc::now(),
        }
    }

    /// A head the window reaches: no other process appended.
    const HEAD: GlobalPosition = GlobalPosition::ZERO;

    fn positions(events: Option<Vec<RecordedEvent>>) -> Option<Vec<u64>> {
        events.map(|e| e.iter().map(|e| e.position.get()).collect())
    }

    #[test]
    fn reads_from_the_window_and_only_from_its_first_event_on() {
        let recent = RecentEvents::new(4);
        assert_eq!(positions(recent.read(GlobalPosition::ZERO, 10, HEAD)), None);
        recent.extend((11..=16).map(event));
        // The two oldest went beyond the capacity.
        assert_eq!(
            positions(recent.read(GlobalPosition::new(12), 10, HEAD)),
            Some(vec![13, 14, 15, 16])
        );
        assert_eq!(
            positions(recent.read(GlobalPosition::new(13), 2, HEAD)),
            Some(vec![14, 15])
        );
        assert_eq!(
            positions(recent.read(GlobalPosition::new(16), 10, HEAD)),
            Some(vec![])
        );
        assert_eq!(
            positions(recent.read(GlobalPosition::new(11), 10, HEAD)),
            None
        );
        assert_eq!(positions(recent.read(GlobalPosition::ZERO, 10, HEAD)), None);
    }

    #[test]
    fn a_gap_starts_the_window_over() {
        let recent = RecentEvents::new(8);
        recent.extend((1..=3).map(event));
        recent.extend([event(7)]);
        assert_eq!(
            positions(recent.read(GlobalPosition::new(6), 10, HEAD)),
            Some(vec![7])
        );
        assert_eq!(
            positions(recent.read(GlobalPosition::new(3), 10, HEAD)),
            None
        );
    }

    #[test]
    fn a_read_short_of_a_head_beyond_the_window_goes_to_the_database() {
        let recent = RecentEvents::new(8);
        recent.extend((1..=3).map(event));
        // Another process appended 4 and 5: only a read the window fills whole is answered.
        let head = GlobalPosition::new(5);
        assert_eq!(
            positions(recent.read(GlobalPosition::new(1), 10, head)),
            None
        );
        assert_eq!(
            positions(recent.read(GlobalPosition::new(3), 10, head)),
            None
        );
        assert_eq!(
            positions(recent.read(GlobalPosition::new(1), 2, head)),
            Some(vec![2, 3])
        );
        assert_eq!(
            positions(recent.read(GlobalPosition::new(1), 10, GlobalPosition::new(3))),
            Some(vec![2, 3])
        );
    }

    #[test]
    fn a_kept_read_copies_what_the_filter_takes_and_tells_how_far_it_read() {
        let recent = RecentEvents::new(16);
        recent.extend((1..=6).map(|p| event_of(p, if p % 2 == 0 { "Placed" } else { "Shipped" })));
        let placed = EventFilter::types(&["Placed"]);

        let kept = recent
            .read_kept(GlobalPosition::new(2), 3, HEAD, &placed)
            .expect("the window holds them");
        assert_eq!(positions(Some(kept.events)), Some(vec![4]));
        assert_eq!(kept.read, 3);
        assert_eq!(kept.through.map(|c| c.position.get()), Some(5));
        assert!(kept.first_recorded_at.is_some());

        let none = recent
            .read_kept(GlobalPosition::new(4), 1, HEAD, &placed)
            .expect("the window holds it");
        assert!(none.events.is_empty(), "event 5 is not taken");
        assert_eq!(none.through.map(|c| c.position.get()), Some(5));

        let past = recent
            .read_kept(GlobalPosition::new(6), 10, HEAD, &placed)
            .expect("nothing after the head");
        assert_eq!((past.read, past.through), (0, None));
        // A read reaching past the window to another process's events goes to the database,
        // kept or not.
        assert!(
            recent
                .read_kept(GlobalPosition::new(2), 10, GlobalPosition::new(9), &placed)
                .is_none()
        );
    }
}
