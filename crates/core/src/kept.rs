//! A read of the feed kept to the events one projection takes.
//!
//! A projection is given only the events its filter accepts, but moves its checkpoint past
//! every event read. At the head each projection reads every new event; one that takes few of
//! them need not copy the others out of the feed only to drop them.

use chrono::{DateTime, Utc};

use crate::event::RecordedEvent;
use crate::projection::EventFilter;
use crate::read_model::Checkpoint;

/// The events a filter accepts of one read of the feed, and how far the read went.
#[derive(Clone, Debug, Default)]
pub struct KeptRead {
    /// The events the filter accepts, in position order.
    pub events: Vec<RecordedEvent>,
    /// How many events were read, kept or not.
    pub read: usize,
    /// When the first event read was recorded.
    pub first_recorded_at: Option<DateTime<Utc>>,
    /// The checkpoint after the last event read; `None` when nothing was read.
    pub through: Option<Checkpoint>,
}

impl KeptRead {
    /// Adds `event`, read next, keeping a copy if `filter` accepts it.
    pub fn push(&mut self, event: &RecordedEvent, filter: &EventFilter) {
        self.note(event);
        if filter.accepts(event) {
            self.events.push(event.clone());
        }
    }

    /// The events of `read` that `filter` accepts.
    pub fn keep(read: Vec<RecordedEvent>, filter: &EventFilter) -> Self {
        let mut kept = Self {
            events: Vec::with_capacity(read.len()),
            ..Self::default()
        };
        for event in read {
            kept.note(&event);
            if filter.accepts(&event) {
                kept.events.push(event);
            }
        }
        kept
    }

    fn note(&mut self, event: &RecordedEvent) {
        if self.read == 0 {
            self.first_recorded_at = Some(event.recorded_at);
        }
        self.read += 1;
        self.through = Some(Checkpoint::after(event));
    }
}
