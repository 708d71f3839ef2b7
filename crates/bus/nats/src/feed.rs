//! [`NatsFeed`]: the event feed read from the stream, for projectors that have no event store.
//!
//! A task follows the stream's end with an ordered consumer and keeps the latest events in
//! memory, so projectors that are caught up read from there, woken by the head watch as each
//! message arrives. A reader further back (a new node, a rebuild) reads the stream directly:
//! the sequence of its position is found by a binary search over the messages' position
//! headers, then a batch is fetched by a short-lived consumer from that sequence. Readers keep
//! their checkpoints in their own read models, so the stream needs no consumer of theirs to
//! remember them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use projector_core::{
    EventFeed, EventFilter, GlobalPosition, HeadWatch, Partition, RecordedEvent, StoreError,
};
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::cloudevent;
use crate::error::BusError;
use crate::partition_feed::PartitionFeed;
use crate::stream::{EventStream, PREVIOUS_HEADER, header_position};

/// How many of the latest events the feed keeps in memory.
const CACHED_EVENTS: usize = 50_000;
/// The most messages taken in before the head moves.
const BURST: usize = 1000;
/// How long a direct read waits for the messages it asked for.
const FETCH_WAIT: Duration = Duration::from_secs(5);

/// The latest events of the stream, contiguous: every event after `floor` up to the last one
/// followed, by stream sequence.
#[derive(Debug, Default)]
struct Window {
    events: VecDeque<(u64, RecordedEvent)>,
    /// The position of the message before the first kept one: readers at or past it are served
    /// from the window.
    floor: GlobalPosition,
    /// The stream sequence the window starts at (the next one to follow when it is empty).
    start: u64,
    /// Readers' positions further back and the sequence of the next message after each, from
    /// earlier direct reads, so a reader going on needs no search.
    resume: HashMap<u64, u64>,
}

impl Window {
    fn next_sequence(&self) -> u64 {
        self.events.back().map_or(self.start, |(seq, _)| seq + 1)
    }

    fn push(&mut self, sequence: u64, event: RecordedEvent) {
        self.events.push_back((sequence, event));
        if self.events.len() > CACHED_EVENTS
            && let Some((seq, evicted)) = self.events.pop_front()
        {
            self.floor = evicted.position;
            self.start = seq + 1;
        }
    }

    /// Up to `limit` events after `after`, if the window holds the next ones (it holds
    /// everything after its floor that it has followed so far).
    fn read(&self, after: GlobalPosition, limit: usize) -> Option<Vec<RecordedEvent>> {
        if after < self.floor {
            return None;
        }
        let from = self.events.partition_point(|(_, e)| e.position <= after);
        if from == self.events.len() {
            return None;
        }
        Some(
            self.events
                .iter()
                .skip(from)
                .take(limit)
                .map(|(_, e)| e.clone())
                .collect(),
        )
    }
}

/// The feed of the stream `stream`.
pub struct NatsFeed {
    stream: EventStream,
    window: Arc<Mutex<Window>>,
    head: watch::Sender<GlobalPosition>,
    _follower: DropGuard,
}

impl std::fmt::Debug for NatsFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsFeed")
            .field("stream", &self.stream.settings().stream)
            .field("head", &*self.head.borrow())
            .finish_non_exhaustive()
    }
}

impl NatsFeed {
    /// Opens the feed of `stream` and starts following its end.
    ///
    /// # Errors
    /// [`BusError::Unavailable`] when the stream cannot be read.
    pub async fn open(stream: EventStream) -> Result<Self, BusError> {
        let (first, last) = stream.bounds().await?;
        let mut window = Window::default();
        let mut head = GlobalPosition::ZERO;
        if last == 0 || first > last {
            window.start = last + 1;
        } else {
            let start = first.max((last + 1).saturating_sub(CACHED_EVENTS as u64 / 2));
            window.start = start;
            window.floor = stream.positions_at(start).await?.1;
            head = stream.positions_at(last).await?.0;
        }
        let window = Arc::new(Mutex::new(window));
        let head = watch::Sender::new(head);
        let stop = CancellationToken::new();
        tokio::spawn(follow(
            stream.clone(),
            Arc::clone(&window),
            head.clone(),
            stop.clone(),
        ));
        Ok(Self {
            stream,
            window,
            head,
            _follower: stop.drop_guard(),
        })
    }

    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the stream itself from the first message after `after`, up to `limit` events.
    async fn read_back(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, BusError> {
        let (first, last) = self.stream.bounds().await?;
        if last == 0 || first > last {
            return Ok(Vec::new());
        }
        self.stream.check_holds_after(after, first).await?;
        let end = last;
        let remembered = self.window().resume.get(&after.get()).copied();
        let start = match remembered {
            Some(sequence) => sequence,
            None => self.stream.sequence_after(after, first, end).await?,
        };
        if start > end {
            return Ok(Vec::new());
        }
        let wanted = (end - start + 1).min(limit as u64) as usize;
        let events = self.fetch(start, wanted).await?;
        if let Some((sequence, event)) = events.last() {
            let mut window = self.window();
            if window.resume.len() > 1024 {
                window.resume.clear();
            }
            window.resume.insert(event.position.get(), sequence + 1);
        }
        Ok(events.into_iter().map(|(_, e)| e).collect())
    }

    /// `count` messages from `start`, by a consumer made for the read.
    async fn fetch(&self, start: u64, count: usize) -> Result<Vec<(u64, RecordedEvent)>, BusError> {
        let consumer = self
            .stream
            .stream
            .create_consumer(pull::Config {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
                ack_policy: AckPolicy::None,
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .map_err(|e| BusError::Unavailable(format!("reading from sequence {start}: {e}")))?;
        let mut batch = consumer
            .batch()
            .max_messages(count)
            .expires(FETCH_WAIT)
            .messages()
            .await
            .map_err(|e| BusError::Unavailable(format!("reading from sequence {start}: {e}")))?;
        let mut events = Vec::with_capacity(count);
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| {
                BusError::Unavailable(format!("reading from sequence {start}: {e}"))
            })?;
            let sequence = message
                .info()
                .map_err(|e| BusError::Decode(format!("a message without its sequence: {e}")))?
                .stream_sequence;
            events.push((sequence, cloudevent::decode(&message.payload)?));
            if events.len() == count {
                break;
            }
        }
        if let Some(name) = consumer.cached_info().config.name.clone() {
            // Gone after its inactive threshold anyway; deleting it now is tidier.
            let _ = self.stream.stream.delete_consumer(&name).await;
        }
        Ok(events)
    }
}

#[async_trait]
impl EventFeed for NatsFeed {
    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let limit = limit.max(1);
        if let Some(events) = self.window().read(after, limit) {
            return Ok(events);
        }
        if after >= *self.head.borrow() {
            return Ok(Vec::new());
        }
        // Behind the window, or ahead of what it has followed yet: from the stream itself.
        Ok(self.read_back(after, limit).await?)
    }

