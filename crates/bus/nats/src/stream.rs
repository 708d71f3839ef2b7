//! [`EventStream`]: the JetStream stream the feed is published to, its shape, and what its
//! messages carry besides the CloudEvent.
//!
//! Subjects are `<prefix>.<category>.<EventType>.<b0>.<b1>.<b2>.<b3>.<b4>.<b5>`
//! (`projector.events.order.OrderShipped.1.0.0.1.1.0`), so a consumer subscribes to one
//! category or type with a wildcard (`projector.events.order.>`). The six trailing tokens are
//! the low bits of the stream's partition hash ([`projector_core::partition`]), lowest first:
//! partition `i` of a power-of-two count `2^k` is every subject whose first `k` bit tokens
//! spell `i`, one filter subject with wildcards, so the broker hands each partition its own
//! share of the feed. Each message's headers carry
//! `Nats-Msg-Id` (the event id, for the stream's duplicate window), `Projector-Position` (its
//! global position) and `Projector-Previous` (the position published just before it, 0 for the
//! first), so a reader finds a position without decoding bodies and knows when the stream no
//! longer starts where the feed does.

use async_nats::HeaderMap;
use async_nats::jetstream::{self, Context, stream};
use projector_core::{EventFilter, GlobalPosition, MAX_PARTITIONS, Partition, RecordedEvent};

use crate::error::BusError;

/// The stream's name unless another is given.
pub const DEFAULT_STREAM: &str = "PROJECTOR_EVENTS";
/// The subjects' prefix unless another is given.
pub const DEFAULT_PREFIX: &str = "projector.events";
/// The header holding a message's global position.
pub const POSITION_HEADER: &str = "Projector-Position";
/// The header holding the position published just before a message's.
pub const PREVIOUS_HEADER: &str = "Projector-Previous";
/// How many bits of a stream's partition hash its events' subjects carry: enough for every
/// power-of-two count of partitions a projection can run as.
pub const PARTITION_BITS: u32 = MAX_PARTITIONS.trailing_zeros();

const _: () = assert!(1 << PARTITION_BITS == MAX_PARTITIONS);

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

    /// The subject of `event`: `<prefix>.<category>.<EventType>` and the partition bits of
    /// its stream.
    pub fn subject(&self, event: &RecordedEvent) -> String {
        let hash = projector_core::partition::fnv1a_64(event.stream_id.as_str().as_bytes());
        let mut subject = format!(
            "{}.{}.{}",
            self.settings.prefix,
            subject_token(event.stream_id.category()),
            subject_token(event.event_type.as_str())
        );
        for bit in 0..PARTITION_BITS {
            subject.push_str(if hash >> bit & 1 == 1 { ".1" } else { ".0" });
        }
        subject
    }

    /// The filter subject of `partition`'s events, `None` unless its count is a power of two
    /// (only those line up with the subjects' bits).
    pub fn partition_subject(&self, partition: Partition) -> Option<String> {
        let count = partition.count();
        if !count.is_power_of_two() {
            return None;
        }
        let bits = count.trailing_zeros();
        let mut subject = format!("{}.*.*", self.settings.prefix);
        for bit in 0..PARTITION_BITS {
            subject.push_str(match bit < bits {
                true if partition.index() >> bit & 1 == 1 => ".1",
                true => ".0",
                false => ".*",
            });
        }
        Some(subject)
    }

    /// Filter subjects that together hold every event `filter` takes (and perhaps more),
    /// `None` when that is the whole stream.
    pub fn filter_subjects(&self, filter: &EventFilter) -> Option<Vec<String>> {
        let prefix = &self.settings.prefix;
        let mut subjects = Vec::new();
        match filter {
            EventFilter::All => return None,
            EventFilter::Types(types) => subjects.extend(
                types
                    .iter()
                    .map(|t| format!("{prefix}.*.{}.>", subject_token(t.as_str()))),
            ),
            EventFilter::Category { category, types } => {
                subjects.extend(types.iter().map(|t| {
                    let (category, t) = (subject_token(category), subject_token(t.as_str()));
                    format!("{prefix}.{category}.{t}.>")
                }));
            }
            EventFilter::AnyOf(filters) => {
                for filter in filters {
                    subjects.extend(self.filter_subjects(filter)?);
                }
            }
        }
        subjects.sort();
        subjects.dedup();
        Some(subjects)
    }

    /// Whether `subject` carries partition bits (a message published before they were added
    /// does not).
    pub(crate) fn has_partition_bits(&self, subject: &str) -> bool {
        subject
            .strip_prefix(self.settings.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| rest.split('.').count() == 2 + PARTITION_BITS as usize)
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

impl EventStream {
    /// Refuses a read from `after` with [`BusError::Truncated`] when the stream, whose first
    /// message is at sequence `first`, no longer holds every message after it.
    pub(crate) async fn check_holds_after(
        &self,
        after: GlobalPosition,
        first: u64,
    ) -> Result<(), BusError> {
        let (first_position, before_first) = self.positions_at(first).await?;
        if after < before_first {
            return Err(BusError::Truncated {
                stream: self.settings.stream.clone(),
                after: after.get(),
                first: first_position.get(),
            });
        }
        Ok(())
    }

    /// The first sequence in `low..=high` whose message is past `after` (`high + 1` if none):
    /// positions rise with sequences, so a binary search over the position headers.
    pub(crate) async fn sequence_after(
        &self,
        after: GlobalPosition,
        mut low: u64,
        mut high: u64,
    ) -> Result<u64, BusError> {
        let end = high + 1;
        let mut found = end;
        while low <= high {
            let middle = low + (high - low) / 2;
            let (position, _) = self.positions_at(middle).await?;
            if position > after {
                found = middle;
                if middle == 0 {
                    break;
                }
                high = middle - 1;
            } else {
                low = middle + 1;
            }
        }
        Ok(found)
    }
}

/// Whether `subject` matches the filter subject `pattern` (`*` one token, `>` the rest).
pub(crate) fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for wanted in pattern.split('.') {
        match (wanted, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (wanted, Some(token)) if wanted == token => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
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
