//! [`SqlTarget`]: a SQL projection bound to the read store that holds its tables, as the
//! projector drives it, whole or as one of its partitions.

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    ApplyError, BuildingGeneration, Checkpoint, DeadLetter, EventFilter, Generation,
    GlobalPosition, Partition, PartitionError, PoisonPolicy, ProjectionName, ProjectionTarget,
    ReadStoreError, RecordedEvent, ServingAt,
};

use crate::projection::SqlProjection;
use crate::store::SqlReadStore;
use crate::typed::{TypedSql, TypedSqlProjection};

/// A [`SqlProjection`] whose tables live in a [`SqlReadStore`], whole or one partition of it.
///
/// A partition runs under a name of its own (`order_summary_p1of4`), so the projector gives it
/// its own worker, lease, status and controls, while it writes the projection's generations:
/// it applies the events of its streams (and those the projection says span partitions) and
/// moves its own checkpoint past the rest.
pub struct SqlTarget {
    store: Arc<dyn SqlReadStore>,
    projection: Arc<dyn SqlProjection>,
    /// Whether the event store applies it inline (see [`SqlTarget::not_inline`]).
    inline: bool,
    partition: Option<Partition>,
    /// The events every partition applies, asked of the projection once.
    spanning: EventFilter,
    name: ProjectionName,
}

/// Why a projection cannot run as the partitions asked for.
#[derive(Debug, thiserror::Error)]
pub enum PartitionsError {
    /// The projection does not declare itself partitionable.
    #[error("{0} cannot run as partitions: its read model is not keyed by stream")]
    NotPartitionable(ProjectionName),
    /// The read store keeps one checkpoint per generation.
    #[error("the read store of {0} cannot keep a checkpoint per partition")]
    Unsupported(ProjectionName),
    /// No such partition count.
    #[error(transparent)]
    Count(#[from] PartitionError),
    /// The partitions' names would be too long.
    #[error("{0} is too long a name to run as partitions")]
    Name(ProjectionName),
}

impl std::fmt::Debug for SqlTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlTarget")
            .field("projection", &self.projection.name())
            .finish_non_exhaustive()
    }
}

impl SqlTarget {
    /// Binds `projection` to `store`.
    pub fn new(store: Arc<dyn SqlReadStore>, projection: Arc<dyn SqlProjection>) -> Self {
        let inline = projection.inline();
        let name = projection.name();
        let spanning = projection.spanning_events();
        Self {
            store,
            projection,
            inline,
            partition: None,
            spanning,
            name,
        }
    }

    /// The same target, reported as projected after the commit even if the projection is
    /// declared inline: for an event store that does not apply inline projections, so the
    /// status never claims a consistency the writes do not give.
    pub fn not_inline(mut self) -> Self {
        self.inline = false;
        self
    }

    /// Binds `projection` to `store` as `count` partitions, one target each (one whole target
    /// when `count` is 1).
    ///
    /// # Errors
    /// When the projection is not partitionable, the store cannot keep a checkpoint per
    /// partition, or `count` is out of range.
    pub fn partitioned(
        store: Arc<dyn SqlReadStore>,
        projection: Arc<dyn SqlProjection>,
        count: u16,
    ) -> Result<Vec<Self>, PartitionsError> {
        let partitions = Partition::all(count)?;
        if count == 1 {
            return Ok(vec![Self::new(store, projection)]);
        }
        let base = projection.name();
        if !projection.partitionable() {
            return Err(PartitionsError::NotPartitionable(base));
        }
        partitions
            .into_iter()
            .map(|partition| {
                Ok(Self {
                    store: store
                        .partition(partition)
                        .ok_or_else(|| PartitionsError::Unsupported(base.clone()))?,
                    projection: Arc::clone(&projection),
                    inline: false,
                    partition: Some(partition),
                    spanning: projection.spanning_events(),
                    name: partition
                        .worker_name(&base)
                        .ok_or_else(|| PartitionsError::Name(base.clone()))?,
                })
            })
            .collect()
    }

    /// The partition this target applies, `None` for the whole projection.
    pub fn partition(&self) -> Option<Partition> {
        self.partition
    }

    /// How many partitions this target's projection runs as.
    fn partition_count(&self) -> u16 {
        self.partition.map_or(1, Partition::count)
    }

    /// A generation's version as this target sees it: one built by a different number of
    /// partitions counts as built by the version before, so it is rebuilt beside (never
    /// reshuffled in place) and swapped once caught up.
    async fn seen_version(
        &self,
        generation: Generation,
        version: u32,
    ) -> Result<u32, ReadStoreError> {
        if version != self.projection.version() {
            return Ok(version);
        }
        let built_by = self
            .store
            .partitions(&self.projection.name(), generation)
            .await?;
        Ok(if built_by == self.partition_count() {
            version
        } else {
            version.saturating_sub(1)
        })
    }

