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

    /// Counts this process among the members of `group` (the processes running one
    /// partitioned projection) for as long as the membership is kept, so the group's
    /// partitions can be spread over its members. `None` (the default) when the provider
    /// cannot count members: each process then takes whatever partition is free.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the lease's storage cannot be reached.
    async fn join(
        &self,
        group: &ProjectionName,
    ) -> Result<Option<Box<dyn Membership>>, StoreError> {
        let _ = group;
        Ok(None)
    }
}

/// A process's membership in a group of processes sharing a partitioned projection. Dropping
/// it leaves the group.
#[async_trait]
pub trait Membership: Send + Sync {
    /// How many processes are members of the group now, and which of `leases` (projection
    /// names, the partitions' workers) some process holds, in their order.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the storage cannot be reached or the membership was
    /// lost; join again.
    async fn survey(&self, leases: &[ProjectionName]) -> Result<Survey, StoreError>;
}

/// The members of a group and the leases held, as seen at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Survey {
    /// The processes that are members of the group.
    pub members: usize,
    /// For each lease asked about, whether some process holds it.
    pub held: Vec<bool>,
}

/// A held lease. Dropping it gives it up.
#[async_trait]
pub trait Lease: Send + Sync {
    /// Resolves if the lease is lost (its session ended); the holder must stop at once.
    async fn lost(&self);
}
