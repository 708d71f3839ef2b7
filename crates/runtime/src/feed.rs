//! Reading the feed for one lane of a worker, one batch ahead.
//!
//! While a batch is applied, the next one is already being read, so on two cores reading and
//! applying overlap. A read ahead is started only after a full batch, when more is likely
//! waiting; at the head, reads happen on demand.

use std::sync::Arc;

use projector_core::{EventFeed, GlobalPosition, RecordedEvent, StoreError};
use tokio::task::JoinHandle;

type Read = JoinHandle<Result<Vec<RecordedEvent>, StoreError>>;

/// The feed after a position, read in batches with one batch read ahead.
pub(crate) struct Feed {
    feed: Arc<dyn EventFeed>,
    batch_size: usize,
    /// The position the next batch starts after.
    after: GlobalPosition,
    ahead: Option<Read>,
}

impl Feed {
    pub(crate) fn new(feed: Arc<dyn EventFeed>, after: GlobalPosition, batch_size: usize) -> Self {
        Self {
            feed,
            batch_size: batch_size.max(1),
            after,
            ahead: None,
        }
    }

    /// Starts over after `position`, dropping any batch read ahead (after a failed apply).
    pub(crate) fn reset(&mut self, position: GlobalPosition) {
        if let Some(read) = self.ahead.take() {
            read.abort();
        }
        self.after = position;
    }

    /// The next batch; empty when the feed has nothing after the current position.
    pub(crate) async fn next(&mut self) -> Result<Vec<RecordedEvent>, StoreError> {
        let batch = match self.ahead.take() {
            Some(read) => read.await.map_err(|e| StoreError::Unavailable {
                message: format!("reading ahead failed: {e}"),
                source: None,
            })??,
            None => self.feed.read_all(self.after, self.batch_size).await?,
        };
        if let Some(last) = batch.last() {
            self.after = last.position;
        }
        if batch.len() == self.batch_size {
            let feed = Arc::clone(&self.feed);
            let (after, limit) = (self.after, self.batch_size);
            self.ahead = Some(tokio::spawn(
                async move { feed.read_all(after, limit).await },
            ));
        }
        Ok(batch)
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Some(read) = self.ahead.take() {
            read.abort();
        }
    }
}
