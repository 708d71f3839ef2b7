//! A read node: a server whose read models are kept from the event feed on a broker, with no
//! event store of its own. [`ReadNodeStore`] stands in for the event store and its idempotency
//! keys (the feed is the broker's; a stream's history, appends and keys are refused), and
//! its [`Gate`] answers every write route before it runs.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::Request;
use axum::http::Method;
use chrono::{DateTime, Utc};
use projector_core::{
    AppendOutcome, CausationId, Claim, EventAppender, EventFeed, EventFilter, ExpectedVersion,
    GlobalPosition, HeadWatch, IdempotencyStore, NewEvent, Partition, ReadDirection, RecordedEvent,
    StoreError, StoredResponse, StreamId, StreamReader, StreamVersion,
};

use crate::error::ApiError;
use crate::gate::Gate;

/// Where a read node sends writers: the writer's address when it was given.
#[derive(Clone, Debug, Default)]
pub struct ReadNode {
    /// The base URL of the server that writes the event store, to name in refusals.
    pub writer: Option<String>,
}

impl ReadNode {
    /// Where writes go, as a refusal says it.
    fn writes_go(&self) -> String {
        match &self.writer {
            Some(url) => format!("send writes to the writer at {url}"),
            None => {
                "send writes to the server that writes the event store (one started without --from)"
                    .to_owned()
            }
        }
    }

    /// The refusal of a write.
    pub(crate) fn refusal(&self) -> ApiError {
        ApiError::ReadNode(format!(
            "this server is a read node: it serves reads from read models kept from the event feed, and takes no writes; {}",
            self.writes_go()
        ))
    }

    /// The refusal of a stream's history, which only the event store keeps.
    fn history_refusal(&self) -> ApiError {
        ApiError::ReadNode(format!(
            "this server is a read node: a stream's history is read from the event store, which it does not have; {}",
            self.writes_go().replacen("send writes", "read it", 1)
        ))
    }
}

/// Answers a write (any method but `GET`, `HEAD` and `OPTIONS` on `/api`), and a read of a
/// stream's history, with the read node's refusal before any handler runs.
impl Gate for Arc<ReadNode> {
    type Pass = ();

    fn check(&self, request: &Request) -> Result<(), ApiError> {
        let path = request.uri().path();
        let api = path.starts_with("/api/");
        let reads = matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        );
        if api && !reads {
            return Err(self.refusal());
        }
        if api && path.ends_with("/history") && path.starts_with("/api/orders/") {
            return Err(self.history_refusal());
        }
        Ok(())
    }
}

/// The event store of a read node: the feed from the broker, and nothing else.
pub struct ReadNodeStore {
    feed: Arc<dyn EventFeed>,
}

impl std::fmt::Debug for ReadNodeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadNodeStore").finish_non_exhaustive()
    }
}

impl ReadNodeStore {
    /// The store over `feed`.
    pub fn new(feed: Arc<dyn EventFeed>) -> Self {
        Self { feed }
    }

    fn no_event_store() -> StoreError {
        StoreError::InvalidRequest(
            "a read node has no event store: it keeps read models from the event feed only".into(),
        )
    }
}

#[async_trait]
impl EventFeed for ReadNodeStore {
    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.feed.read_all(after, limit).await
    }

    async fn head(&self) -> Result<GlobalPosition, StoreError> {
        self.feed.head().await
    }

    fn watch_head(&self) -> HeadWatch {
        self.feed.watch_head()
    }

    async fn position_before(&self, at: DateTime<Utc>) -> Result<GlobalPosition, StoreError> {
        self.feed.position_before(at).await
    }

    fn partition_feed(
        &self,
        partition: Partition,
        spanning: &EventFilter,
    ) -> Option<Arc<dyn EventFeed>> {
        self.feed.partition_feed(partition, spanning)
    }
}

#[async_trait]
impl StreamReader for ReadNodeStore {
    async fn read_stream(
        &self,
        _stream: &StreamId,
        _from: StreamVersion,
        _direction: ReadDirection,
        _limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        Err(Self::no_event_store())
    }

    async fn stream_version(&self, _stream: &StreamId) -> Result<StreamVersion, StoreError> {
        Err(Self::no_event_store())
    }
}

#[async_trait]
impl EventAppender for ReadNodeStore {
    async fn append(
        &self,
        _stream: &StreamId,
        _expected: ExpectedVersion,
        _events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        Err(Self::no_event_store())
    }
}

/// A read node keeps no idempotency keys: it takes no writes ([`refuse_writes`] answers them
/// before any key is claimed).
#[async_trait]
impl IdempotencyStore for ReadNodeStore {
    async fn claim(
        &self,
        _key: &str,
        _fingerprint: &str,
        _command_id: &CausationId,
        _abandoned_after: std::time::Duration,
    ) -> Result<Claim, StoreError> {
        Err(Self::no_event_store())
    }

    async fn complete(
        &self,
        _key: &str,
        _command_id: &CausationId,
        _response: &StoredResponse,
    ) -> Result<(), StoreError> {
        Err(Self::no_event_store())
    }

    async fn release(&self, _key: &str, _command_id: &CausationId) -> Result<(), StoreError> {
        Err(Self::no_event_store())
    }
}
