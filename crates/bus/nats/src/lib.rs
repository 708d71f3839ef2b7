//! The event feed on a broker, NATS JetStream: a [`Relay`] publishes the event store's feed
//! to a stream, in feed order and each event once, as CloudEvents; a [`NatsFeed`] reads it
//! back as an `EventFeed`, so projectors on other machines keep read models with nothing but
//! the broker.
//!
//! # Exactly once, in order
//! The stream is the relay's progress: the relay goes on from the position its last message
//! carries, so there is no separate checkpoint to fall out of step. Each publish expects the
//! stream at a given sequence, so two relays publishing at once cannot interleave, and carries
//! the event id as `Nats-Msg-Id`, so a resend after a lost acknowledgement is dropped. Readers
//! keep their checkpoints with their read models (the global position travels with each
//! message), so a message read twice changes nothing.
//!
//! # Layout
//! - [`stream`]: [`EventStream`], the stream and its subjects and headers.
//! - [`cloudevent`]: events as CloudEvents 1.0 structured JSON.
//! - [`relay`]: [`Relay`], publishing the feed.
//! - [`feed`]: [`NatsFeed`], reading it.
//! - [`partition_feed`]: [`PartitionFeed`], one partition's share of it, from the broker's
//!   subjects for that partition.
//! - [`error`]: why the broker side failed ([`BusError`]).
//!
//! It is not: a transport for commands, or a replacement for the event store (the stream is a
//! copy of its feed, and the store stays the source of truth).

pub mod cloudevent;
pub mod error;
pub mod feed;
pub mod partition_feed;
pub mod relay;
pub mod stream;

pub use error::BusError;
pub use feed::NatsFeed;
pub use partition_feed::PartitionFeed;
pub use relay::{Relay, RelayOptions, RelayStatus};
pub use stream::{
    DEFAULT_PREFIX, DEFAULT_STREAM, EventStream, PARTITION_BITS, StreamSettings, Tail,
};
