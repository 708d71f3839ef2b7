//! [`RedisTarget`]: a Redis projection bound to the store that holds its keys, as the projector
//! drives it. Every write to the catalog, a checkpoint or a generation's data is one script
//! that checks the state the caller saw and changes nothing when it is not so.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use projector_core::{
    ApplyError, BuildingGeneration, Checkpoint, DeadLetter, EventFilter, Generation,
    GlobalPosition, PoisonPolicy, ProjectionError, ProjectionName, ProjectionTarget,
    ReadStoreError, RecordedEvent, ServingAt, catching_panics,
};

use crate::batch::{EncodedWrites, RedisBatch};
use crate::catalog::{Catalog, decode_checkpoint, decode_position, encode_checkpoint, number};
use crate::namespace::{GenerationKeys, ProjectionKeys};
use crate::projection::RedisProjection;
use crate::read::RedisRead;
use crate::reads::Reader;
use crate::scripts::{
    ACTIVATE, APPLY, CHECKPOINT, CREATE, DEAD_LETTER, DEAD_LETTERS, DROP, Reply, corrupt, pairs,
    text,
};
use crate::store::RedisStore;
use crate::typed::{TypedRedis, TypedRedisProjection};
use crate::{letters, sweep};

/// The apply script's own keys (catalog, checkpoint), before the data keys.
const APPLY_KEYS: usize = 2;
/// A little past the grace, so the retired generation is due when the sweep looks.
const SWEEP_MARGIN: Duration = Duration::from_millis(50);

/// A [`RedisProjection`] whose keys live in a [`RedisStore`].
///
/// It remembers the epoch of the catalog it last read (see [`crate::namespace`]), and names it
/// in every write: a write meant for a catalog that vanished is refused as
/// `ReadStoreError::NoGeneration` rather than landing in a newer catalog whose generation
/// numbers happen to match.
pub struct RedisTarget {
    pub(crate) store: RedisStore,
    pub(crate) projection: Arc<dyn RedisProjection>,
    pub(crate) keys: ProjectionKeys,
    seen: Mutex<Seen>,
    swept: AtomicBool,
}

