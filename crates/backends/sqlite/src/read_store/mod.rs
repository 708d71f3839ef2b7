//! [`SqliteReadStore`]: SQL read models on embedded SQLite, one database file per generation of
//! each projection.
//!
//! A file per projection means projections commit in parallel (SQLite has one writer per file)
//! and never queue behind the event store; a file per generation means a rebuild fills a new
//! file while the old one serves, and the swap is one catalog update.

mod catalog;
pub(crate) mod generation;

mod query;
pub(crate) mod transaction;
mod translated;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use projector_core::{
    ApplyError, BuildingGeneration, Checkpoint, DeadLetter, Generation, GlobalPosition, Partition,
    ProjectionName, ReadStoreError, RecordedEvent, ServingAt, ServingGeneration,
    partitions_caught_up,
};
use projector_sql::{Row, SqlParam, SqlProjection, SqlReadStore};

use crate::durability::Durability;
use crate::error::join_error;
use catalog::{Catalog, GenerationState};
use generation::{GenerationDb, partition_positions, remove_files};

/// How the read store is opened.
#[derive(Clone, Copy, Debug)]
pub struct SqliteReadStoreOptions {
    /// Durability of read-model commits. Default: `Normal`, because a read model commits its
    /// checkpoint with its rows and a lost commit is simply projected again.
    pub durability: Durability,
    /// Open for inspection beside a process that writes: nothing is created, swept or written.
    pub read_only: bool,
}

impl Default for SqliteReadStoreOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Normal,
            read_only: false,
        }
    }
}

/// SQL read models in a directory of SQLite files: `catalog.db` plus
/// `<projection>.g<generation>.db` for each live generation.
#[derive(Clone, Debug)]
pub struct SqliteReadStore {
    inner: Arc<Inner>,
    /// The partition whose checkpoint this view moves; `None`: the whole generation's.
    partition: Option<Partition>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    durability: Durability,
    read_only: bool,
    catalog: Mutex<Catalog>,
    open: Mutex<HashMap<(ProjectionName, Generation), Arc<GenerationDb>>>,
    serving: RwLock<HashMap<ProjectionName, Generation>>,
}

impl SqliteReadStore {
    /// Opens (creating if needed) the read store in `dir`.
    ///
    /// Generations a rebuild was filling when its process stopped stay listed as building, so
    /// the projection's next worker carries the rebuild on from their checkpoint; only those
    /// whose file never got its tables (a crash while creating it) are dropped here. Files
    /// the catalog does not list are deleted.
    ///
    /// # Errors
    /// [`ReadStoreError::Unavailable`] when the directory or catalog cannot be opened.
    pub fn open(
        dir: impl AsRef<Path>,
        options: SqliteReadStoreOptions,
    ) -> Result<Self, ReadStoreError> {
        let dir = dir.as_ref().to_path_buf();
        if !options.read_only {
            crate::connection::create_private_dir(&dir).map_err(|e| {
                ReadStoreError::unavailable(format!("cannot create {}", dir.display()), e)
            })?;
        }
        let catalog = Catalog::open(&dir, options.read_only)?;
        let mut serving = HashMap::new();
        let mut kept = HashSet::new();
        for live in catalog.live()? {
            match live.state {
                GenerationState::Serving => {
                    kept.insert((live.projection.clone(), live.generation));
                    serving.insert(live.projection, live.generation);
                }
                GenerationState::Building if options.read_only => {}
                GenerationState::Building => {
                    match GenerationDb::open(
                        &dir,
                        &live.projection,
                        live.generation,
                        options.durability,
                        false,
                    )
                    .and_then(|db| db.checkpoint(None))
                    {
                        Ok(_) => {
                            kept.insert((live.projection, live.generation));
                        }
                        Err(error) => {
                            tracing::warn!(projection = %live.projection, generation = %live.generation,
                                %error, "dropping a building generation whose file was never completed");
                            catalog.retire(&live.projection, live.generation)?;
                        }
                    }
                }
            }
        }
        if !options.read_only {
            sweep_unlisted_files(&dir, &kept);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                dir,
                durability: options.durability,
                read_only: options.read_only,
                catalog: Mutex::new(catalog),
                open: Mutex::new(HashMap::new()),
                serving: RwLock::new(serving),
            }),
            partition: None,
        })
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The projections that have a serving generation, with it.
    pub fn serving_generations(&self) -> Vec<(ProjectionName, Generation)> {
        let mut all: Vec<_> = read(&self.inner.serving)
            .iter()
            .map(|(p, g)| (p.clone(), *g))
            .collect();
        all.sort();
        all
    }

    /// The database file serving `projection`'s reads, if any; for tools that inspect it.
    pub fn serving_file(&self, projection: &ProjectionName) -> Option<PathBuf> {
        let generation = *read(&self.inner.serving).get(projection)?;
        Some(GenerationDb::path(&self.inner.dir, projection, generation))
    }

    /// The serving generation of `projection` and its open database, if one serves
    /// (blocking): where an inline projection applies.
    pub(crate) fn inline_serving(
        &self,
        projection: &ProjectionName,
    ) -> Result<Option<(Generation, Arc<GenerationDb>)>, ReadStoreError> {
        let Some(generation) = read(&self.inner.serving).get(projection).copied() else {
            return Ok(None);
        };
        Ok(Some((generation, self.inner.db(projection, generation)?)))
    }

    /// Whether `generation` still serves `projection`. Asked while holding its writer, it
    /// cannot change until the writer is let go: a swap holds the replaced one's writer.
    pub(crate) fn serves(&self, projection: &ProjectionName, generation: Generation) -> bool {
        read(&self.inner.serving).get(projection) == Some(&generation)
    }

    async fn blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Inner) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<ReadStoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| {
                E::from(ReadStoreError::Unavailable {
                    message: join_error(e),
                    source: None,
                })
            })?
    }
}

