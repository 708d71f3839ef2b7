//! Settings of a projector.

use std::time::Duration;

use crate::retry::RetryPolicy;

/// How a projector runs its projections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProjectorOptions {
    /// The most events applied in one transaction. Default: 1 000.
    pub batch_size: usize,
    /// Backoff and the attempts that make a poison event.
    pub retry: RetryPolicy,
    /// With leases: how often a standby tries to take a projection's lease. Default: 1 s.
    pub lease_retry: Duration,
}

impl Default for ProjectorOptions {
    fn default() -> Self {
        Self {
            batch_size: 1_000,
            retry: RetryPolicy::default(),
            lease_retry: Duration::from_secs(1),
        }
    }
}
