//! A lane: one generation a worker writes, with its own checkpoint and feed. A worker has the
//! serving lane, and during a rebuild the building lane beside it.

use std::sync::Arc;

use projector_core::{Checkpoint, EventFeed, Generation, GlobalPosition, ServingAt};

use crate::feed::Feed;

/// A generation being written: its checkpoint and its feed.
pub(crate) struct Lane {
    pub(crate) generation: Generation,
    pub(crate) checkpoint: Checkpoint,
    pub(crate) feed: Feed,
    /// Why the lane applies nothing although the feed is ahead, if it does not.
    pub(crate) halt: Option<Halt>,
    /// When the next batch may be applied, for a target with a batch interval that applied
    /// its last batch at the head.
    pub(crate) next_batch_at: Option<tokio::time::Instant>,
}

/// Why a lane applies nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Halt {
    /// It stopped at a poison event (policy `stop`) until resumed: its position and error.
    Poison {
        position: GlobalPosition,
        error: String,
    },
    /// Another version of the projection built it: this worker's code cannot apply events
    /// to its tables. It serves reads until this version's generation replaces it.
    OtherVersion { version: u32 },
    /// Its checkpoint is past the head of the event store (the event store lost commits, or
    /// was restored from an older copy): applying new events, which reuse those positions,
    /// would skip them. Only a rebuild mends it.
    Ahead { head: GlobalPosition },
}

impl Lane {
    pub(crate) fn new(
        feed: Arc<dyn EventFeed>,
        generation: Generation,
        checkpoint: Checkpoint,
        batch_size: usize,
    ) -> Self {
        Self {
            generation,
            checkpoint,
            feed: Feed::new(feed, checkpoint.position, batch_size),
            halt: None,
            next_batch_at: None,
        }
    }

    pub(crate) fn has_work(&self, head: GlobalPosition) -> bool {
        self.halt.is_none() && self.checkpoint.position < head
    }

    /// The generation and checkpoint as this lane last saw them, to fence a swap.
    pub(crate) fn seen(&self) -> ServingAt {
        ServingAt {
            generation: self.generation,
            checkpoint: self.checkpoint.position,
        }
    }
}

/// The generations a worker writes.
pub(crate) struct Lanes {
    /// The generation serving reads.
    pub(crate) serving: Lane,
    /// A generation being built beside it, swapped in once caught up.
    pub(crate) building: Option<Lane>,
}

/// Which lane a step works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LaneKind {
    Serving,
    Building,
}