impl Inner {
    /// The open database of a generation, opening it if the catalog lists it (blocking).
    fn db(
        &self,
        projection: &ProjectionName,
        generation: Generation,
    ) -> Result<Arc<GenerationDb>, ReadStoreError> {
        let key = (projection.clone(), generation);
        if let Some(db) = lock(&self.open).get(&key) {
            return Ok(Arc::clone(db));
        }
        let listed = lock(&self.catalog)
            .live()?
            .into_iter()
            .any(|g| g.projection == *projection && g.generation == generation);
        if !listed {
            return Err(ReadStoreError::NoGeneration {
                projection: projection.clone(),
                generation: generation.to_string(),
            });
        }
        let db = Arc::new(GenerationDb::open(
            &self.dir,
            projection,
            generation,
            self.durability,
            self.read_only,
        )?);
        Ok(Arc::clone(lock(&self.open).entry(key).or_insert(db)))
    }

    fn serving_generation(
        &self,
        projection: &ProjectionName,
    ) -> Result<Generation, ReadStoreError> {
        read(&self.serving)
            .get(projection)
            .copied()
            .ok_or_else(|| ReadStoreError::NoGeneration {
                projection: projection.clone(),
                generation: "serving".into(),
            })
    }

    /// The serving generation's database if it is already open: the query path's fast case.
    fn cached_serving(
        &self,
        projection: &ProjectionName,
    ) -> Option<(Generation, Arc<GenerationDb>)> {
        let generation = *read(&self.serving).get(projection)?;
        let db = lock(&self.open)
            .get(&(projection.clone(), generation))
            .cloned()?;
        Some((generation, db))
    }

    fn forget(&self, projection: &ProjectionName, generation: Generation) {
        lock(&self.open).remove(&(projection.clone(), generation));
        remove_files(&GenerationDb::path(&self.dir, projection, generation));
    }
}

#[async_trait]
impl SqlReadStore for SqliteReadStore {
    async fn serving(
        &self,
        projection: &ProjectionName,
    ) -> Result<Option<ServingGeneration>, ReadStoreError> {
        let projection = projection.clone();
        self.blocking(move |inner| lock(&inner.catalog).serving(&projection))
            .await
    }

    async fn building(
        &self,
        projection: &ProjectionName,
    ) -> Result<Vec<BuildingGeneration>, ReadStoreError> {
        let projection = projection.clone();
        self.blocking(move |inner| lock(&inner.catalog).building(&projection))
            .await
    }

