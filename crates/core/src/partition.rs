//! Partitions: one projection applied by several workers at once, each taking a share of the
//! streams, so a projection keyed by stream uses more than one connection or core while every
//! stream's events stay in feed order.
//!
//! A stream belongs to partition `fnv1a_64(stream id) % count`. FNV-1a is fixed by its
//! definition (unlike std's randomized hasher), so every process and every release puts a
//! stream in the same partition. Each partition keeps its own checkpoint, and moves it past
//! the events of other partitions too, so a partition with nothing to do never holds reads
//! back. Events a projection marks as spanning partitions (facts of one stream copied onto
//! rows of many, like a customer's region onto their orders) go to every partition.

use std::fmt;

use crate::event::RecordedEvent;
use crate::ids::{ProjectionName, StreamId};
use crate::position::GlobalPosition;

/// The most partitions a projection runs as.
pub const MAX_PARTITIONS: u16 = 64;

/// One partition of a projection: `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Partition {
    index: u16,
    count: u16,
}

/// A partition that cannot exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "partition {index} of {count}: the count must be 1 to {MAX_PARTITIONS} and the index below it"
)]
pub struct PartitionError {
    /// The index asked for.
    pub index: u16,
    /// The count asked for.
    pub count: u16,
}

impl Partition {
    /// Partition `index` of `count`.
    ///
    /// # Errors
    /// When `count` is 0 or above [`MAX_PARTITIONS`], or `index` is not below it.
    pub fn new(index: u16, count: u16) -> Result<Self, PartitionError> {
        if count == 0 || count > MAX_PARTITIONS || index >= count {
            return Err(PartitionError { index, count });
        }
        Ok(Self { index, count })
    }

    /// Every partition of `count`, in order.
    ///
    /// # Errors
    /// When `count` is 0 or above [`MAX_PARTITIONS`].
    pub fn all(count: u16) -> Result<Vec<Self>, PartitionError> {
        (0..count.max(1))
            .map(|index| Self::new(index, count))
            .collect()
    }

    /// The index, from 0.
    pub const fn index(self) -> u16 {
        self.index
    }

    /// How many partitions the projection runs as.
    pub const fn count(self) -> u16 {
        self.count
    }

    /// The partition of `count` that `stream` belongs to.
    pub fn of_stream(stream: &StreamId, count: u16) -> u16 {
        let count = u64::from(count.max(1));
        // The remainder is below `count`, a u16.
        u16::try_from(fnv1a_64(stream.as_str().as_bytes()) % count).unwrap_or(0)
    }

    /// Whether this partition applies `event`: it is in one of its streams, or `spans` (it
    /// concerns every partition).
    pub fn takes(self, event: &RecordedEvent, spans: bool) -> bool {
        spans || Self::of_stream(&event.stream_id, self.count) == self.index
    }

    /// The name a partition's worker runs under: `<projection>_p<index>of<count>`, so its
    /// lease, status and controls are its own. `None` when that would be too long a name.
    pub fn worker_name(self, projection: &ProjectionName) -> Option<ProjectionName> {
        ProjectionName::parse(format!("{projection}_p{}of{}", self.index, self.count)).ok()
    }

