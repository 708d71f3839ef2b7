//! Settings of a projector.

use std::time::Duration;

use crate::retry::RetryPolicy;

/// The most events a projection applies in one transaction unless told otherwise: large
/// enough that a catch-up or rebuild pays its commit and thread hand-offs rarely, small
/// enough that one batch stays a few milliseconds of work.
pub const DEFAULT_BATCH_SIZE: usize = 4_000;

/// The shortest time between two batches a projection applies at the head of the feed unless
/// told otherwise. Under a steady stream of writes each batch then gathers what arrived
/// meanwhile, so one transaction and one checkpoint write serve several writes rather than
/// each its own; a write after a quiet spell is still applied at once.
pub const DEFAULT_BATCH_INTERVAL: Duration = Duration::from_millis(2);

/// How a projector runs its projections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProjectorOptions {
    /// The most events applied in one transaction. Default: [`DEFAULT_BATCH_SIZE`].
    pub batch_size: usize,
    /// The shortest time between two batches applied at the head of the feed, for a target
    /// that does not ask for longer (see `ProjectionTarget::batch_interval`); zero applies
    /// each batch as soon as it is read. Default: [`DEFAULT_BATCH_INTERVAL`].
    pub batch_interval: Duration,
    /// Backoff and the attempts that make a poison event.
    pub retry: RetryPolicy,
    /// With leases: how often a standby tries to take a projection's lease. Default: 1 s.
    pub lease_retry: Duration,
}

impl Default for ProjectorOptions {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
            batch_interval: DEFAULT_BATCH_INTERVAL,
            retry: RetryPolicy::default(),
            lease_retry: Duration::from_secs(1),
        }
    }
}