    async fn create_generation(
        &self,
        projection: &dyn SqlProjection,
    ) -> Result<Generation, ReadStoreError> {
        let name = projection.name();
        let version = projection.version();
        let schema: Vec<String> = projection
            .schema()
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let partitions = self.partition.map(Partition::count);
        self.blocking(move |inner| {
            // The catalog stays locked until the file exists with its partitions recorded:
            // another partition reading the catalog meanwhile would take a generation without
            // them for one built whole, and drop it as another count's.
            let mut catalog = lock(&inner.catalog);
            let generation = catalog.add_building(&name, version)?;
            let db = GenerationDb::create(
                &inner.dir,
                &name,
                generation,
                &schema,
                inner.durability,
                partitions,
            )?;
            lock(&inner.open).insert((name, generation), Arc::new(db));
            drop(catalog);
            Ok(generation)
        })
        .await
    }

    async fn activate(
        &self,
        projection: &ProjectionName,
        generation: Generation,
        replacing: Option<ServingAt>,
    ) -> Result<(), ReadStoreError> {
        let projection = projection.clone();
        let slot = self.partition;
        self.blocking(move |inner| {
            let building = inner.db(&projection, generation)?;
            // A generation built as partitions serves once every partition has caught up
            // with its counterpart. Its checkpoints only move on, so reading them before
            // holding the replaced generation's writer errs on the side of waiting.
            let built = match (replacing, slot) {
                (Some(_), Some(_)) => Some(building.partition_positions()?),
                _ => None,
            };
            let swap = |replaced: Option<&rusqlite::Connection>| {
                if let (Some(built), Some(replaced)) = (&built, replaced) {
                    partitions_caught_up(built, &partition_positions(replaced)?).map_err(
                        |behind| ReadStoreError::Unavailable {
                            message: format!("{projection} {generation} waits: {behind}"),
                            source: None,
                        },
                    )?;
                }
                lock(&inner.catalog).activate(
                    &projection,
                    generation,
                    replacing.map(|r| r.generation),
                )?;
                write(&inner.serving).insert(projection.clone(), generation);
                Ok(())
            };
            match replacing {
                // Holding the replaced generation's writer keeps a batch from committing to it
                // between the check of its checkpoints and the swap, and refuses one after.
                Some(replaced) => match inner.db(&projection, replaced.generation) {
                    Ok(db) => db.retire(replaced.checkpoint, slot, |conn| swap(Some(conn)))?,
                    Err(ReadStoreError::NoGeneration { .. }) => {
                        return Err(ReadStoreError::ServingChanged {
                            projection: projection.clone(),
                            expected: Some(replaced.generation),
                            found: inner.serving_generation(&projection).ok(),
                        });
                    }
                    Err(error) => return Err(error),
                },
                None => swap(None)?,
            }
            if let Some(replaced) = replacing
                && replaced.generation != generation
            {
                inner.forget(&projection, replaced.generation);
            }
            Ok(())
        })
        .await
    }

    async fn drop_generation(
        &self,
        projection: &ProjectionName,
        generation: Generation,
        at: GlobalPosition,
    ) -> Result<(), ReadStoreError> {
        let projection = projection.clone();
        let slot = self.partition;
        self.blocking(move |inner| {
            if inner.serving_generation(&projection).ok() == Some(generation) {
                return Err(ReadStoreError::ServingChanged {
                    projection: projection.clone(),
                    expected: None,
                    found: Some(generation),
                });
            }
            let db = match inner.db(&projection, generation) {
                Ok(db) => db,
                // Gone already: what the caller wanted.
                Err(ReadStoreError::NoGeneration { .. }) => return Ok(()),
                Err(error) => return Err(error),
            };
            db.retire(at, slot, |_| {
                lock(&inner.catalog).retire(&projection, generation)
            })?;
            inner.forget(&projection, generation);
            Ok(())
        })
        .await
    }

    async fn checkpoint(
        &self,
        projection: &ProjectionName,
        generation: Generation,
    ) -> Result<Checkpoint, ReadStoreError> {
        let projection = projection.clone();
        let slot = self.partition;
        self.blocking(move |inner| inner.db(&projection, generation)?.checkpoint(slot))
            .await
    }

