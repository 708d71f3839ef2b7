//! The event store traits: [`EventFeed`] for the global feed (all a projector needs, and what a
//! broker can provide as well as the event store), [`StreamReader`] for single streams (what
//! deciders need), [`EventAppender`] for guarded atomic appends; [`EventReader`] joins the two
//! read sides and [`EventStore`] all three.
//!
//! Backends implement these over their own storage and all pass the conformance suite in
//! `projector-testkit`; everything typed (deciders, projections) is written once against them.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::StoreError;
use crate::event::{NewEvent, RecordedEvent};
use crate::ids::StreamId;
use crate::kept::KeptRead;
use crate::partition::Partition;
use crate::position::{ExpectedVersion, GlobalPosition, StreamVersion};
use crate::projection::EventFilter;

/// The most events one append may carry; larger appends are refused as invalid.
pub const MAX_EVENTS_PER_APPEND: usize = 10_000;

/// Direction of a stream read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadDirection {
    /// Oldest first, from the given version upwards.
    Forwards,
    /// Newest first, from the given version downwards.
    Backwards,
}

/// What an append recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    /// The stream's version after the append: the version of its last new event.
    pub stream_version: StreamVersion,
    /// Global position of the first event appended.
    pub first_position: GlobalPosition,
    /// Global position of the last event appended; a read that waits for this position sees
    /// the whole append.
    pub last_position: GlobalPosition,
}

impl AppendOutcome {
    /// `events`, appended to `stream` with this outcome at `recorded_at`, as the feed will
    /// read them back: for code that acts on an append inside its own commit.
    pub fn recorded(
        &self,
        stream: &StreamId,
        events: &[NewEvent],
        recorded_at: DateTime<Utc>,
    ) -> Vec<RecordedEvent> {
        let first_version = self.stream_version.get() + 1 - events.len() as u64;
        events
            .iter()
            .enumerate()
            .map(|(i, event)| RecordedEvent {
                event_id: event.event_id,
                position: GlobalPosition::new(self.first_position.get() + i as u64),
                stream_id: stream.clone(),
                stream_version: StreamVersion::new(first_version + i as u64),
                event_type: event.event_type.clone(),
                schema_version: event.schema_version,
                data: event.data.clone(),
                metadata: event.metadata.clone(),
                recorded_at,
            })
            .collect()
    }
}

/// Each append of a group commit, given as its stream and events beside its outcome, as the
/// feed will read it back (none for an append refused): for a backend that acts on the
/// group's events inside its commit or right after it.
pub fn recorded_appends<'a>(
    appends: impl IntoIterator<Item = (&'a StreamId, &'a [NewEvent])>,
    outcomes: &[Result<AppendOutcome, StoreError>],
    recorded_at: DateTime<Utc>,
) -> Vec<Vec<RecordedEvent>> {
    appends
        .into_iter()
        .zip(outcomes)
        .map(|((stream, events), outcome)| match outcome {
            Err(_) => Vec::new(),
            Ok(outcome) => outcome.recorded(stream, events, recorded_at),
        })
        .collect()
}

/// Receives the head of the feed each time it moves: the highest position that
/// [`EventFeed::read_all`] can return. It keeps only the latest value, so a slow reader never
/// holds up an appender.
pub type HeadWatch = watch::Receiver<GlobalPosition>;

