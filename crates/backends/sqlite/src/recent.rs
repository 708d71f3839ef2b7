//! The events this process appended last, kept in memory so that projections following the
//! head read them without a query. At the head every projection reads every new event; from
//! the file, each read is a query on a pooled connection, and each event's payload is checked
//! as JSON again, once per projection.
//!
//! The writer is the only one appending (the store's lock file keeps other processes out), so
//! the events it committed, in its order, are exactly the file's newest: it adds them before it
//! publishes the new head, and a reader finds here every event up to any head it has seen.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use projector_core::{GlobalPosition, RecordedEvent};

/// How many of the newest events are kept: several batches of a projection following the
/// head, a few megabytes.
pub(crate) const RECENT_EVENTS: usize = 16_384;

/// The newest events of the feed, consecutive in position.
#[derive(Debug)]
pub(crate) struct RecentEvents {
    events: Mutex<VecDeque<RecordedEvent>>,
    capacity: usize,
}

impl RecentEvents {
    /// Keeps up to `capacity` events.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            events: Mutex::new(VecDeque::with_capacity(capacity.min(1_024))),
            capacity: capacity.max(1),
        }
    }

    /// Adds events just committed, in feed order, dropping the oldest beyond the capacity.
    /// Events that would not follow the last one held (nothing should make that happen) start
    /// the window over, so a read never gets a gap.
    pub(crate) fn extend(&self, committed: impl IntoIterator<Item = RecordedEvent>) {
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

    /// Up to `limit` events after `after`, if the window holds them from the first on; `None`
    /// when they start before it (or nothing was appended yet), and the file must be read.
    pub(crate) fn read(&self, after: GlobalPosition, limit: usize) -> Option<Vec<RecordedEvent>> {
        let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let first = events.front()?.position.get();
        let skip = after.get().checked_add(1)?.checked_sub(first)?;
        let skip = usize::try_from(skip).ok()?;
        Some(events.iter().skip(skip).take(limit).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use projector_core::{EventMetadata, EventType, JsonPayload, StreamId, StreamVersion};
    use uuid::Uuid;

    use super::*;

    fn event(position: u64) -> RecordedEvent {
        RecordedEvent {
            event_id: Uuid::now_v7(),
            position: GlobalPosition::new(position),
            stream_id: StreamId::parse("order-1").expect("a stream"),
            stream_version: StreamVersion::new(position),
            event_type: EventType::from_static("Placed"),
            schema_version: 1,
            data: JsonPayload::from_json("{}").expect("json"),
            metadata: EventMetadata::default(),
            recorded_at: chrono::Utc::now(),
        }
    }

    fn positions(events: Option<Vec<RecordedEvent>>) -> Option<Vec<u64>> {
        events.map(|e| e.iter().map(|e| e.position.get()).collect())
    }

    #[test]
    fn reads_from_the_window_and_only_from_its_first_event_on() {
        let recent = RecentEvents::new(4);
        assert_eq!(positions(recent.read(GlobalPosition::ZERO, 10)), None);
        recent.extend((11..=16).map(event));
        // The two oldest went beyond the capacity.
        assert_eq!(
            positions(recent.read(GlobalPosition::new(12), 10)),
            Some(vec![13, 14, 15, 16])
        );
        assert_eq!(
            positions(recent.read(GlobalPosition::new(13), 2)),
            Some(vec![14, 15])
        );
        assert_eq!(
            positions(recent.read(GlobalPosition::new(16), 10)),
            Some(vec![])
        );
        assert_eq!(positions(recent.read(GlobalPosition::new(11), 10)), None);
        assert_eq!(positions(recent.read(GlobalPosition::ZERO, 10)), None);
    }

    #[test]
    fn a_gap_starts_the_window_over() {
        let recent = RecentEvents::new(8);
        recent.extend((1..=3).map(event));
        recent.extend([event(7)]);
        assert_eq!(
            positions(recent.read(GlobalPosition::new(6), 10)),
            Some(vec![7])
        );
        assert_eq!(positions(recent.read(GlobalPosition::new(3), 10)), None);
    }
}
