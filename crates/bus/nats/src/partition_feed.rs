//! [`PartitionFeed`]: one partition's share of the stream, read from the broker's subjects for
//! that partition rather than picked out of the whole feed.
//!
//! Three kinds of consumer, all ordered and reading from the same stream sequence:
//! - the **clock**: every message, headers only (subject and position, no body), so the feed
//!   knows the order of the whole stream and how far it has looked, at little cost;
//! - the partition's **own** subject (see [`EventStream::partition_subject`]): the bodies of
//!   its streams' events;
//! - one per **spanning** subject: the bodies of events every partition applies.
//!
//! The clock says which message comes next and whose it is, so the bodies are taken from the
//! consumer that holds it and the merged read keeps the stream's order exactly, with no
//! guessing about what a consumer has yet to deliver. A read that ends on another partition's
//! event fetches that one event's body, so the partition's checkpoint passes it. A message
//! published before subjects carried partition bits is fetched directly too.

use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_trait::async_trait;
use futures::StreamExt;
use projector_core::{
    EventFeed, EventFilter, GlobalPosition, HeadWatch, Partition, RecordedEvent, StoreError,
};
use tokio::sync::Mutex;

use crate::cloudevent;
use crate::error::BusError;
use crate::stream::{EventStream, POSITION_HEADER, header_position, subject_matches};

/// The most spanning subjects a partition follows with consumers of their own; a projection
/// spanning more reads the whole feed instead.
const MAX_SPANNING_SUBJECTS: usize = 8;
/// The most messages one read looks at: a partition with few events of its own gets a short
/// batch rather than running far ahead of the head it was asked to reach.
const MOST_LOOKED: usize = 10_000;
/// How long a read waits for a message the stream is known to hold.
const DELIVERY_WAIT: Duration = Duration::from_secs(10);

/// Whose a message of the stream is, by its subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Share {
    /// The partition's own (its bits match).
    Own,
    /// Another partition's, but every partition applies it: the spanning consumer at this
    /// index holds its body.
    Spanning(usize),
    /// Published without partition bits: its body is fetched directly.
    Unsplit,
    /// Another partition's alone.
    Other,
}

/// The feed of one partition, reading its share of the stream from the broker.
pub struct PartitionFeed {
    stream: EventStream,
    partition: Partition,
    /// The events every partition applies.
    spans: EventFilter,
    own: String,
    spanning: Vec<String>,
    head: HeadWatch,
    cursor: Mutex<Option<Cursor>>,
}

impl std::fmt::Debug for PartitionFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionFeed")
            .field("own", &self.own)
            .field("spanning", &self.spanning)
            .finish_non_exhaustive()
    }
}

/// The consumers of a read in progress, positioned just after `after`.
struct Cursor {
    after: GlobalPosition,
    clock: pull::Ordered,
    own: pull::Ordered,
    spanning: Vec<pull::Ordered>,
}

impl PartitionFeed {
    /// The feed of `partition` of `stream`, taking also the events `spanning` names; `head`
    /// is the stream's head as the node follows it. `None` when the broker cannot hand the
    /// partition its share: a count that is not a power of two, or a projection spanning the
    /// whole feed or too many subjects.
    pub fn new(
        stream: EventStream,
        partition: Partition,
        spanning: &EventFilter,
        head: HeadWatch,
    ) -> Option<Self> {
        let own = stream.partition_subject(partition)?;
        let subjects = stream.filter_subjects(spanning)?;
        if subjects.len() > MAX_SPANNING_SUBJECTS {
            return None;
        }
        Some(Self {
            stream,
            partition,
            spans: spanning.clone(),
            own,
            spanning: subjects,
            head,
            cursor: Mutex::new(None),
        })
    }

    /// The subject this partition's own events are read from.
    pub fn own_subject(&self) -> &str {
        &self.own
    }

    fn share(&self, subject: &str) -> Share {
        if !self.stream.has_partition_bits(subject) {
            Share::Unsplit
        } else if subject_matches(&self.own, subject) {
            Share::Own
        } else if let Some(index) = self
            .spanning
            .iter()
            .position(|s| subject_matches(s, subject))
        {
            Share::Spanning(index)
        } else {
            Share::Other
        }
    }

    /// Consumers reading from the first message after `after`.
    async fn open(&self, after: GlobalPosition) -> Result<Cursor, BusError> {
        let (first, last) = self.stream.bounds().await?;
        let start = if last == 0 || first > last {
            last + 1
        } else {
            self.stream.check_holds_after(after, first).await?;
            self.stream.sequence_after(after, first, last).await?
        };
        let clock = self.follow(start, String::new(), true).await?;
        let own = self.follow(start, self.own.clone(), false).await?;
        let mut spanning = Vec::with_capacity(self.spanning.len());
        for subject in &self.spanning {
            spanning.push(self.follow(start, subject.clone(), false).await?);
        }
        Ok(Cursor {
            after,
            clock,
            own,
            spanning,
        })
    }