/// The global feed: every event in position order, its head, and a wake-up when it moves.
///
/// All a projector needs. The event store is one feed; a broker stream that carries each
/// event's global position is another.
#[async_trait]
pub trait EventFeed: Send + Sync {
    /// Reads up to `limit` events of the global feed with positions above `after`, in position
    /// order. A reader that has passed a position never later finds an event below it.
    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Reads as [`EventFeed::read_all`] does, keeping the events `filter` accepts: what a
    /// projection is given of the read. A feed holding its newest events in memory copies
    /// only those.
    async fn read_kept(
        &self,
        after: GlobalPosition,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<KeptRead, StoreError> {
        Ok(KeptRead::keep(self.read_all(after, limit).await?, filter))
    }

    /// The position of the last event readable through [`EventFeed::read_all`].
    async fn head(&self) -> Result<GlobalPosition, StoreError>;

    /// A watch of the head, woken on every commit.
    fn watch_head(&self) -> HeadWatch;

    /// The position of the last event recorded before `at` (zero if none): where a read
    /// model that needs only the events from `at` on starts. Positions are in commit order,
    /// so the default searches them by halves, reading one event at a time.
    ///
    /// # Errors
    /// The store's error reading the feed.
    async fn position_before(&self, at: DateTime<Utc>) -> Result<GlobalPosition, StoreError> {
        // The smallest `after` whose next event is at or after `at` (or is missing).
        let (mut low, mut high) = (0, self.head().await?.get());
        while low < high {
            let middle = low + (high - low) / 2;
            let next = self.read_all(GlobalPosition::new(middle), 1).await?;
            match next.first() {
                Some(event) if event.recorded_at < at => low = event.position.get(),
                _ => high = middle,
            }
        }
        Ok(GlobalPosition::new(low))
    }

    /// A feed of `partition`'s share of this one, for a feed that can hand it out without the
    /// rest (a broker with a subject per partition): the events of the partition's streams
    /// and those `spanning` takes, in position order, each read ending with the last event
    /// looked at so the partition's checkpoint passes the others' events. `None`, the
    /// default, when it cannot; the projector then picks the partition's events itself.
    fn partition_feed(
        &self,
        partition: Partition,
        spanning: &EventFilter,
    ) -> Option<Arc<dyn EventFeed>> {
        let _ = (partition, spanning);
        None
    }
}

/// Reads single streams: what deciders and audit histories need.
#[async_trait]
pub trait StreamReader: Send + Sync {
    /// Reads up to `limit` events of `stream`, starting at version `from` (inclusive) and going in
    /// `direction`. Reading backwards from [`StreamVersion::LATEST`] starts at the newest event.
    /// A stream that does not exist reads as empty.
    async fn read_stream(
        &self,
        stream: &StreamId,
        from: StreamVersion,
        direction: ReadDirection,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The current version of `stream` ([`StreamVersion::NONE`] if it does not exist).
    async fn stream_version(&self, stream: &StreamId) -> Result<StreamVersion, StoreError>;
}

/// The read side of an event store: the feed and single streams; implemented for every type
/// that is both.
pub trait EventReader: EventFeed + StreamReader {}

impl<T: EventFeed + StreamReader + ?Sized> EventReader for T {}

/// Appends events to streams.
#[async_trait]
pub trait EventAppender: Send + Sync {
    /// Appends `events` to `stream` atomically, if the stream's version satisfies `expected`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] naming the actual version when `expected` does not hold;
    /// [`StoreError::InvalidRequest`] for an empty append or one over
    /// [`MAX_EVENTS_PER_APPEND`]. In every error case nothing is written.
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError>;
}

/// A store that both reads and appends; implemented for every type that does both.
pub trait EventStore: EventReader + EventAppender {}

impl<T: EventReader + EventAppender + ?Sized> EventStore for T {}

/// Checks the parts of an append every backend refuses the same way.
pub fn validate_append(events: &[NewEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Err(StoreError::InvalidRequest(
            "an append needs at least one event".into(),
        ));
    }
    if events.len() > MAX_EVENTS_PER_APPEND {
        return Err(StoreError::InvalidRequest(format!(
            "an append carries at most {MAX_EVENTS_PER_APPEND} events, not {}",
            events.len()
        )));
    }
    Ok(())
}

#[async_trait]
impl<T: EventFeed + ?Sized> EventFeed for Arc<T> {
    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        (**self).read_all(after, limit).await
    }

    async fn read_kept(
        &self,
        after: GlobalPosition,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<KeptRead, StoreError> {
        (**self).read_kept(after, limit, filter).await
    }

    async fn head(&self) -> Result<GlobalPosition, StoreError> {
        (**self).head().await
    }

    fn watch_head(&self) -> HeadWatch {
        (**self).watch_head()
    }

    async fn position_before(&self, at: DateTime<Utc>) -> Result<GlobalPosition, StoreError> {
        (**self).position_before(at).await
    }

    fn partition_feed(
        &self,
        partition: Partition,
        spanning: &EventFilter,
    ) -> Option<Arc<dyn EventFeed>> {
        (**self).partition_feed(partition, spanning)
    }
}

#[async_trait]
impl<T: StreamReader + ?Sized> StreamReader for Arc<T> {
    async fn read_stream(
        &self,
        stream: &StreamId,
        from: StreamVersion,
        direction: ReadDirection,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        (**self).read_stream(stream, from, direction, limit).await
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<StreamVersion, StoreError> {
        (**self).stream_version(stream).await
    }
}

#[async_trait]
impl<T: EventAppender + ?Sized> EventAppender for Arc<T> {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        (**self).append(stream, expected, events).await
    }
}
