//! One read of the feed for all the partitions of a projection that run in this process.
//!
//! Each partition alone would read and decode the whole feed to keep a share of it, so N
//! partitions cost the event store N reads of every event. Instead the partitions read
//! through a [`SharedFeed`]: a window of recent events, filled by whichever partition needs
//! more first (the others wait for that read rather than making their own), from which each
//! partition's [`PartitionFeed`] picks only its own events.
//!
//! Nothing else changes: every partition still asks from its own checkpoint, applies and
//! commits on its own, and a partition that falls behind the window (after a failed batch,
//! a rebuild, a pause) reads the event store directly until it catches up. A batch handed to
//! a partition ends with the last event it looked at even when that is not its own, so its
//! checkpoint moves past the rest of the feed (the target leaves that event out).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use projector_core::{
    EventFeed, GlobalPosition, HeadWatch, Partition, ProjectionName, ProjectionTarget,
    RecordedEvent, StoreError,
};
use tokio::sync::Mutex;

/// The most events read from the event store in one trip.
const MAX_READ: usize = 10_000;
/// How many reads the window keeps for partitions that trail the one reading ahead.
const WINDOW_READS: usize = 8;

/// Which events a partition takes.
type Takes<'a> = dyn Fn(&RecordedEvent) -> bool + Sync + 'a;
/// Which events a partition takes, kept by its feed.
pub(crate) type SharedTakes = dyn Fn(&RecordedEvent) -> bool + Send + Sync;

/// The feed, read once for several partitions.
pub(crate) struct SharedFeed {
    inner: Arc<dyn EventFeed>,
    /// Events read from the event store in one trip: enough for each partition to find a
    /// whole batch of its own.
    read_size: usize,
    /// The most events the window keeps.
    capacity: usize,
    window: Mutex<Window>,
}

/// Every event of the feed after `after`, in order, up to the last of `events`.
struct Window {
    after: GlobalPosition,
    events: VecDeque<RecordedEvent>,
    /// Where each partition last asked to read from; `None` before it first asks.
    readers: Vec<Option<GlobalPosition>>,
}

impl Window {
    /// The position of the last event held (`after` when none is).
    fn end(&self) -> GlobalPosition {
        self.events.back().map_or(self.after, |e| e.position)
    }

    /// Drops the events every partition reading from the window has passed, and the oldest
    /// beyond `capacity` (a partition trailing that far, or one yet to start, reads the event
    /// store itself until it is back in the window).
    fn trim(&mut self, capacity: usize) {
        let passed = if self.readers.iter().any(Option::is_none) {
            None
        } else {
            self.readers
                .iter()
                .flatten()
                .filter(|p| **p >= self.after)
                .min()
                .copied()
        };
        while let Some(front) = self.events.front() {
            let seen_by_all = passed.is_some_and(|p| front.position <= p);
            if !(seen_by_all || self.events.len() > capacity) {
                break;
            }
            self.after = front.position;
            self.events.pop_front();
        }
    }
}

impl SharedFeed {
    /// A shared read of `inner` for `partitions` readers whose batches hold `batch_size`.
    pub(crate) fn new(inner: Arc<dyn EventFeed>, partitions: usize, batch_size: usize) -> Self {
        let read_size = batch_size.max(1).saturating_mul(partitions).min(MAX_READ);
        Self {
            inner,
            read_size,
            capacity: read_size * WINDOW_READS,
            window: Mutex::new(Window {
                after: GlobalPosition::new(0),
                events: VecDeque::new(),
                readers: vec![None; partitions],
            }),
        }
    }

    /// A feed of the events reader `index` takes, as `takes` decides.
    pub(crate) fn reader(self: &Arc<Self>, index: usize, takes: Arc<SharedTakes>) -> PartitionFeed {
        PartitionFeed {
            shared: Arc::clone(self),
            index,
            takes,
        }
    }

    /// Up to `limit` events after `after` that `takes` keeps, then the last event looked at
    /// if it was not kept.
    async fn read(
        &self,
        index: usize,
        after: GlobalPosition,
        limit: usize,
        takes: &Takes<'_>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let limit = limit.max(1);
        let mut window = self.window.lock().await;
        if let Some(reader) = window.readers.get_mut(index) {
            *reader = Some(after);
        }
        if after < window.after {
            // Behind the window: read the event store directly, without holding the others,
            // and no further than where the window starts (positions are distinct integers,
            // so no more events lie between), to join it there rather than overtake it.
            let gap = usize::try_from(window.after.get() - after.get()).unwrap_or(usize::MAX);
            drop(window);
            let events = self.inner.read_all(after, self.read_size.min(gap)).await?;
            let mut picked = Picked::new(limit, self.read_size);
            for event in &events {
                if picked.look(event, takes) {
                    break;
                }
            }
            return Ok(picked.finish(events.iter().rev()));
        }
        if after > window.end() {
            // Ahead of the window: start it here; the others catch up by reading directly.
            window.after = after;
            window.events.clear();
        }
        let mut picked = Picked::new(limit, self.read_size);
        let mut from = after;
        loop {
            let start = window.events.partition_point(|e| e.position <= from);
            for event in window.events.range(start..) {
                if picked.look(event, takes) {
                    return Ok(picked.finish(window.events.iter().rev()));
                }
            }
            from = window.end();
            let more = self.inner.read_all(from, self.read_size).await?;
            if more.is_empty() {
                return Ok(picked.finish(window.events.iter().rev()));
            }
            window.events.extend(more);
            window.trim(self.capacity.max(self.read_size));
        }
    }
}

