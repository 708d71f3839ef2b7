//! A lane: one generation a worker writes, with its own checkpoint and feed. A worker has the
//! serving lane, and during a rebuild the building lane beside it.

use std::sync::Arc;

use projector_core::{Checkpoint, EventReader, Generation, GlobalPosition};

use crate::feed::Feed;

/// A generation being written: its checkpoint and its feed.
pub(crate) struct Lane {
    pub(crate) generation: Generation,
    pub(crate) checkpoint: Checkpoint,
    pub(crate) feed: Feed,
    /// Set when the lane stopped at a poison event: its position and error.
    pub(crate) stopped: Option<(GlobalPosition, String)>,
}

impl Lane {
    pub(crate) fn new(
        reader: Arc<dyn EventReader>,
        generation: Generation,
        checkpoint: Checkpoint,
        batch_size: usize,
    ) -> Self {
        Self {
            generation,
            checkpoint,
            feed: Feed::new(reader, checkpoint.position, batch_size),
            stopped: None,
        }
    }

    pub(crate) fn has_work(&self, head: GlobalPosition) -> bool {
        self.stopped.is_none() && self.checkpoint.position < head
    }
}

/// Which lane a step works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LaneKind {
    Serving,
    Building,
}
