//! One projection's generations in the store: its catalog and the generations open in this
//! process. Every change to the catalog is checked against what the caller saw, under one
//! lock, and written to disk before it takes effect here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use projector_core::{
    BuildingGeneration, Generation, GlobalPosition, ProjectionName, ReadStoreError, ServingAt,
    ServingGeneration,
};
use tantivy::schema::Schema;

use crate::catalog::{CATALOG_FILE, Catalog, sync_dir};
use crate::error::SearchError;
use crate::generation::{GenerationIndex, generation_dir};
use crate::store::SearchStoreOptions;

/// A projection's directory and what is open of it.
#[derive(Debug)]
pub(crate) struct ProjectionIndexes {
    name: ProjectionName,
    dir: PathBuf,
    /// `None` when the store is read-only.
    options: Option<SearchStoreOptions>,
    state: Mutex<Option<State>>,
}

/// The catalog as last written, and the generations opened since.
#[derive(Debug)]
struct State {
    catalog: Catalog,
    open: HashMap<Generation, Arc<GenerationIndex>>,
}

impl ProjectionIndexes {
    pub(crate) fn new(
        name: ProjectionName,
        dir: PathBuf,
        options: Option<SearchStoreOptions>,
    ) -> Self {
        Self {
            name,
            dir,
            options,
            state: Mutex::new(None),
        }
    }