    async fn apply(
        &self,
        projection: Arc<dyn SqlProjection>,
        generation: Generation,
        events: Arc<[RecordedEvent]>,
        from: GlobalPosition,
        checkpoint: Checkpoint,
    ) -> Result<(), ApplyError> {
        let runtime = tokio::runtime::Handle::current();
        let slot = self.partition;
        self.blocking(move |inner| {
            let db = inner.db(&projection.name(), generation)?;
            db.apply(
                &runtime,
                projection.as_ref(),
                &events,
                from,
                checkpoint,
                slot,
            )
        })
        .await
    }

    async fn record_dead_letter(
        &self,
        generation: Generation,
        letter: DeadLetter,
        from: GlobalPosition,
        skip_to: Option<Checkpoint>,
    ) -> Result<(), ReadStoreError> {
        let slot = self.partition;
        self.blocking(move |inner| {
            inner
                .db(&letter.projection, generation)?
                .record_dead_letter(&letter, from, skip_to, slot)
        })
        .await
    }

    async fn retry_dead_letter(
        &self,
        projection: Arc<dyn SqlProjection>,
        generation: Generation,
        event: RecordedEvent,
        from: GlobalPosition,
        to: Option<Checkpoint>,
    ) -> Result<(), ApplyError> {
        let runtime = tokio::runtime::Handle::current();
        let slot = self.partition;
        self.blocking(move |inner| {
            let db = inner.db(&projection.name(), generation)?;
            db.retry_dead_letter(&runtime, projection.as_ref(), &event, from, to, slot)
        })
        .await
    }

    async fn dead_letters(
        &self,
        projection: &ProjectionName,
    ) -> Result<Vec<DeadLetter>, ReadStoreError> {
        let projection = projection.clone();
        self.blocking(move |inner| {
            let generation = inner.serving_generation(&projection)?;
            inner.db(&projection, generation)?.dead_letters(&projection)
        })
        .await
    }

    async fn query(
        &self,
        projection: &ProjectionName,
        sql: &str,
        params: &[SqlParam<'_>],
    ) -> Result<Vec<Row>, ReadStoreError> {
        self.query_serving(projection, sql, params).await
    }

    fn partition(&self, partition: Partition) -> Option<Arc<dyn SqlReadStore>> {
        Some(Arc::new(Self {
            inner: Arc::clone(&self.inner),
            partition: Some(partition),
        }))
    }

    async fn partitions(
        &self,
        projection: &ProjectionName,
        generation: Generation,
    ) -> Result<u16, ReadStoreError> {
        let projection = projection.clone();
        self.blocking(move |inner| inner.db(&projection, generation)?.partitions())
            .await
    }
}

/// Deletes generation files that the catalog does not list as serving or building: leftovers
/// of a process that died between a swap (or a drop) and the cleanup after it.
fn sweep_unlisted_files(dir: &Path, kept: &HashSet<(ProjectionName, Generation)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((projection, generation)) = parse_file_name(name) else {
            continue;
        };
        if !kept.contains(&(projection, generation)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// `order_summary.g3.db` (or its `-wal`/`-shm` companions) → (`order_summary`, g3).
fn parse_file_name(name: &str) -> Option<(ProjectionName, Generation)> {
    let stem = name
        .strip_suffix(".db")
        .or_else(|| name.strip_suffix(".db-wal"))
        .or_else(|| name.strip_suffix(".db-shm"))?;
    let (projection, generation) = stem.rsplit_once(".g")?;
    let projection = ProjectionName::parse(projection).ok()?;
    let generation: u32 = generation.parse().ok()?;
    Some((projection, Generation::new(generation)))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        let name = ProjectionName::from_static("order_summary");
        let path = GenerationDb::path(Path::new("/x"), &name, Generation::new(3));
        assert_eq!(path, Path::new("/x/order_summary.g3.db"));
        assert_eq!(
            parse_file_name("order_summary.g3.db"),
            Some((name.clone(), Generation::new(3)))
        );
        assert_eq!(
            parse_file_name("order_summary.g3.db-wal"),
            Some((name, Generation::new(3)))
        );
        assert_eq!(parse_file_name("catalog.db"), None);
        assert_eq!(parse_file_name("x.gy.db"), None);
    }
}
