//! Reading the feed for one lane of a worker, one batch ahead.
//!
//! While a batch is applied, the next one is already being read, so on two cores reading and
//! applying overlap. A read ahead is started only after a full batch, when more is likely
//! waiting; at the head, reads happen on demand.

use std::sync::Arc;

use projector_core::{EventFeed, EventFilter, GlobalPosition, KeptRead, StoreError};
use tokio::task::JoinHandle;

type Read = JoinHandle<Result<KeptRead, StoreError>>;

/// The feed after a position, read in batches with one batch read ahead, each kept to the
/// events the projection takes.
pub(crate) struct Feed {
    feed: Arc<dyn EventFeed>,
    filter: Arc<EventFilter>,
    batch_size: usize,
    /// The position the next batch starts after.
    after: GlobalPosition,
    ahead: Option<Read>,
}

impl Feed {
    pub(crate) fn new(
        feed: Arc<dyn EventFeed>,
        filter: Arc<EventFilter>,
        after: GlobalPosition,
        batch_size: usize,
    ) -> Self {
        Self {
            feed,
            filter,
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

    /// The next batch; nothing read when the feed has nothing after the current position.
    pub(crate) async fn next(&mut self) -> Result<KeptRead, StoreError> {
        let batch = match self.ahead.take() {
            Some(read) => read.await.map_err(|e| StoreError::Unavailable {
                message: format!("reading ahead failed: {e}"),
                source: None,
            })??,
            None => {
                self.feed
                    .read_kept(self.after, self.batch_size, &self.filter)
                    .await?
            }
        };
        if let Some(through) = batch.through {
            self.after = through.position;
        }
        if batch.read == self.batch_size {
            let (feed, filter) = (Arc::clone(&self.feed), Arc::clone(&self.filter));
            let (after, limit) = (self.after, self.batch_size);
            self.ahead = Some(tokio::spawn(async move {
                feed.read_kept(after, limit, &filter).await
            }));
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
