//! The options of the event feed on NATS JetStream: which stream, and the `relay` command.

use clap::Args;
use projector_nats::{DEFAULT_PREFIX, DEFAULT_STREAM, StreamSettings};

use super::{LeaseArgs, StorageArgs};

/// The JetStream stream the feed is published to.
#[derive(Debug, Clone, Args)]
pub struct StreamArgs {
    /// The JetStream stream of the event feed (created if missing, keeping every event), on
    /// the server of `--publish`, `--from` or `--nats-url`.
    #[arg(long, env = "PROJECTOR_NATS_STREAM", default_value = DEFAULT_STREAM)]
    pub nats_stream: String,
    /// The subjects of the stream's events: `<prefix>.<category>.<EventType>` and six partition
    /// bits. Two streams on one server need prefixes of their own.
    #[arg(long, env = "PROJECTOR_NATS_PREFIX", default_value = DEFAULT_PREFIX)]
    pub nats_prefix: String,
}

impl StreamArgs {
    /// The stream on the NATS server at `url`.
    pub fn settings(&self, url: &str) -> StreamSettings {
        StreamSettings::new(url)
            .with_stream(&self.nats_stream)
            .with_prefix(&self.nats_prefix)
    }
}

/// `projector relay`.
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Where the event store is.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// How leases are kept.
    #[command(flatten)]
    pub leases: LeaseArgs,
    /// The NATS server of the event feed's stream (`nats://host:port`): `relay` publishes to
    /// it; `status` also reports what the stream holds against the event store's head.
    #[arg(long, env = "PROJECTOR_NATS_URL", hide_env_values = true)]
    pub nats_url: String,
    /// Which stream.
    #[command(flatten)]
    pub stream: StreamArgs,
    /// Events published per round (their acknowledgements are awaited together).
    #[arg(long, env = "PROJECTOR_RELAY_BATCH_SIZE", default_value_t = 500)]
    pub relay_batch_size: usize,
}