    /// The projection and partition a worker name made by [`Partition::worker_name`] stands
    /// for, if it is one.
    pub fn parse_worker_name(name: &ProjectionName) -> Option<(ProjectionName, Partition)> {
        let (base, tail) = name.as_str().rsplit_once("_p")?;
        let (index, count) = tail.split_once("of")?;
        let partition = Partition::new(index.parse().ok()?, count.parse().ok()?).ok()?;
        Some((ProjectionName::parse(base).ok()?, partition))
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A partition of a generation being built that has not yet applied what the generation it
/// is to replace serves: swapping it in then would lose those rows from reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("partition {index} of the new generation is at {at} and must reach {needed}")]
pub struct PartitionBehind {
    /// The partition's index.
    pub index: usize,
    /// Its checkpoint in the new generation.
    pub at: GlobalPosition,
    /// What the generation it replaces has applied of its streams.
    pub needed: GlobalPosition,
}

/// Whether a generation built as partitions has caught up with the generation it replaces,
/// given the checkpoints of each one's partitions by index (`replaced` holds one, its whole
/// checkpoint, when it was built whole): each partition must have reached its counterpart, or,
/// when the counts differ, the furthest position the replaced generation reached.
///
/// A partition that swaps in a new generation checks this for all of them: deciding from its
/// own checkpoints alone, it would serve a generation missing what the others had applied.
///
/// # Errors
/// The first partition still behind.
pub fn partitions_caught_up(
    building: &[GlobalPosition],
    replaced: &[GlobalPosition],
) -> Result<(), PartitionBehind> {
    let furthest = replaced
        .iter()
        .max()
        .copied()
        .unwrap_or(GlobalPosition::ZERO);
    for (index, at) in building.iter().enumerate() {
        let needed = if building.len() == replaced.len() {
            replaced[index]
        } else {
            furthest
        };
        if *at < needed {
            return Err(PartitionBehind {
                index,
                at: *at,
                needed,
            });
        }
    }
    Ok(())
}

/// The 64-bit FNV-1a hash of `bytes` (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(positions: &[u64]) -> Vec<GlobalPosition> {
        positions.iter().copied().map(GlobalPosition::new).collect()
    }

    #[test]
    fn a_new_generation_catches_up_partition_by_partition() {
        // Each partition against its counterpart.
        assert_eq!(partitions_caught_up(&at(&[5, 9]), &at(&[5, 9])), Ok(()));
        assert_eq!(partitions_caught_up(&at(&[7, 9]), &at(&[5, 9])), Ok(()));
        assert_eq!(
            partitions_caught_up(&at(&[0, 9]), &at(&[8, 0])),
            Err(PartitionBehind {
                index: 0,
                at: GlobalPosition::new(0),
                needed: GlobalPosition::new(8)
            })
        );
        // Replacing one built whole, or as another count: all it reached.
        assert_eq!(partitions_caught_up(&at(&[9, 9]), &at(&[9])), Ok(()));
        assert_eq!(
            partitions_caught_up(&at(&[9, 4, 9, 9]), &at(&[3, 9])),
            Err(PartitionBehind {
                index: 1,
                at: GlobalPosition::new(4),
                needed: GlobalPosition::new(9)
            })
        );
    }

    #[test]
    fn fnv1a_matches_its_published_vectors() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn streams_spread_over_every_partition_and_stay_put() {
        let mut seen = [0u32; 4];
        for n in 0..400 {
            let stream = StreamId::parse(format!("order-{n}")).expect("a stream id");
            let p = Partition::of_stream(&stream, 4);
            assert_eq!(p, Partition::of_stream(&stream, 4));
            seen[usize::from(p)] += 1;
        }
        assert!(seen.iter().all(|n| *n > 50), "{seen:?}");
    }

    #[test]
    fn bad_partitions_are_refused() {
        assert!(Partition::new(0, 0).is_err());
        assert!(Partition::new(4, 4).is_err());
        assert!(Partition::new(0, MAX_PARTITIONS + 1).is_err());
        assert_eq!(Partition::all(3).expect("three partitions").len(), 3);
    }

    #[test]
    fn worker_names_round_trip() {
        let name = ProjectionName::parse("order_summary").expect("a name");
        let p = Partition::new(2, 4).expect("a partition");
        let worker = p.worker_name(&name).expect("a worker name");
        assert_eq!(worker.as_str(), "order_summary_p2of4");
        assert_eq!(
            Partition::parse_worker_name(&worker),
            Some((name.clone(), p))
        );
        assert_eq!(Partition::parse_worker_name(&name), None);
    }
}
