//! [`Relay`]: publishes the event store's feed to the stream, in feed order, each event once.
//!
//! The stream is the relay's progress: on start, and after any failure, the relay reads the
//! stream's last message and goes on from the position it carries, so there is no checkpoint
//! to lose or to get ahead of the stream. Every publish names the sequence the stream must be
//! at (`Nats-Expected-Last-Sequence`), so a second relay that also publishes (a standby taking
//! over while the old holder is still running) makes the other's publishes fail rather than
//! interleave; the loser reads the tail again. `Nats-Msg-Id` (the event id) drops a publish
//! whose acknowledgement was lost and is sent again within the stream's duplicate window.
//! With the broker away the writer goes on appending (the event store is the outbox); the
//! relay retries with backoff and catches up when it returns.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use chrono::{DateTime, Utc};
use projector_core::{EventFeed, GlobalPosition, RecordedEvent};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cloudevent;
use crate::error::BusError;
use crate::stream::{EventStream, POSITION_HEADER, PREVIOUS_HEADER, Tail};

/// How the relay runs.
#[derive(Clone, Copy, Debug)]
pub struct RelayOptions {
    /// Events read from the feed and published per round (their acknowledgements are awaited
    /// together).
    pub batch_size: usize,
    /// The longest wait between tries while the broker or the feed fails.
    pub max_backoff: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            batch_size: 500,
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Where the relay stands, for `status`, the admin API and metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RelayStatus {
    /// The position of the last event the stream holds, as this relay last saw it.
    pub published: GlobalPosition,
    /// The head of the event store's feed.
    pub head: GlobalPosition,
    /// When the store recorded the oldest event not yet published, while one is waiting.
    pub oldest_unpublished_at: Option<DateTime<Utc>>,
    /// Why the last round failed, until one succeeds.
    pub error: Option<String>,
}

impl RelayStatus {
    /// Events in the feed not yet in the stream.
    pub fn lag_events(&self) -> u64 {
        self.published.distance_to(self.head)
    }

    /// How long the oldest unpublished event has waited, in seconds (0 when caught up).
    pub fn lag_seconds(&self, now: DateTime<Utc>) -> f64 {
        self.oldest_unpublished_at.map_or(0.0, |at| {
            (now - at).num_milliseconds().max(0) as f64 / 1000.0
        })
    }
}

/// Publishes the relay's lag as gauges (`projector_relay_lag_events`, `..._seconds`,
/// `projector_relay_published_position`) for a scrape.
fn report(status: &RelayStatus) {
    metrics::gauge!("projector_relay_lag_events").set(status.lag_events() as f64);
    metrics::gauge!("projector_relay_lag_seconds").set(status.lag_seconds(Utc::now()));
    metrics::gauge!("projector_relay_published_position").set(status.published.get() as f64);
}

/// Publishes `feed` to `stream`.
pub struct Relay {
    feed: Arc<dyn EventFeed>,
    stream: EventStream,
    options: RelayOptions,
    status: watch::Sender<RelayStatus>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("stream", &self.stream.settings().stream)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay of `feed` into `stream`.
    pub fn new(feed: Arc<dyn EventFeed>, stream: EventStream, options: RelayOptions) -> Self {
        Self {
            feed,
            stream,
            options,
            status: watch::Sender::new(RelayStatus::default()),
        }
    }

    /// Where it stands, kept current while it runs.
    pub fn status(&self) -> watch::Receiver<RelayStatus> {
        self.status.subscribe()
    }

    /// Publishes until `shutdown`: whatever the feed holds beyond the stream's tail, then each
    /// commit as it lands. Failures are retried with backoff, never returned.
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut head = self.feed.watch_head();
        let mut tail: Option<Tail> = None;
        let mut backoff = Duration::from_millis(50);
        while !shutdown.is_cancelled() {
            // The watch holds the feed's head: no read of the store per round.
            let known_head = *head.borrow_and_update();
            match self.round(&mut tail, known_head).await {
                Ok(0) => {
                    backoff = Duration::from_millis(50);
                    let published = tail.map_or(GlobalPosition::ZERO, |t| t.position);
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        // A missed wake-up costs at most a second.
                        _ = head.wait_for(|h| *h > published) => {}
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                Ok(_) => backoff = Duration::from_millis(50),
                Err(error) => {
                    tail = None;
                    if !matches!(error, BusError::Moved(_)) {
                        tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64,
                            "the relay could not publish; trying again");
                    }
                    self.status
                        .send_modify(|s| s.error = Some(error.to_string()));
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.options.max_backoff);
                }
            }
        }
    }

    /// One round: the events after the stream's tail, published and acknowledged in order;
    /// `head` is the feed's head as last announced, for the status. Returns how many were
    /// published.
    async fn round(
        &self,
        tail: &mut Option<Tail>,
        head: GlobalPosition,
    ) -> Result<usize, BusError> {
        let start = match *tail {
            Some(known) => known,
            None => self.stream.tail().await?,
        };
        *tail = Some(start);
        let events = self
            .feed
            .read_all(start.position, self.options.batch_size.max(1))
            .await
            .map_err(|e| BusError::Unavailable(format!("reading the feed: {e}")))?;
        self.status.send_modify(|s| {
            s.published = start.position;
            s.head = head.max(start.position);
            s.oldest_unpublished_at = events.first().map(|e| e.recorded_at);
            report(s);
        });
        if events.is_empty() {
            self.status.send_modify(|s| s.error = None);
            return Ok(0);
        }
        let acks = self.publish(start, &events).await?;
        let mut now = start;
        for (event, ack) in events.iter().zip(acks) {
            let expected = now.sequence + 1;
            let ack = ack.await.map_err(|e| match e.kind() {
                PublishErrorKind::WrongLastSequence => BusError::Moved(e.to_string()),
                _ => BusError::Unavailable(format!("publishing event {}: {e}", event.position)),
            })?;
            if ack.duplicate || ack.sequence != expected {
                return Err(BusError::Moved(format!(
                    "event {} landed at sequence {} (duplicate: {}), not {expected}",
                    event.position, ack.sequence, ack.duplicate
                )));
            }
            now = Tail {
                sequence: ack.sequence,
                position: event.position,
            };
            *tail = Some(now);
        }
        let next_at = events.last().map(|last| last.position);
        self.status.send_modify(|s| {
            s.published = now.position;
            s.head = s.head.max(now.position);
            if next_at == Some(now.position) && s.head <= now.position {
                s.oldest_unpublished_at = None;
            }
            s.error = None;
            report(s);
        });
        Ok(events.len())
    }

    /// Sends every event of the batch, each expecting the stream at the sequence the one
    /// before it takes; the acknowledgements are awaited by the caller, in order.
    async fn publish(
        &self,
        start: Tail,
        events: &[RecordedEvent],
    ) -> Result<Vec<PublishAckFuture>, BusError> {
        let mut acks = Vec::with_capacity(events.len());
        let mut previous = start.position;
        for (offset, event) in (0u64..).zip(events) {
            let message = PublishMessage::build()
                .payload(cloudevent::encode(event)?.into())
                .message_id(event.event_id.to_string())
                .expected_last_sequence(start.sequence + offset)
                .header(POSITION_HEADER, event.position.get().to_string().as_str())
                .header(PREVIOUS_HEADER, previous.get().to_string().as_str());
            previous = event.position;
            let ack = self
                .stream
                .jetstream
                .send_publish(self.stream.subject(event), message)
                .await
                .map_err(|e| {
                    BusError::Unavailable(format!("publishing event {}: {e}", event.position))
                })?;
            acks.push(ack);
        }
        Ok(acks)
    }
}
