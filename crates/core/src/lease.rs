//! Leases: which process runs a projection when several share one database. A projection with
//! a lease provider runs only while its process holds the projection's lease; the other
//! processes stand by and take over when the holder dies.

use async_trait::async_trait;

use crate::error::StoreError;
use crate::ids::ProjectionName;

/// Hands out projection leases.
#[async_trait]
pub trait LeaseProvider: Send + Sync + 'static {
    /// Takes the lease on `projection` if no other process holds it.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the lease's storage cannot be reached; without a lease
    /// the projection must not run.
    async fn try_acquire(
        &self,
        projection: &ProjectionName,
    ) -> Result<Option<Box<dyn Lease>>, StoreError>;
}

/// A held lease. Dropping it gives it up.
#[async_trait]
pub trait Lease: Send + Sync {
    /// Resolves if the lease is lost (its session ended); the holder must stop at once.
    async fn lost(&self);
}