    async fn head(&self) -> Result<GlobalPosition, StoreError> {
        Ok(*self.head.borrow())
    }

    fn watch_head(&self) -> HeadWatch {
        self.head.subscribe()
    }

    /// The partition's share from the broker's subjects for it (see [`PartitionFeed`]).
    fn partition_feed(
        &self,
        partition: Partition,
        spanning: &EventFilter,
    ) -> Option<Arc<dyn EventFeed>> {
        let feed = PartitionFeed::new(
            self.stream.clone(),
            partition,
            spanning,
            self.head.subscribe(),
        )?;
        Some(Arc::new(feed))
    }
}

/// Follows the stream's end into `window` until `stop`, moving `head` with each message; a
/// failure is retried from the next sequence after a pause.
async fn follow(
    stream: EventStream,
    window: Arc<Mutex<Window>>,
    head: watch::Sender<GlobalPosition>,
    stop: CancellationToken,
) {
    let lock = || window.lock().unwrap_or_else(PoisonError::into_inner);
    let mut pause = Duration::from_millis(50);
    while !stop.is_cancelled() {
        let start = lock().next_sequence();
        let followed = tokio::select! {
            () = stop.cancelled() => return,
            result = follow_from(&stream, start, &window, &head) => result,
        };
        if let Err(error) = followed {
            tracing::warn!(%error, retry_in_ms = pause.as_millis() as u64,
                "following the event stream failed; trying again");
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(5));
        } else {
            pause = Duration::from_millis(50);
        }
    }
}

async fn follow_from(
    stream: &EventStream,
    start: u64,
    window: &Mutex<Window>,
    head: &watch::Sender<GlobalPosition>,
) -> Result<(), BusError> {
    let consumer = stream
        .stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start.max(1),
            },
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::Unavailable(format!("following from sequence {start}: {e}")))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| BusError::Unavailable(format!("following from sequence {start}: {e}")))?;
    while let Some(first) = messages.next().await {
        // Everything already received goes in before the head moves, so projectors wake once
        // per burst (the relay publishes commit by commit) rather than once per event, and
        // apply it as one batch.
        let mut position = None;
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(message) = next {
            if let Some(at) = take(message, window)? {
                position = Some(at);
            }
            taken += 1;
            next = match taken < BURST {
                true => messages.next().now_or_never().flatten(),
                false => None,
            };
        }
        if let Some(position) = position {
            head.send_if_modified(|h| {
                let moved = position > *h;
                if moved {
                    *h = position;
                }
                moved
            });
        }
    }
    Err(BusError::Unavailable("the stream's consumer ended".into()))
}

/// Adds a followed message to `window`; its event's position, or `None` for a message the
/// window already holds (a resumed consumer delivers from where it was asked).
fn take(
    message: Result<jetstream::Message, pull::OrderedError>,
    window: &Mutex<Window>,
) -> Result<Option<GlobalPosition>, BusError> {
    let message =
        message.map_err(|e| BusError::Unavailable(format!("following the stream: {e}")))?;
    let sequence = message
        .info()
        .map_err(|e| BusError::Decode(format!("a message without its sequence: {e}")))?
        .stream_sequence;
    let event = cloudevent::decode(&message.payload)?;
    let position = event.position;
    let mut window = window.lock().unwrap_or_else(PoisonError::into_inner);
    if sequence != window.next_sequence() {
        if sequence < window.next_sequence() {
            return Ok(None);
        }
        if window.events.is_empty() {
            window.start = sequence;
            window.floor = message
                .headers
                .as_ref()
                .map_or(Ok(GlobalPosition::ZERO), |h| {
                    header_position(h, PREVIOUS_HEADER)
                })?;
        } else {
            return Err(BusError::Decode(format!(
                "sequence {sequence} after {}: a gap in the stream",
                window.next_sequence() - 1
            )));
        }
    }
    window.push(sequence, event);
    Ok(Some(position))
}
