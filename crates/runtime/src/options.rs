//! Settings of a projector.

use std::time::Duration;

use crate::retry::RetryPolicy;

/// The most events a projection applies in one transaction unless told otherwise: large
/// enough that a catch-up or rebuild pays its commit and thread hand-offs rarely, small
/// enough that one batch stays a few milliseconds of work.
pub const DEFAULT_BATCH_SIZE: usize = 4_000;

/// How a projector runs its projections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProjectorOptions {
    /// The most events applied in one transaction. Default: [`DEFAULT_BATCH_SIZE`].
    pub batch_size: usize,
    /// Backoff and the attempts that make a poison event.
    pub retry: RetryPolicy,
    /// With leases: how often a standby tries to take a projection's lease. Default: 1 s.
    pub lease_retry: Duration,
}

impl Default for ProjectorOptions {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
            retry: RetryPolicy::default(),
            lease_retry: Duration::from_secs(1),
        }
    }
}
