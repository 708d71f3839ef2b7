//! Settings of a projector.

use crate::retry::RetryPolicy;

/// How a projector runs its projections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProjectorOptions {
    /// The most events applied in one transaction. Default: 1 000.
    pub batch_size: usize,
    /// Backoff and the attempts that make a poison event.
    pub retry: RetryPolicy,
}

impl Default for ProjectorOptions {
    fn default() -> Self {
        Self {
            batch_size: 1_000,
            retry: RetryPolicy::default(),
        }
    }
}
