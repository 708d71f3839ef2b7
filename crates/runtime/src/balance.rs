//! Spreading a partitioned projection's partitions over the processes that share it.
//!
//! Every process running the projection joins its group (see
//! [`LeaseProvider::join`](projector_core::LeaseProvider::join)), so the lease provider counts
//! them. With `N` partitions and `M` members, a fair share is `ceil(N / M)`:
//!
//! - a standby partition does not try for its lease while its process holds its fair share,
//! - a process holding more than its share gives up the highest partition it holds at a batch
//!   boundary (some other member is then below its share, by counting), so one of them takes
//!   it; having given it up, the process is at its share and leaves it alone (no flapping),
//! - a partition left free for several tries in a row (its members below their share cannot
//!   run it) is taken by a process at its share all the same, unless that process gave it up
//!   itself a short while ago, so no partition stays unrun,
//! - a process whose version is outdated (a newer one serves the read model) leaves the group,
//!   since it runs none of the partitions.
//!
//! Leases stay what keeps a partition in one process: balancing only decides when to try
//! for one and when to give one up.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use projector_core::{LeaseProvider, Membership, Partition, ProjectionName, Survey};
use tokio::time::Instant;

/// Free tries in a row after which a process at its share takes a partition anyway.
const ORPHAN_TRIES: u32 = 3;
/// How many lease retries a process leaves a partition it gave up to the others.
const GIVEN_UP_FOR: u32 = 10;

/// The partitions of one projection that this process runs, shared by their workers.
pub(crate) struct Group {
    base: ProjectionName,
    /// Every partition's worker name, by index.
    partitions: Vec<ProjectionName>,
    leases: Arc<dyn LeaseProvider>,
    membership: tokio::sync::Mutex<Option<Box<dyn Membership>>>,
    /// The partitions whose lease this process holds.
    held: Mutex<BTreeSet<u16>>,
    /// When this process gave a partition up to the others.
    given_up: Mutex<BTreeMap<u16, Instant>>,
}

/// One partition's place in its group.
#[derive(Clone)]
pub(crate) struct Balance {
    group: Arc<Group>,
    index: u16,
    retry: Duration,
}

/// What a survey says about one partition.
struct Seen {
    fair: usize,
    mine: usize,
    members: usize,
    free: bool,
}

/// Builds the groups of the partitioned projections among `names`.
#[derive(Default)]
pub(crate) struct Groups(BTreeMap<ProjectionName, Arc<Group>>);

impl Groups {
    /// The balance of worker `name` if it runs a partition, `None` for a whole projection.
    pub(crate) fn balance(
        &mut self,
        name: &ProjectionName,
        leases: &Arc<dyn LeaseProvider>,
        retry: Duration,
    ) -> Option<Balance> {
        let (base, partition) = Partition::parse_worker_name(name)?;
        let partitions = Partition::all(partition.count())
            .ok()?
            .into_iter()
            .map(|p| p.worker_name(&base))
            .collect::<Option<Vec<_>>>()?;
        let group = self
            .0
            .entry(base.clone())
            .or_insert_with(|| {
                Arc::new(Group {
                    base,
                    partitions,
                    leases: Arc::clone(leases),
                    membership: tokio::sync::Mutex::new(None),
                    held: Mutex::new(BTreeSet::new()),
                    given_up: Mutex::new(BTreeMap::new()),
                })
            })
            .clone();
        (group.partitions.len() == usize::from(partition.count())).then(|| Balance {
            group,
            index: partition.index(),
            retry,
        })
    }
}

