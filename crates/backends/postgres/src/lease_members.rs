//! Memberships: the processes running one partitioned projection, counted so its partitions
//! can be spread over them.
//!
//! A member holds a *shared* advisory lock on the group's key, on a lease session of its own
//! (with the same heartbeat and timeouts as a lease), for as long as it runs the projection;
//! `pg_locks` then lists one granted share lock per member. A member that dies loses its
//! session and with it its place in the count, as a lease holder loses its lease.

use projector_core::{ProjectionName, Survey};

use crate::lease::{LeaseError, LeaseGuard, PgLeases, key, lease_key};

/// This process's membership in a group; dropping it leaves the group.
#[derive(Debug)]
pub struct PgMembership {
    guard: LeaseGuard,
    key: i64,
}

impl PgLeases {
    /// Joins the processes running the partitioned projection `group`: `None` only if an
    /// exclusive lock holds its key (never taken by this backend).
    ///
    /// # Errors
    /// [`LeaseError::Unavailable`] when the database cannot be reached, and
    /// [`LeaseError::TimedOut`] when it does not answer within the lease timeout.
    pub async fn join_group(
        &self,
        group: &ProjectionName,
    ) -> Result<Option<PgMembership>, LeaseError> {
        let key = member_key(group);
        Ok(self
            .try_lock(group, key, true)
            .await?
            .map(|guard| PgMembership { guard, key }))
    }
}

impl PgMembership {
    /// The members of the group now, and which of `leases` are held.
    ///
    /// # Errors
    /// [`LeaseError::Unavailable`] when the membership's session is gone (join again), and
    /// [`LeaseError::TimedOut`] when it does not answer within the lease timeout.
    pub async fn survey(&self, leases: &[ProjectionName]) -> Result<Survey, LeaseError> {
        let timeout = self.guard.timeout();
        let rows = tokio::time::timeout(
            timeout,
            self.guard
                .client
                .query(include_str!("sql/lease_members.sql"), &[]),
        )
        .await
        .map_err(|_| LeaseError::TimedOut(timeout))??;
        let mut locks = Vec::with_capacity(rows.len());
        for row in rows {
            let (high, low): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            let shared: bool = row.try_get(2)?;
            locks.push((crate::lease_holder::advisory_key(high, low), shared));
        }
        let members = locks
            .iter()
            .filter(|(k, shared)| *k == self.key && *shared)
            .count();
        let held = leases
            .iter()
            .map(|lease| {
                let wanted = lease_key(lease);
                locks.iter().any(|(k, shared)| *k == wanted && !shared)
            })
            .collect();
        Ok(Survey { members, held })
    }
}

/// The advisory lock key of a group's members, apart from every lease's key.
fn member_key(group: &ProjectionName) -> i64 {
    key(b"projector.members:", group)
}

#[async_trait::async_trait]
impl projector_core::Membership for PgMembership {
    async fn survey(
        &self,
        leases: &[ProjectionName],
    ) -> Result<Survey, projector_core::StoreError> {
        if !self.guard.is_held() {
            return Err(projector_core::StoreError::unavailable(
                format!("the membership in {} was lost", self.guard.projection()),
                LeaseError::TimedOut(self.guard.timeout()),
            ));
        }
        PgMembership::survey(self, leases).await.map_err(|error| {
            projector_core::StoreError::unavailable(
                format!("counting the processes running {}", self.guard.projection()),
                error,
            )
        })
    }
}
