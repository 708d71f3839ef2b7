//! A stream of the test's own on the loopback NATS server, and an event store to relay from.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::{self, consumer, message::PublishMessage};
use futures::StreamExt;
use projector_core::{
    EventAppender, EventFeed, ExpectedVersion, GlobalPosition, RecordedEvent, StreamId,
};
use projector_nats::{EventStream, StreamSettings, cloudevent};
use projector_sqlite::SqliteEventStore;
use projector_testkit::events::event;
use projector_testkit::services::{nats_url, unavailable};
use projector_testkit::wait::eventually;

/// A published message as the stream holds it.
#[derive(Debug)]
pub struct Published {
    pub subject: String,
    pub msg_id: Option<String>,
    pub payload: bytes::Bytes,
    pub event: RecordedEvent,
}

/// A stream named for one test, under a subject prefix of its own.
pub struct TestStream {
    settings: StreamSettings,
    jetstream: jetstream::Context,
}

impl TestStream {
    /// A fresh stream's settings; `None` (after saying why) when NATS is away outside CI.
    pub async fn create() -> Option<Self> {
        let url = nats_url();
        let client = match async_nats::connect(url.as_str()).await {
            Ok(client) => client,
            Err(error) => {
                unavailable("NATS", &error);
                return None;
            }
        };
        let id = uuid::Uuid::now_v7().simple().to_string();
        let settings = StreamSettings::new(url)
            .with_stream(format!("TEST_{id}"))
            .with_prefix(format!("test.{id}"));
        Some(Self {
            settings,
            jetstream: jetstream::new(client),
        })
    }

    pub fn name(&self) -> &str {
        &self.settings.stream
    }

    pub fn prefix(&self) -> &str {
        &self.settings.prefix
    }

    /// The stream, opened (and created the first time).
    pub async fn open(&self) -> EventStream {
        EventStream::connect(self.settings.clone())
            .await
            .expect("the stream opens")
    }

    /// Waits until the stream's last message carries `position`.
    pub async fn wait_for_tail(&self, position: GlobalPosition) {
        let stream = self.open().await;
        eventually(&format!("the stream at {position}"), || async {
            let tail = stream.tail().await.expect("tail").position;
            if tail >= position { Ok(()) } else { Err(tail) }
        })
        .await;
    }

    /// Every message of the stream, in sequence order.
    pub async fn messages(&self) -> Vec<Published> {
        let mut stream = self
            .jetstream
            .get_stream(self.name())
            .await
            .expect("stream");
        let count = stream.info().await.expect("info").state.messages as usize;
        if count == 0 {
            return Vec::new();
        }
        let consumer = stream
            .create_consumer(consumer::pull::Config {
                ack_policy: consumer::AckPolicy::None,
                ..Default::default()
            })
            .await
            .expect("consumer");
        let mut batch = consumer
            .batch()
            .max_messages(count)
            .expires(Duration::from_secs(5))
            .messages()
            .await
            .expect("batch");
        let mut published = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.expect("message");
            published.push(Published {
                subject: message.subject.to_string(),
                msg_id: message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Msg-Id"))
                    .map(|v| v.as_str().to_owned()),
                event: cloudevent::decode(&message.payload).expect("a CloudEvent"),
                payload: message.payload.clone(),
            });
            if published.len() == count {
                break;
            }
        }
        published
    }

    /// Publishes `event` again as the relay would, without expecting a sequence.
    pub async fn publish_again(&self, event: &RecordedEvent) -> PublishAck {
        let stream = self.open().await;
        self.jetstream
            .send_publish(
                stream.subject(event),
                PublishMessage::build()
                    .payload(cloudevent::encode(event).expect("encode").into())
                    .message_id(event.event_id.to_string()),
            )
            .await
            .expect("publish")
            .await
            .expect("ack")
    }

    /// Publishes `events` as a relay did before subjects carried partition bits
    /// (`<prefix>.<category>.<EventType>`), each after the last.
    pub async fn publish_unsplit(&self, events: &[RecordedEvent]) {
        let mut previous = GlobalPosition::ZERO;
        for event in events {
            let subject = format!(
                "{}.{}.{}",
                self.prefix(),
                event.stream_id.category(),
                event.event_type.as_str()
            );
            let message = PublishMessage::build()
                .payload(cloudevent::encode(event).expect("encode").into())
                .message_id(event.event_id.to_string())
                .header(
                    "Projector-Position",
                    event.position.get().to_string().as_str(),
                )
                .header("Projector-Previous", previous.get().to_string().as_str());
            self.jetstream
                .send_publish(subject, message)
                .await
                .expect("publish")
                .await
                .expect("ack");
            previous = event.position;
        }
    }

    /// Removes the stream's messages below `sequence`, as a retention limit would.
    pub async fn purge_before(&self, sequence: u64) {
        let stream = self
            .jetstream
            .get_stream(self.name())
            .await
            .expect("stream");
        stream.purge().sequence(sequence).await.expect("purge");
    }

    /// Deletes the stream.
    pub async fn remove(&self) {
        let _ = self.jetstream.delete_stream(self.name()).await;
    }
}

/// An event store in a temporary directory.
pub struct Source {
    _dir: tempfile::TempDir,
    store: Arc<SqliteEventStore>,
}

impl Source {
    pub async fn new() -> Self {
        let dir = projector_testkit::temp_dir();
        let store = projector_testkit::sqlite::event_store(dir.path());
        Self {
            _dir: dir,
            store: Arc::new(store),
        }
    }

    pub fn feed(&self) -> Arc<dyn EventFeed> {
        self.store.clone()
    }

    /// Appends three events to each order of `orders`; the head after.
    pub async fn append_orders(&self, orders: Range<usize>) -> GlobalPosition {
        let mut head = GlobalPosition::ZERO;
        for order in orders {
            let stream = StreamId::parse(format!("order-{order}")).expect("stream");
            let events = ["OrderCreated", "OrderItemAdded", "OrderConfirmed"]
                .into_iter()
                .map(|t| event(t, serde_json::json!({ "order_id": order.to_string() })))
                .collect();
            head = self
                .store
                .append(&stream, ExpectedVersion::NoStream, events)
                .await
                .expect("append")
                .last_position;
        }
        head
    }

    /// Registers each customer of `customers`; the head after.
    pub async fn register_customers(&self, customers: Range<usize>) -> GlobalPosition {
        let mut head = GlobalPosition::ZERO;
        for customer in customers {
            let stream = StreamId::parse(format!("customer-{customer}")).expect("stream");
            let registered = event("CustomerRegistered", serde_json::json!({ "n": customer }));
            head = self
                .store
                .append(&stream, ExpectedVersion::NoStream, vec![registered])
                .await
                .expect("append")
                .last_position;
        }
        head
    }

    /// Every event of the store, in feed order.
    pub async fn everything(&self) -> Vec<RecordedEvent> {
        self.store
            .read_all(GlobalPosition::ZERO, 100_000)
            .await
            .expect("read")
    }
}