impl Balance {
    /// Whether a standby partition tries for its lease now; `free_tries` counts the tries in
    /// a row that found it free while this process was at its share.
    pub(crate) async fn may_try(&self, free_tries: &mut u32) -> bool {
        let Some(seen) = self.survey().await else {
            return true;
        };
        if seen.mine < seen.fair {
            *free_tries = 0;
            return true;
        }
        if !seen.free {
            *free_tries = 0;
            return false;
        }
        *free_tries += 1;
        let given_up = self.lock_given_up().get(&self.index).copied();
        let recently = given_up.is_some_and(|at| at.elapsed() < self.retry * GIVEN_UP_FOR);
        if *free_tries >= ORPHAN_TRIES && !recently {
            tracing::info!(projection = %self.group.partitions[usize::from(self.index)],
                members = seen.members, "a partition stays free; taking it beyond this process's share");
            *free_tries = 0;
            return true;
        }
        false
    }

    /// Whether this partition, held here, should be given up so that another member takes
    /// it: this process holds more than its share, and this is the highest partition it holds.
    pub(crate) async fn should_give_up(&self) -> bool {
        let Some(seen) = self.survey().await else {
            return false;
        };
        let highest = self.lock_held().last().copied() == Some(self.index);
        let give_up = highest && seen.mine > seen.fair;
        if give_up {
            self.lock_given_up().insert(self.index, Instant::now());
            tracing::info!(projection = %self.group.partitions[usize::from(self.index)],
                members = seen.members, held = seen.mine, fair_share = seen.fair,
                "giving a partition up to a process below its share");
        }
        give_up
    }

    /// How often the balance is looked at: the lease retry interval.
    pub(crate) fn retry(&self) -> Duration {
        self.retry
    }

    /// Leaves the group while a newer version serves the read model: this process runs none
    /// of the partitions then, so the others must not count it. The next survey joins again.
    pub(crate) fn leave(&self) {
        if let Ok(mut membership) = self.group.membership.try_lock() {
            *membership = None;
        }
    }

    /// Counts the partition as held here until the returned marker is dropped.
    pub(crate) fn hold(&self) -> Held {
        self.lock_held().insert(self.index);
        Held(self.clone())
    }

    /// The group's members and leases now; `None` when they cannot be counted (then each
    /// partition is taken whenever it is free, as without balancing).
    async fn survey(&self) -> Option<Seen> {
        let group = &self.group;
        let mut membership = group.membership.lock().await;
        if membership.is_none() {
            match group.leases.join(&group.base).await {
                Ok(joined) => *membership = joined,
                Err(error) => {
                    tracing::debug!(projection = %group.base, %error, "cannot join the processes running the projection");
                }
            }
        }
        let Survey { members, held } = match membership.as_ref()?.survey(&group.partitions).await {
            Ok(survey) => survey,
            Err(error) => {
                tracing::debug!(projection = %group.base, %error, "cannot count the processes running the projection");
                *membership = None;
                return None;
            }
        };
        drop(membership);
        let members = members.max(1);
        let mine = self.lock_held().len();
        Some(Seen {
            fair: group.partitions.len().div_ceil(members),
            mine,
            members,
            free: !held.get(usize::from(self.index)).copied().unwrap_or(true),
        })
    }

    fn lock_held(&self) -> std::sync::MutexGuard<'_, BTreeSet<u16>> {
        self.group.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_given_up(&self) -> std::sync::MutexGuard<'_, BTreeMap<u16, Instant>> {
        self.group
            .given_up
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// A partition held by this process; dropping it counts it as held no more.
pub(crate) struct Held(Balance);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.lock_held().remove(&self.0.index);
    }
}

#[cfg(test)]
mod tests {
    //! The decisions against a group whose members and held leases the test sets.

    use std::sync::Mutex as StdMutex;

    use async_trait::async_trait;
    use projector_core::{Lease, StoreError};

    use super::*;

    /// A lease provider whose group has `members` members and whose `held` partitions are
    /// held by some process; `None` members: it cannot count them.
    struct Fake {
        members: Option<usize>,
        held: StdMutex<Vec<bool>>,
    }

    struct FakeMembership(Arc<Fake>);

    struct FakeLeases(Arc<Fake>);

