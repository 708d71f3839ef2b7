//! A catch-up subscription to the global feed: reads history in batches from a position, then
//! follows new commits as they happen, woken by the store rather than polling it.

use std::sync::Arc;

use crate::error::StoreError;
use crate::event::RecordedEvent;
use crate::position::GlobalPosition;
use crate::store::{EventFeed, HeadWatch};

/// Follows the feed from a position: first the history, then live commits.
///
/// It pulls at its own pace; appenders only bump a watch value, so a slow subscriber never
/// blocks them.
pub struct Subscription {
    feed: Arc<dyn EventFeed>,
    head: HeadWatch,
    after: GlobalPosition,
    batch_size: usize,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("after", &self.after)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Subscribes to events with positions above `after`, delivered in batches of at most
    /// `batch_size` (at least 1).
    pub fn new(feed: Arc<dyn EventFeed>, after: GlobalPosition, batch_size: usize) -> Self {
        let head = feed.watch_head();
        Self {
            feed,
            head,
            after,
            batch_size: batch_size.max(1),
        }
    }

    /// The position of the last event delivered (or the starting position).
    pub fn position(&self) -> GlobalPosition {
        self.after
    }

    /// The next batch, waiting for new commits when the feed has been read to its head.
    ///
    /// # Errors
    /// The store's error on a failed read, or [`StoreError::Closed`] once the store has shut
    /// down. After an error the subscription resumes from the last delivered position.
    pub async fn next_batch(&mut self) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut reread = false;
        loop {
            let batch = self.feed.read_all(self.after, self.batch_size).await?;
            if let Some(last) = batch.last() {
                self.after = last.position;
                return Ok(batch);
            }
            let after = self.after;
            let head = *self.head.borrow_and_update();
            if head <= after {
                // The watch holds the latest head, so a commit after the read above is not
                // lost: `wait_for` checks the current value first.
                self.head
                    .wait_for(|head| *head > after)
                    .await
                    .map_err(|_| StoreError::Closed)?;
            } else if !reread {
                // Commits landed between the read and now: read again before waiting.
                reread = true;
            } else {
                // Still nothing readable although the head is ahead (a backend may announce a
                // position before it is visible): wait for the head to move again.
                reread = false;
                self.head.changed().await.map_err(|_| StoreError::Closed)?;
            }
        }
    }
}