    /// An ordered consumer of `subject` (every subject when empty) from sequence `start`.
    async fn follow(
        &self,
        start: u64,
        subject: String,
        headers_only: bool,
    ) -> Result<pull::Ordered, BusError> {
        let unavailable =
            |e: &dyn std::fmt::Display| BusError::Unavailable(format!("following {subject}: {e}"));
        self.stream
            .stream
            .create_consumer(pull::OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: start.max(1),
                },
                filter_subject: subject.clone(),
                headers_only,
                ..Default::default()
            })
            .await
            .map_err(|e| unavailable(&e))?
            .messages()
            .await
            .map_err(|e| unavailable(&e))
    }

    /// Reads on from `cursor` up to `limit` events of the partition, looking no further than
    /// `head`.
    async fn read_on(
        &self,
        cursor: &mut Cursor,
        limit: usize,
        head: GlobalPosition,
    ) -> Result<Vec<RecordedEvent>, BusError> {
        let mut events = Vec::new();
        // The last message looked at when it is another partition's: its sequence, and its
        // event where it had to be fetched to tell.
        let mut passed: Option<(u64, Option<RecordedEvent>)> = None;
        let mut looked = 0;
        while events.len() < limit && looked < MOST_LOOKED && cursor.after < head {
            let (sequence, subject, position) = next_header(&mut cursor.clock).await?;
            passed = None;
            match self.share(&subject) {
                Share::Own => events.push(body_at(&mut cursor.own, sequence).await?),
                Share::Spanning(index) => {
                    events.push(body_at(&mut cursor.spanning[index], sequence).await?);
                }
                Share::Unsplit => {
                    let event = self.fetch(sequence).await?;
                    if self.partition.takes(&event, self.spans.accepts(&event)) {
                        events.push(event);
                    } else {
                        passed = Some((sequence, Some(event)));
                    }
                }
                Share::Other => passed = Some((sequence, None)),
            }
            cursor.after = position;
            looked += 1;
        }
        // The loop stops on a full batch only after keeping an event, so there is room.
        match passed {
            Some((_, Some(event))) => events.push(event),
            Some((sequence, None)) => events.push(self.fetch(sequence).await?),
            None => {}
        }
        Ok(events)
    }

    /// The event at `sequence`, fetched by itself.
    async fn fetch(&self, sequence: u64) -> Result<RecordedEvent, BusError> {
        let message = self
            .stream
            .stream
            .get_raw_message(sequence)
            .await
            .map_err(|e| BusError::Unavailable(format!("reading message {sequence}: {e}")))?;
        cloudevent::decode(&message.payload)
    }
}

/// The next message of `consumer`: its sequence and message.
async fn next_message(consumer: &mut pull::Ordered) -> Result<(u64, jetstream::Message), BusError> {
    let message = tokio::time::timeout(DELIVERY_WAIT, consumer.next())
        .await
        .map_err(|_| BusError::Unavailable("the stream delivered nothing in time".into()))?
        .ok_or_else(|| BusError::Unavailable("the stream's consumer ended".into()))?
        .map_err(|e| BusError::Unavailable(format!("following the stream: {e}")))?;
    let sequence = message
        .info()
        .map_err(|e| BusError::Decode(format!("a message without its sequence: {e}")))?
        .stream_sequence;
    Ok((sequence, message))
}

/// The clock's next message: its sequence, subject and position.
async fn next_header(clock: &mut pull::Ordered) -> Result<(u64, String, GlobalPosition), BusError> {
    let (sequence, message) = next_message(clock).await?;
    let headers = message
        .headers
        .as_ref()
        .ok_or_else(|| BusError::Decode(format!("message {sequence} has no headers")))?;
    let position = header_position(headers, POSITION_HEADER)?;
    Ok((sequence, message.subject.to_string(), position))
}

/// The event at `sequence` from `consumer`, passing what it delivers before (messages another
/// consumer already gave, when subjects overlap).
async fn body_at(consumer: &mut pull::Ordered, sequence: u64) -> Result<RecordedEvent, BusError> {
    loop {
        let (delivered, message) = next_message(consumer).await?;
        if delivered == sequence {
            return cloudevent::decode(&message.payload);
        }
        if delivered > sequence {
            return Err(BusError::Decode(format!(
                "message {sequence} missing from its subject's consumer, which went on to {delivered}"
            )));
        }
    }
}

#[async_trait]
impl EventFeed for PartitionFeed {
    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let head = *self.head.borrow();
        if after >= head {
            return Ok(Vec::new());
        }
        let mut cursor = self.cursor.lock().await;
        let open = match cursor.take() {
            Some(going_on) if going_on.after == after => cursor.insert(going_on),
            // A new reader, or one that went back (a failed batch, a rebuild): start again,
            // the old consumers dropped first.
            _ => cursor.insert(self.open(after).await?),
        };
        match self.read_on(open, limit.max(1), head).await {
            Ok(events) => Ok(events),
            Err(error) => {
                *cursor = None;
                Err(error.into())
            }
        }
    }

    async fn head(&self) -> Result<GlobalPosition, StoreError> {
        Ok(*self.head.borrow())
    }

    fn watch_head(&self) -> HeadWatch {
        self.head.clone()
    }
}
