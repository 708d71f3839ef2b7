//! A lane: one generation a worker writes, with its own checkpoint and feed. A worker has the
//! serving lane, and during a rebuild the building lane beside it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use projector_core::{Checkpoint, EventFeed, EventFilter, Generation, GlobalPosition, ServingAt};

use crate::feed::Feed;

/// How long a serving lane may keep a position it reached by passing events its projection
/// ignores before writing it: the read store's checkpoint trails the lane by at most this.
pub(crate) const PASSED_WRITE_EVERY: Duration = Duration::from_secs(1);

/// A generation being written: its checkpoint and its feed.
pub(crate) struct Lane {
    pub(crate) generation: Generation,
    /// The checkpoint the read store holds for the generation.
    pub(crate) checkpoint: Checkpoint,
    /// A position past `checkpoint` reached through events the projection ignores, not yet
    /// written: the read model is the same at both, so reads are answered at this one while
    /// the store is spared a commit per batch that changes nothing.
    pub(crate) passed: Option<Checkpoint>,
    /// When the lane last wrote its checkpoint.
    pub(crate) written_at: Instant,
    pub(crate) feed: Feed,
    /// Why the lane applies nothing although the feed is ahead, if it does not.
    pub(crate) halt: Option<Halt>,
    /// When the next batch may be applied, once the last batch reached the head and the batch
    /// interval is not zero.
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
        filter: Arc<EventFilter>,
        generation: Generation,
        checkpoint: Checkpoint,
        batch_size: usize,
    ) -> Self {
        Self {
            generation,
            checkpoint,
            passed: None,
            written_at: Instant::now(),
            feed: Feed::new(feed, filter, checkpoint.position, batch_size),
            halt: None,
            next_batch_at: None,
        }
    }

    /// Where the lane is: past every event up to here, written or not.
    pub(crate) fn position(&self) -> Checkpoint {
        self.passed.unwrap_or(self.checkpoint)
    }

    pub(crate) fn has_work(&self, head: GlobalPosition) -> bool {
        self.halt.is_none() && self.position().position < head
    }

    /// Reads the feed again from where the lane is.
    pub(crate) fn rewind(&mut self) {
        self.feed.reset(self.position().position);
    }

    /// Takes `checkpoint` as the one the read store holds; a position passed beyond it stays.
    pub(crate) fn written(&mut self, checkpoint: Checkpoint) {
        self.checkpoint = checkpoint;
        self.written_at = Instant::now();
        if self
            .passed
            .is_some_and(|passed| passed.position <= checkpoint.position)
        {
            self.passed = None;
        }
    }

    /// Whether the lane wrote its checkpoint less than [`PASSED_WRITE_EVERY`] ago.
    pub(crate) fn wrote_lately(&self) -> bool {
        self.written_at.elapsed() < PASSED_WRITE_EVERY
    }

    /// Whether a position passed is due to be written.
    pub(crate) fn passed_due(&self) -> bool {
        self.passed.is_some() && !self.wrote_lately()
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