    /// Runs `f` on the state under its lock, reading the catalog on first use (and, when
    /// writable, removing what a crash left outside it).
    fn with_state<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, ReadStoreError>,
    ) -> Result<T, ReadStoreError> {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = match &mut *guard {
            Some(state) => state,
            empty => empty.insert(self.load()?),
        };
        f(state)
    }

    fn load(&self) -> Result<State, SearchError> {
        if self.options.is_some() {
            crate::store::create_private_dir(&self.dir).map_err(SearchError::io(
                "creating the projection's directory",
                &self.dir,
            ))?;
        }
        let catalog = Catalog::load(&self.dir)?;
        if self.options.is_some() {
            sweep(&self.dir, &catalog);
        }
        Ok(State {
            catalog,
            open: HashMap::new(),
        })
    }

    fn writable(&self) -> Result<SearchStoreOptions, SearchError> {
        self.options.ok_or(SearchError::ReadOnly)
    }

    fn no_generation(&self, generation: impl ToString) -> ReadStoreError {
        ReadStoreError::NoGeneration {
            projection: self.name.clone(),
            generation: generation.to_string(),
        }
    }

    pub(crate) fn serving(&self) -> Result<Option<ServingGeneration>, ReadStoreError> {
        self.with_state(|state| Ok(state.catalog.serving))
    }

    pub(crate) fn building(&self) -> Result<Vec<BuildingGeneration>, ReadStoreError> {
        self.with_state(|state| Ok(state.catalog.building.clone()))
    }

    /// The open index of `generation`, which the catalog must hold.
    pub(crate) fn generation(
        &self,
        generation: Generation,
    ) -> Result<Arc<GenerationIndex>, ReadStoreError> {
        self.with_state(|state| self.open(state, generation))
    }

    /// The serving generation and its open index.
    pub(crate) fn serving_index(
        &self,
    ) -> Result<(ServingGeneration, Arc<GenerationIndex>), ReadStoreError> {
        self.with_state(|state| {
            let serving = state
                .catalog
                .serving
                .ok_or_else(|| self.no_generation("serving"))?;
            Ok((serving, self.open(state, serving.generation)?))
        })
    }

    fn open(
        &self,
        state: &mut State,
        generation: Generation,
    ) -> Result<Arc<GenerationIndex>, ReadStoreError> {
        if !state.catalog.holds(generation) {
            return Err(self.no_generation(generation));
        }
        if let Some(open) = state.open.get(&generation) {
            return Ok(Arc::clone(open));
        }
        let index = Arc::new(GenerationIndex::open(
            &self.name,
            generation,
            &generation_dir(&self.dir, generation),
            self.options,
        )?);
        state.open.insert(generation, Arc::clone(&index));
        Ok(index)
    }

    /// Creates an empty generation of `schema`, listed as building by `version`; refused while
    /// another is building.
    pub(crate) fn create(
        &self,
        version: u32,
        schema: Schema,
    ) -> Result<Generation, ReadStoreError> {
        let options = self.writable()?;
        self.with_state(|state| {
            if let Some(building) = state.catalog.building.last() {
                return Err(ReadStoreError::BuildInProgress {
                    projection: self.name.clone(),
                    generation: building.generation,
                    version: building.version,
                });
            }
            let generation = Generation::new(state.catalog.highest + 1);
            let dir = generation_dir(&self.dir, generation);
            remove(&dir)?;
            let index = GenerationIndex::create(&self.name, generation, &dir, schema, options)?;
            let mut catalog = state.catalog.clone();
            catalog.highest = generation.get();
            catalog.building.push(BuildingGeneration {
                generation,
                version,
            });
            if let Err(error) = catalog.save(&self.dir) {
                drop(index);
                let _ = remove(&dir);
                return Err(error.into());
            }
            state.catalog = catalog;
            state.open.insert(generation, Arc::new(index));
            Ok(generation)
        })
    }

    /// Makes the building `generation` serve in place of `replacing`, as the caller saw it,
    /// and removes that one; refused, changing nothing, when another generation serves, the
    /// serving checkpoint moved, or `generation` is not building.
    pub(crate) fn activate(
        &self,
        generation: Generation,
        replacing: Option<ServingAt>,
    ) -> Result<(), ReadStoreError> {
        self.writable()?;
        self.with_state(|state| {
            let found = state.catalog.serving.map(|s| s.generation);
            if found != replacing.map(|r| r.generation) {
                return Err(ReadStoreError::ServingChanged {
                    projection: self.name.clone(),
                    expected: replacing.map(|r| r.generation),
                    found,
                });
            }
            let swap = |state: &mut State| {
                let Some(building) = state
                    .catalog
                    .building
                    .iter()
                    .find(|b| b.generation == generation)
                    .copied()
                else {
                    return Err(self.no_generation(generation));
                };
                let mut catalog = state.catalog.clone();
                catalog.building.retain(|b| b.generation != generation);
                catalog.serving = Some(ServingGeneration {
                    generation,
                    version: building.version,
                });
                catalog.save(&self.dir)?;
                state.catalog = catalog;
                Ok(())
            };
            match replacing {
                Some(replaced) => {
                    // Holding the replaced generation's writer keeps a batch from committing to
                    // it between the check of its checkpoint and the swap.
                    let old = self.open(state, replaced.generation)?;
                    old.retire_at(replaced.checkpoint, || swap(state))?;
                    self.forget(state, replaced.generation);
                }
                None => swap(state)?,
            }
            Ok(())
        })
    }

    /// Drops the building `generation` if its checkpoint is still `at`; a serving generation
    /// is never dropped, and one that is gone already stays gone.
    pub(crate) fn drop_generation(
        &self,
        generation: Generation,
        at: GlobalPosition,
    ) -> Result<(), ReadStoreError> {
        self.writable()?;
        self.with_state(|state| {
            if state.catalog.serving.map(|s| s.generation) == Some(generation) {
                return Err(ReadStoreError::ServingChanged {
                    projection: self.name.clone(),
                    expected: None,
                    found: Some(generation),
                });
            }
            if !state.catalog.holds(generation) {
                return Ok(());
            }
            let index = self.open(state, generation)?;
            index.retire_at(at, || {
                let mut catalog = state.catalog.clone();
                catalog.building.retain(|b| b.generation != generation);
                catalog.save(&self.dir)?;
                state.catalog = catalog;
                Ok(())
            })?;
            self.forget(state, generation);
            Ok(())
        })
    }

    /// Closes a generation that left the catalog and removes its directory. Searchers taken
    /// before keep reading it: its files stay mapped until they are done.
    fn forget(&self, state: &mut State, generation: Generation) {
        state.open.remove(&generation);
        let dir = generation_dir(&self.dir, generation);
        if let Err(error) = remove(&dir) {
            // Removed at the next start instead, as anything outside the catalog is.
            tracing::warn!(projection = %self.name, %generation, %error,
                "could not remove a retired search index");
        }
    }
}

/// Removes what a crash left in a projection's directory outside its catalog: generations
/// created but never listed, or retired but not yet removed, and a catalog never renamed
/// into place.
fn sweep(dir: &Path, catalog: &Catalog) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let listed = name
            .strip_prefix('g')
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| catalog.holds(Generation::new(n)));
        if name == CATALOG_FILE || listed {
            continue;
        }
        let path = entry.path();
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if let Err(error) = removed {
            tracing::warn!(path = %path.display(), %error, "could not remove a leftover of the search store");
        }
    }
}

/// Removes `dir` and everything in it, if it is there, durably.
fn remove(dir: &Path) -> Result<(), SearchError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(SearchError::io("removing an index", dir)(error)),
    }
    match dir.parent() {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}
