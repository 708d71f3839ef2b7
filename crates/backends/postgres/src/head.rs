//! The store's head watch, fed by the writer (its own commits) and the listener (every
//! process's, by notification or poll).
//!
//! The notification of this process's own commit reaches the listener about when the writer
//! learns the commit went through, often first. Published at once, it would wake projections
//! before the writer had kept the group's events in memory, and they would read them from the
//! database. So while the writer commits a group, a head the listener learns waits for the
//! commit to end, and the writer publishes the higher of the two after keeping its events.

use std::sync::{Mutex, PoisonError};

use projector_core::GlobalPosition;
use tokio::sync::watch;

/// Publishes heads, holding back the ones learned during a commit of this process's.
#[derive(Debug)]
pub(crate) struct HeadPublisher {
    watch: watch::Sender<GlobalPosition>,
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    /// Whether the writer is committing a group.
    committing: bool,
    /// The highest head learned meanwhile.
    learned: Option<GlobalPosition>,
}

impl HeadPublisher {
    /// Publishes into `watch`.
    pub(crate) fn new(watch: watch::Sender<GlobalPosition>) -> Self {
        Self {
            watch,
            held: Mutex::default(),
        }
    }

    /// The writer is about to commit a group.
    pub(crate) fn committing(&self) {
        self.lock().committing = true;
    }

    /// The writer's commit ended: `own` is its group's head if it committed (its events kept
    /// in memory by now). Publishes that, or a later head learned meanwhile.
    pub(crate) fn committed(&self, own: Option<GlobalPosition>) {
        let learned = {
            let mut held = self.lock();
            held.committing = false;
            held.learned.take()
        };
        if let Some(head) = own.max(learned) {
            self.publish(head);
        }
    }

    /// A head learned from the database (a notification or a poll): published at once, or
    /// when the writer's commit ends if one is under way.
    pub(crate) fn learned(&self, head: GlobalPosition) {
        {
            let mut held = self.lock();
            if held.committing {
                held.learned = held.learned.max(Some(head));
                return;
            }
        }
        self.publish(head);
    }

    /// Moves the head watch forward, never back: either source may learn of a later head first.
    fn publish(&self, position: GlobalPosition) {
        self.watch.send_if_modified(|current| {
            if position > *current {
                *current = position;
                true
            } else {
                false
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(position: u64) -> GlobalPosition {
        GlobalPosition::new(position)
    }

    #[test]
    fn a_head_learned_while_the_writer_commits_waits_for_its_commit() {
        let (sender, watch) = watch::channel(GlobalPosition::ZERO);
        let heads = HeadPublisher::new(sender);
        heads.learned(at(3));
        assert_eq!(
            *watch.borrow(),
            at(3),
            "published at once when no commit is under way"
        );

        heads.committing();
        heads.learned(at(5));
        assert_eq!(*watch.borrow(), at(3), "held back during the commit");
        heads.committed(Some(at(5)));
        assert_eq!(*watch.borrow(), at(5));

        // Another process's later head, learned during a commit that failed, is not lost.
        heads.committing();
        heads.learned(at(7));
        heads.committed(None);
        assert_eq!(*watch.borrow(), at(7));

        // Nor is one learned during a commit that ended lower.
        heads.committing();
        heads.learned(at(9));
        heads.committed(Some(at(8)));
        assert_eq!(*watch.borrow(), at(9));
    }

    #[test]
    fn the_head_never_moves_back() {
        let (sender, watch) = watch::channel(at(10));
        let heads = HeadPublisher::new(sender);
        heads.learned(at(4));
        heads.committing();
        heads.committed(Some(at(6)));
        assert_eq!(*watch.borrow(), at(10));
    }
}