/// What this target last saw of the catalog.
#[derive(Debug, Default)]
struct Seen {
    epoch: Option<String>,
    /// The highest generation number seen in any catalog: a catalog this target creates anew
    /// numbers after it, so this process never sees a number twice.
    highest: u32,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget")
            .field("projection", &self.projection.name())
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl RedisTarget {
    /// Binds `projection` to `store`.
    pub fn new(store: RedisStore, projection: Arc<dyn RedisProjection>) -> Self {
        let keys = store.keys(&projection.name());
        Self {
            store,
            projection,
            keys,
            seen: Mutex::new(Seen::default()),
            swept: AtomicBool::new(false),
        }
    }

    /// Binds a typed projection to `store`.
    pub fn typed<P: TypedRedisProjection>(store: RedisStore, projection: P) -> Self {
        Self::new(store, Arc::new(TypedRedis(projection)))
    }

    /// The store holding the projection's keys.
    pub fn store(&self) -> &RedisStore {
        &self.store
    }

    /// A read of the generation serving the projection's reads now (see [`RedisRead`]).
    ///
    /// # Errors
    /// `ReadStoreError::NoGeneration` when no generation serves.
    pub async fn read(&self) -> Result<RedisRead, ReadStoreError> {
        self.store.read(&self.projection.name()).await
    }

    /// Removes, now, the keys of generations retired longer than the store's
    /// `retired_grace` ago, and returns how many keys went. The target does this on its own
    /// after each swap or drop; call it to tidy up at a time of your choosing.
    ///
    /// # Errors
    /// `ReadStoreError::Unavailable` when Redis is away; what is left is swept next time.
    pub async fn sweep(&self) -> Result<u64, ReadStoreError> {
        sweep::sweep(&self.store, &self.keys).await
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the catalog and remembers its epoch.
    async fn catalog(&self) -> Result<Option<Catalog>, ReadStoreError> {
        let catalog = Catalog::load(&self.store, &self.keys).await?;
        let mut seen = self.seen();
        seen.epoch = catalog.as_ref().map(|c| c.epoch.clone());
        if let Some(catalog) = &catalog {
            seen.highest = seen.highest.max(catalog.highest);
        }
        Ok(catalog)
    }

    /// The epoch of the catalog this target last read, reading it if it has not yet.
    async fn epoch(&self) -> Result<Option<String>, ReadStoreError> {
        if let Some(epoch) = self.seen().epoch.clone() {
            return Ok(Some(epoch));
        }
        Ok(self.catalog().await?.map(|c| c.epoch))
    }

    pub(crate) fn no_generation(&self, generation: impl ToString) -> ReadStoreError {
        ReadStoreError::NoGeneration {
            projection: self.projection.name(),
            generation: generation.to_string(),
        }
    }

    pub(crate) fn moved(&self, expected: GlobalPosition, found: &str) -> ReadStoreError {
        match decode_position(found) {
            Ok(found) => ReadStoreError::CheckpointMoved {
                projection: self.projection.name(),
                expected,
                found,
            },
            Err(error) => error,
        }
    }

    fn sweep_later(&self) {
        let delay = self.store.options().retired_grace + SWEEP_MARGIN;
        sweep::spawn(self.store.clone(), self.keys.clone(), delay);
    }

    /// Runs the projection over `events`, then the apply script with its writes.
    async fn apply_batch(
        &self,
        epoch: &str,
        generation: Generation,
        events: &[RecordedEvent],
        from: GlobalPosition,
        to: Checkpoint,
    ) -> Result<(), ApplyError> {
        let keys = self.keys.generation(epoch, generation);
        let writes = self.writes(generation, &keys, events, APPLY_KEYS).await?;
        let (position, at) = encode_checkpoint(to);
        let mut invocation = APPLY.key(self.keys.catalog());
        invocation.key(keys.checkpoint());
        for key in &writes.keys {
            invocation.key(key);
        }
        invocation
            .arg(self.keys.tag())
            .arg(epoch)
            .arg(generation.get())
            .arg(from.get())
            .arg(position)
            .arg(at);
        for arg in &writes.args {
            invocation.arg(arg);
        }
        match self.store.run("applying a batch", &invocation).await? {
            Reply::Ok(_) => Ok(()),
            Reply::Moved(found) => Err(self.moved(from, &found).into()),
            Reply::NoGeneration => Err(self.no_generation(generation).into()),
            Reply::WrongType { key, found, write } => Err(wrong_type(&keys, &key, &found, &write)),
            other => Err(corrupt(format!("{other:?} to a batch")).into()),
        }
    }

    /// Runs the projection over `events` and encodes its writes for a script whose first
    /// `first_key` keys are its own; no write when there is no event.
    pub(crate) async fn writes(
        &self,
        generation: Generation,
        keys: &GenerationKeys,
        events: &[RecordedEvent],
        first_key: usize,
    ) -> Result<EncodedWrites, ApplyError> {
        if events.is_empty() {
            return Ok(EncodedWrites::default());
        }
        let reader = Reader::new(
            self.store.clone(),
            self.projection.name(),
            generation,
            keys.clone(),
        );
        let mut batch = RedisBatch::new(reader);
        let applied = catching_panics(self.projection.apply(&mut batch, events)).await;
        batch.finish(applied, first_key)
    }
}

/// A write Redis would refuse for its key's type, as the projection's error.
pub(crate) fn wrong_type(keys: &GenerationKeys, key: &str, found: &str, write: &str) -> ApplyError {
    let key = key.strip_prefix(&keys.data_prefix()).unwrap_or(key);
    ApplyError::Projection(ProjectionError {
        position: None,
        transient: false,
        message: format!("{write} of key {key:?}, which holds a {found}"),
    })
}

#[async_trait]
impl ProjectionTarget for RedisTarget {
    fn name(&self) -> ProjectionName {
        self.projection.name()
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

    /// Redis here keeps nothing on disk: a restart or a flush loses the read model.
    fn volatile(&self) -> bool {
        true
    }

    async fn serving(&self) -> Result<Option<(Generation, u32)>, ReadStoreError> {
        let catalog = self.catalog().await?;
        if !self.swept.swap(true, Ordering::SeqCst) {
            // What a process that died before its sweep left behind.
            sweep::spawn(self.store.clone(), self.keys.clone(), Duration::ZERO);
        }
        Ok(catalog
            .and_then(|c| c.serving)
            .map(|s| (s.generation, s.version)))
    }

    async fn building(&self) -> Result<Vec<BuildingGeneration>, ReadStoreError> {
        Ok(self
            .catalog()
            .await?
            .map(|c| c.building)
            .unwrap_or_default())
    }

    async fn create_generation(&self) -> Result<Generation, ReadStoreError> {
        let candidate = format!("{:016x}", rand::random::<u64>());
        let floor = self.seen().highest;
        let mut invocation = CREATE.key(self.keys.catalog());
        invocation
            .key(self.keys.retired())
            .arg(self.keys.tag())
            .arg(&candidate)
            .arg(self.projection.version())
            .arg(floor);
        match self.store.run("creating a generation", &invocation).await? {
            Reply::Ok(rest) => {
                let mut rest = rest.into_iter().map(text);
                let generation =
                    number(&rest.next().unwrap_or_else(|| Err(corrupt("no number")))?)?;
                let epoch = rest.next().unwrap_or_else(|| Err(corrupt("no epoch")))?;
                if epoch == candidate {
                    // A new catalog: whatever a vanished one left goes, after the grace.
                    self.sweep_later();
                }
                let mut seen = self.seen();
                seen.epoch = Some(epoch);
                seen.highest = seen.highest.max(generation);
                Ok(Generation::new(generation))
            }
            Reply::BuildInProgress {
                generation,
                version,
                epoch,
            } => {
                self.seen().epoch = Some(epoch);
                Err(ReadStoreError::BuildInProgress {
                    projection: self.projection.name(),
                    generation: Generation::new(number(&generation)?),
                    version: number(&version)?,
                })
            }
            other => Err(corrupt(format!("{other:?} to creating a generation"))),
        }
    }

    async fn activate(
        &self,
        generation: Generation,
        replacing: Option<ServingAt>,
    ) -> Result<(), ReadStoreError> {
        let Some(epoch) = self.epoch().await? else {
            return Err(self.no_generation(generation));
        };
        let mut invocation = ACTIVATE.key(self.keys.catalog());
        invocation
            .key(self.keys.retired())
            .key(self.keys.generation(&epoch, generation).checkpoint());
        if let Some(replaced) = replacing {
            invocation.key(
                self.keys
                    .generation(&epoch, replaced.generation)
                    .checkpoint(),
            );
        }
        invocation
            .arg(self.keys.tag())
            .arg(&epoch)
            .arg(generation.get())
            .arg(
                replacing
                    .map(|r| r.generation.get().to_string())
                    .unwrap_or_default(),
            )
            .arg(
                replacing
                    .map(|r| r.checkpoint.get().to_string())
                    .unwrap_or_default(),
            );
        match self.store.run("swapping generations", &invocation).await? {
            Reply::Ok(_) => {
                if replacing.is_some() {
                    self.sweep_later();
                }
                Ok(())
            }
            Reply::ServingChanged(found) => Err(ReadStoreError::ServingChanged {
                projection: self.projection.name(),
                expected: replacing.map(|r| r.generation),
                found: match found.as_str() {
                    "" => None,
                    found => Some(Generation::new(number(found)?)),
                },
            }),
            Reply::Moved(found) => Err(self.moved(
                replacing.map_or(GlobalPosition::ZERO, |r| r.checkpoint),
                &found,
            )),
            Reply::NoGeneration => Err(self.no_generation(generation)),
            other => Err(corrupt(format!("{other:?} to a swap"))),
        }
    }

    async fn drop_generation(
        &self,
        generation: Generation,
        at: GlobalPosition,
    ) -> Result<(), ReadStoreError> {
        let Some(epoch) = self.epoch().await? else {
            return Ok(());
        };
        let mut invocation = DROP.key(self.keys.catalog());
        invocation
            .key(self.keys.retired())
            .key(self.keys.generation(&epoch, generation).checkpoint())
            .arg(self.keys.tag())
            .arg(&epoch)
            .arg(generation.get())
            .arg(at.get());
        match self.store.run("dropping a generation", &invocation).await? {
            Reply::Ok(_) => {
                self.sweep_later();
                Ok(())
            }
            Reply::ServingChanged(_) => Err(ReadStoreError::ServingChanged {
                projection: self.projection.name(),
                expected: None,
                found: Some(generation),
            }),
            Reply::Moved(found) => Err(self.moved(at, &found)),
            other => Err(corrupt(format!("{other:?} to a drop"))),
        }
    }

    async fn checkpoint(&self, generation: Generation) -> Result<Checkpoint, ReadStoreError> {
        let Some(epoch) = self.epoch().await? else {
            return Err(self.no_generation(generation));
        };
        let mut invocation = CHECKPOINT.key(self.keys.catalog());
        invocation
            .key(self.keys.generation(&epoch, generation).checkpoint())
            .arg(self.keys.tag())
            .arg(&epoch)
            .arg(generation.get());
        match self.store.run("reading a checkpoint", &invocation).await? {
            Reply::Ok(rest) => {
                let mut rest = rest.into_iter().map(text);
                let position = rest.next().unwrap_or_else(|| Err(corrupt("no position")))?;
                let at = rest.next().unwrap_or_else(|| Ok(String::new()))?;
                decode_checkpoint(&position, &at)
            }
            Reply::NoGeneration => Err(self.no_generation(generation)),
            other => Err(corrupt(format!("{other:?} to reading a checkpoint"))),
        }
    }

    async fn apply(
        &self,
        generation: Generation,
        events: Arc<[RecordedEvent]>,
        from: GlobalPosition,
        to: Checkpoint,
    ) -> Result<(), ApplyError> {
        let Some(epoch) = self.epoch().await? else {
            return Err(self.no_generation(generation).into());
        };
        self.apply_batch(&epoch, generation, &events, from, to)
            .await
    }

    async fn dead_letter(
        &self,
        generation: Generation,
        letter: DeadLetter,
        from: GlobalPosition,
        skip_to: Option<Checkpoint>,
    ) -> Result<(), ReadStoreError> {
        let Some(epoch) = self.epoch().await? else {
            return Err(self.no_generation(generation));
        };
        let keys = self.keys.generation(&epoch, generation);
        let (skip_position, skip_at) = skip_to.map(encode_checkpoint).unwrap_or_default();
        let mut invocation = DEAD_LETTER.key(self.keys.catalog());
        invocation
            .key(keys.checkpoint())
            .key(keys.dead_letters())
            .key(keys.dead_letter(letter.position))
            .arg(self.keys.tag())
            .arg(&epoch)
            .arg(generation.get())
            .arg(from.get())
            .arg(skip_position)
            .arg(skip_at);
        for field in letters::encode(&letter) {
            invocation.arg(field);
        }
        match self
            .store
            .run("recording a dead letter", &invocation)
            .await?
        {
            Reply::Ok(_) => Ok(()),
            Reply::Moved(found) => Err(self.moved(from, &found)),
            Reply::NoGeneration => Err(self.no_generation(generation)),
            other => Err(corrupt(format!("{other:?} to a dead letter"))),
        }
    }

    async fn retry_dead_letter(
        &self,
        generation: Generation,
        event: RecordedEvent,
        from: GlobalPosition,
        to: Option<Checkpoint>,
    ) -> Result<(), ApplyError> {
        let Some(epoch) = self.epoch().await? else {
            return Err(self.no_generation(generation).into());
        };
        self.retry_letter(&epoch, generation, event, from, to).await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, ReadStoreError> {
        let mut invocation = DEAD_LETTERS.key(self.keys.catalog());
        invocation.arg(self.keys.tag());
        match self.store.run("reading dead letters", &invocation).await? {
            Reply::Ok(rest) => {
                let name = self.projection.name();
                let mut letters = rest
                    .into_iter()
                    .map(|letter| letters::decode(&name, pairs(letter)?))
                    .collect::<Result<Vec<_>, _>>()?;
                letters.sort_by_key(|l| l.position);
                Ok(letters)
            }
            Reply::NoGeneration => Err(self.no_generation("serving")),
            other => Err(corrupt(format!("{other:?} to reading dead letters"))),
        }
    }
}