    #[async_trait]
    impl LeaseProvider for FakeLeases {
        async fn try_acquire(
            &self,
            _: &ProjectionName,
        ) -> Result<Option<Box<dyn Lease>>, StoreError> {
            Ok(None)
        }

        async fn join(
            &self,
            _: &ProjectionName,
        ) -> Result<Option<Box<dyn Membership>>, StoreError> {
            Ok(self
                .0
                .members
                .map(|_| Box::new(FakeMembership(Arc::clone(&self.0))) as Box<dyn Membership>))
        }
    }

    #[async_trait]
    impl Membership for FakeMembership {
        async fn survey(&self, _: &[ProjectionName]) -> Result<Survey, StoreError> {
            Ok(Survey {
                members: self.0.members.unwrap_or(1),
                held: self.0.held.lock().expect("held").clone(),
            })
        }
    }

    /// The balances of the `count` partitions of `order_summary` in one process.
    fn partitions(fake: &Arc<Fake>, count: u16) -> Vec<Balance> {
        let leases: Arc<dyn LeaseProvider> = Arc::new(FakeLeases(Arc::clone(fake)));
        let mut groups = Groups::default();
        (0..count)
            .map(|i| {
                let name = Partition::new(i, count)
                    .expect("a partition")
                    .worker_name(&ProjectionName::from_static("order_summary"))
                    .expect("a name");
                groups
                    .balance(&name, &leases, Duration::from_millis(100))
                    .expect("a partition")
            })
            .collect()
    }

    fn fake(members: Option<usize>, held: &[bool]) -> Arc<Fake> {
        Arc::new(Fake {
            members,
            held: StdMutex::new(held.to_vec()),
        })
    }

    #[tokio::test]
    async fn a_whole_projection_has_no_balance() {
        let leases: Arc<dyn LeaseProvider> = Arc::new(FakeLeases(fake(Some(2), &[])));
        let name = ProjectionName::from_static("order_summary");
        assert!(
            Groups::default()
                .balance(&name, &leases, Duration::from_secs(1))
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_process_at_its_share_leaves_held_partitions_and_free_ones_for_a_while() {
        let fake = fake(Some(2), &[true, true, false, true]);
        let parts = partitions(&fake, 4);
        let mut tries = 0;
        assert!(parts[2].may_try(&mut tries).await, "below its share");
        let _held = [parts[0].hold(), parts[1].hold()];
        assert!(!parts[3].may_try(&mut tries).await, "held elsewhere");
        assert!(!parts[2].may_try(&mut tries).await);
        assert!(!parts[2].may_try(&mut tries).await);
        assert!(
            parts[2].may_try(&mut tries).await,
            "taken beyond its share after {ORPHAN_TRIES} free tries"
        );
    }

    #[tokio::test]
    async fn only_the_highest_partition_above_the_share_is_given_up_and_not_taken_back() {
        let fake = fake(Some(2), &[true, true, true, false]);
        let parts = partitions(&fake, 4);
        let mut held: Vec<Held> = parts[..3].iter().map(Balance::hold).collect();
        assert!(!parts[0].should_give_up().await, "not the highest held");
        assert!(!parts[1].should_give_up().await, "not the highest held");
        assert!(parts[2].should_give_up().await);
        drop(held.pop());
        fake.held.lock().expect("held")[2] = false;
        // At its share now: the given-up partition stays free for the other member, past
        // the tries after which a free partition would be taken anyway.
        let mut tries = 0;
        for _ in 0..ORPHAN_TRIES * 2 {
            assert!(!parts[2].may_try(&mut tries).await, "taken back");
        }
    }

    #[tokio::test]
    async fn without_members_counted_every_partition_is_tried_and_none_given_up() {
        let fake = fake(None, &[false, false]);
        let parts = partitions(&fake, 2);
        let _held = parts[0].hold();
        let mut tries = 0;
        assert!(parts[1].may_try(&mut tries).await);
        assert!(!parts[0].should_give_up().await);
    }
}