    /// Binds a typed projection to `store`.
    pub fn typed<P: TypedSqlProjection>(store: Arc<dyn SqlReadStore>, projection: P) -> Self {
        Self::new(store, Arc::new(TypedSql(projection)))
    }
}

#[async_trait]
impl ProjectionTarget for SqlTarget {
    fn name(&self) -> ProjectionName {
        self.name.clone()
    }

    fn version(&self) -> u32 {
        self.projection.version()
    }

    fn filter(&self) -> EventFilter {
        self.projection.handles()
    }

    fn poison_policy(&self) -> PoisonPolicy {
        self.projection.poison_policy()
    }

    fn start_from(&self) -> projector_core::StartFrom {
        self.projection.start_from()
    }

    fn inline(&self) -> bool {
        self.inline
    }

    fn partition(&self) -> Option<Partition> {
        self.partition
    }

    fn takes(&self, event: &RecordedEvent) -> bool {
        self.partition
            .is_none_or(|p| p.takes(event, self.spanning.accepts(event)))
    }

    fn spanning(&self) -> EventFilter {
        self.spanning.clone()
    }

    async fn serving(&self) -> Result<Option<(Generation, u32)>, ReadStoreError> {
        match self.store.serving(&self.projection.name()).await? {
            Some(s) => Ok(Some((
                s.generation,
                self.seen_version(s.generation, s.version).await?,
            ))),
            None => Ok(None),
        }
    }

    async fn building(&self) -> Result<Vec<BuildingGeneration>, ReadStoreError> {
        let mut building = self.store.building(&self.projection.name()).await?;
        for b in &mut building {
            b.version = self.seen_version(b.generation, b.version).await?;
        }
        Ok(building)
    }

    async fn create_generation(&self) -> Result<Generation, ReadStoreError> {
        self.store.create_generation(self.projection.as_ref()).await
    }

    async fn activate(
        &self,
        generation: Generation,
        replacing: Option<ServingAt>,
    ) -> Result<(), ReadStoreError> {
        if self.inline {
            return self
                .store
                .activate_inline(Arc::clone(&self.projection), generation, replacing)
                .await;
        }
        self.store
            .activate(&self.projection.name(), generation, replacing)
            .await
    }

    async fn drop_generation(
        &self,
        generation: Generation,
        at: GlobalPosition,
    ) -> Result<(), ReadStoreError> {
        self.store
            .drop_generation(&self.projection.name(), generation, at)
            .await
    }

    async fn checkpoint(&self, generation: Generation) -> Result<Checkpoint, ReadStoreError> {
        self.store
            .checkpoint(&self.projection.name(), generation)
            .await
    }

    async fn apply(
        &self,
        generation: Generation,
        events: Arc<[RecordedEvent]>,
        from: GlobalPosition,
        to: Checkpoint,
    ) -> Result<(), ApplyError> {
        // The projector hands a partition its own events, and the last it read to move the
        // checkpoint past the rest; only a batch of whole feed (read outside the projector)
        // is copied here.
        let events = match self.partition {
            Some(_) if events.iter().all(|e| self.takes(e)) => events,
            Some(_) => events.iter().filter(|e| self.takes(e)).cloned().collect(),
            None => events,
        };
        self.store
            .apply(Arc::clone(&self.projection), generation, events, from, to)
            .await
    }

    async fn dead_letter(
        &self,
        generation: Generation,
        letter: DeadLetter,
        from: GlobalPosition,
        skip_to: Option<Checkpoint>,
    ) -> Result<(), ReadStoreError> {
        // A partition's letter is the projection's: it lives in the generations they share.
        let letter = DeadLetter {
            projection: self.projection.name(),
            ..letter
        };
        self.store
            .record_dead_letter(generation, letter, from, skip_to)
            .await
    }

    /// A partition lists the letters of its own streams.
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, ReadStoreError> {
        let mut letters = self.store.dead_letters(&self.projection.name()).await?;
        if let Some(partition) = self.partition {
            letters.retain(|l| {
                Partition::of_stream(&l.stream_id, partition.count()) == partition.index()
            });
        }
        Ok(letters)
    }

    async fn retry_dead_letter(
        &self,
        generation: Generation,
        event: RecordedEvent,
        from: GlobalPosition,
        to: Option<Checkpoint>,
    ) -> Result<(), ApplyError> {
        self.store
            .retry_dead_letter(Arc::clone(&self.projection), generation, event, from, to)
            .await
    }
}
