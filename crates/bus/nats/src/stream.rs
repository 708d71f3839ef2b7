//! [`EventStream`]: the JetStream stream the feed is published to, its shape, and what its
//! messages carry besides the CloudEvent.
//!
//! Subjects are `<prefix>.<category>.<EventType>` (`projector.events.order.OrderShipped`), so
//! a consumer subscribes to one category or type with a wildcard. Each message's headers carry
//! `Nats-Msg-Id` (the event id, for the stream's duplicate window), `Projector-Position` (its
//! global position) and `Projector-Previous` (the position published just before it, 0 for the
//! first), so a reader finds a position without decoding bodies and knows when the stream no
//! longer starts where the feed does.

use async_nats::HeaderMap;
use async_nats::jetstream::{self, Context, stream};
use projector_core::{GlobalPosition, RecordedEvent};

use crate::error::BusError;

/// The stream's name unless another is given.
pub const DEFAULT_STREAM: &str = "PROJECTOR_EVENTS";
/// The subjects' prefix unless another is given.
pub const DEFAULT_PREFIX: &str = "projector.events";
/// The header holding a message's global position.
pub const POSITION_HEADER: &str = "Projector-Position";
/// The header holding the position published just before a message's.
pub const PREVIOUS_HEADER: &str = "Projector-Previous";

/// Where the feed is published: a stream on a NATS server with JetStream.
#[derive(Clone, Debug)]
pub struct StreamSettings {
    /// The server, `nats://host:port`.
    pub url: String,
    /// The stream's name.
    pub stream: String,
    /// The subjects' prefix.
    pub prefix: String,
}

impl StreamSettings {
    /// The default stream and prefix on the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            stream: DEFAULT_STREAM.to_owned(),
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }

    /// The same, with the stream `name` (and the default prefix).
    pub fn with_stream(mut self, name: impl Into<String>) -> Self {
        self.stream = name.into();
        self
    }

    /// The same, with subjects under `prefix`.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// The last message of the stream: its sequence and the position it carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tail {
    /// Its stream sequence (0 for an empty stream).
    pub sequence: u64,
    /// Its global position (zero for an empty stream).
    pub position: GlobalPosition,
}

/// The stream, connected.
#[derive(Clone, Debug)]
pub struct EventStream {
    pub(crate) settings: StreamSettings,
    pub(crate) jetstream: Context,
    pub(crate) stream: stream::Stream,
}

impl EventStream {
    /// Connects to the server and opens the stream, creating it if missing: file storage,
    /// every subject under the prefix, everything kept (no age, count or size limit), a
    /// two-minute duplicate window.
    ///
    /// # Errors
    /// [`BusError::Unavailable`] when the server cannot be reached or has no JetStream;
    /// [`BusError::Refused`] when a stream of that name exists with other subjects.
    pub async fn connect(settings: StreamSettings) -> Result<Self, BusError> {
        let client = async_nats::ConnectOptions::new()
            .name("projector")
            .retry_on_initial_connect()
            .connect(settings.url.as_str())
            .await
            // Not the URL: it may hold a password or token. The caller names the server.
            .map_err(|e| BusError::Unavailable(format!("connecting to the NATS server: {e}")))?;
        let jetstream = jetstream::new(client);
        let subjects = format!("{}.>", settings.prefix);
        let stream = jetstream
            .get_or_create_stream(stream::Config {
                name: settings.stream.clone(),
                subjects: vec![subjects.clone()],
                storage: stream::StorageType::File,
                duplicate_window: std::time::Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                BusError::Unavailable(format!("opening the stream {}: {e}", settings.stream))
            })?;
        let mut opened = Self {
            settings,
            jetstream,
            stream,
        };
        let info = opened
            .stream
            .info()
            .await
            .map_err(|e| BusError::Unavailable(format!("reading the stream's info: {e}")))?;
        if !info.config.subjects.contains(&subjects) {
            return Err(BusError::Refused(format!(
                "the stream {} takes {:?}, not {subjects}",
                opened.settings.stream, info.config.subjects
            )));
        }
        opened.settings.stream = info.config.name.clone();
        Ok(opened)
    }

    /// The settings it was opened with.
    pub fn settings(&self) -> &StreamSettings {
        &self.settings
    }

    /// The JetStream context it was opened on, for what this crate does not wrap.
    pub fn jetstream(&self) -> &Context {
        &self.jetstream
    }

    /// The subject of `event`: `<prefix>.<category>.<EventType>`.
    pub fn subject(&self, event: &RecordedEvent) -> String {
        format!(
            "{}.{}.{}",
            self.settings.prefix,
            subject_token(event.stream_id.category()),
            subject_token(event.event_type.as_str())
        )
    }

    /// The stream's first and last sequence (`first > last` when it is empty).
    pub(crate) async fn bounds(&self) -> Result<(u64, u64), BusError> {
        let mut stream = self.stream.clone();
        let info = stream
            .info()
            .await
            .map_err(|e| BusError::Unavailable(format!("reading the stream's info: {e}")))?;
        Ok((info.state.first_sequence, info.state.last_sequence))
    }

    /// The stream's last message, read from the server.
    ///
    /// # Errors
    /// [`BusError::Unavailable`] when the server cannot be reached;
    /// [`BusError::Decode`] when the last message is not one of projector's.
    pub async fn tail(&self) -> Result<Tail, BusError> {
        let (first, last) = self.bounds().await?;
        if last == 0 || first > last {
            return Ok(Tail::default());
        }
        let (position, _) = self.positions_at(last).await?;
        Ok(Tail {
            sequence: last,
            position,
        })
    }

    /// The position of the message at `sequence`, and the position before it.
    pub(crate) async fn positions_at(
        &self,
        sequence: u64,
    ) -> Result<(GlobalPosition, GlobalPosition), BusError> {
        let message = self
            .stream
            .get_raw_message(sequence)
            .await
            .map_err(|e| BusError::Unavailable(format!("reading message {sequence}: {e}")))?;
        Ok((
            header_position(&message.headers, POSITION_HEADER)?,
            header_position(&message.headers, PREVIOUS_HEADER)?,
        ))
    }
}

/// The position in header `name` of a message.
pub(crate) fn header_position(headers: &HeaderMap, name: &str) -> Result<GlobalPosition, BusError> {
    headers
        .get(name)
        .and_then(|value| value.as_str().parse::<u64>().ok())
        .map(GlobalPosition::new)
        .ok_or_else(|| BusError::Decode(format!("a message without its {name} header")))
}

/// `text` as one subject token: a NATS token cannot hold `.`, `*`, `>` or white space.
fn subject_token(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '.' | '*' | '>' => '_',
            c if c.is_whitespace() => '_',
            c => c,
        })
        .collect()
}