/// What one read hands a partition.
struct Picked {
    limit: usize,
    /// The most events one read looks at: a partition with few events of its own gets a
    /// short batch rather than running far ahead of the others.
    most: usize,
    looked: usize,
    events: Vec<RecordedEvent>,
    /// The position of the last event looked at, when it was not kept.
    passed: Option<GlobalPosition>,
}

impl Picked {
    fn new(limit: usize, most: usize) -> Self {
        Self {
            limit,
            most,
            looked: 0,
            events: Vec::new(),
            passed: None,
        }
    }

    /// Looks at the next event; `true` once the batch is full or enough was looked at.
    fn look(&mut self, event: &RecordedEvent, takes: &Takes<'_>) -> bool {
        self.looked += 1;
        if takes(event) {
            self.passed = None;
            self.events.push(event.clone());
        } else {
            self.passed = Some(event.position);
        }
        self.events.len() == self.limit || self.looked >= self.most
    }

    /// The batch, ending with the last event looked at (found by `find`, among the events
    /// looked at): only it is copied of those passed over.
    fn finish<'a>(
        mut self,
        find: impl IntoIterator<Item = &'a RecordedEvent>,
    ) -> Vec<RecordedEvent> {
        if let Some(position) = self.passed
            && let Some(last) = find.into_iter().find(|e| e.position == position)
        {
            if self.events.len() == self.limit {
                self.events.pop();
            }
            self.events.push(last.clone());
        }
        self.events
    }
}

/// One partition's view of a [`SharedFeed`]: its own events, and the last event of each read
/// so its checkpoint moves past the others'.
pub(crate) struct PartitionFeed {
    shared: Arc<SharedFeed>,
    index: usize,
    takes: Arc<SharedTakes>,
}

#[async_trait]
impl EventFeed for PartitionFeed {
    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.shared
            .read(self.index, after, limit, self.takes.as_ref())
            .await
    }

    async fn head(&self) -> Result<GlobalPosition, StoreError> {
        self.shared.inner.head().await
    }

    fn watch_head(&self) -> HeadWatch {
        self.shared.inner.watch_head()
    }

    async fn position_before(&self, at: DateTime<Utc>) -> Result<GlobalPosition, StoreError> {
        self.shared.inner.position_before(at).await
    }
}

/// The feed each partition of `targets` reads its batches from: its own share, where `feed`
/// hands one out (a broker's partition); otherwise the partitions of one projection (two or
/// more of the same count run here) share one read of `feed`. A target not named here reads
/// `feed` itself.
pub(crate) fn partition_feeds(
    feed: &Arc<dyn EventFeed>,
    targets: &[Arc<dyn ProjectionTarget>],
    batch_size: usize,
) -> BTreeMap<ProjectionName, Arc<dyn EventFeed>> {
    let mut feeds = BTreeMap::new();
    let mut groups: BTreeMap<(ProjectionName, u16), Vec<&Arc<dyn ProjectionTarget>>> =
        BTreeMap::new();
    for target in targets {
        let Some(partition) = target.partition().filter(|p| p.count() > 1) else {
            continue;
        };
        if let Some(own) = feed.partition_feed(partition, &target.spanning()) {
            feeds.insert(target.name(), own);
            continue;
        }
        let Some((base, _)) = Partition::parse_worker_name(&target.name()) else {
            continue;
        };
        groups
            .entry((base, partition.count()))
            .or_default()
            .push(target);
    }
    for members in groups.into_values().filter(|m| m.len() > 1) {
        let shared = Arc::new(SharedFeed::new(Arc::clone(feed), members.len(), batch_size));
        for (index, target) in members.into_iter().enumerate() {
            let name = target.name();
            let (filter, target) = (target.filter(), Arc::clone(target));
            let takes = Arc::new(move |e: &RecordedEvent| filter.accepts(e) && target.takes(e));
            let reader: Arc<dyn EventFeed> = Arc::new(shared.reader(index, takes));
            feeds.insert(name, reader);
        }
    }
    feeds
}

#[cfg(test)]
mod tests;
