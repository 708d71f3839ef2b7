//! A projection's catalog: the generation serving its reads with the version that built it,
//! the generations being built, and the highest number handed out. One small JSON file per
//! projection, replaced whole and atomically, so a crash leaves the old catalog or the new one.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use projector_core::{BuildingGeneration, Generation, ServingGeneration};
use serde::{Deserialize, Serialize};

use crate::error::SearchError;

/// The catalog's file in a projection's directory.
pub(crate) const CATALOG_FILE: &str = "catalog.json";
/// Where a new catalog is written before it replaces the old one.
const CATALOG_TEMP: &str = "catalog.json.tmp";

/// What a projection's directory holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Catalog {
    /// The highest generation number handed out: numbers are never used twice.
    pub(crate) highest: u32,
    /// The generation serving reads.
    pub(crate) serving: Option<ServingGeneration>,
    /// The generations being built, oldest first.
    pub(crate) building: Vec<BuildingGeneration>,
}

impl Catalog {
    /// The catalog in `dir`; an empty one when there is none yet.
    pub(crate) fn load(dir: &Path) -> Result<Self, SearchError> {
        let path = dir.join(CATALOG_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                SearchError::Corrupt(format!(
                    "a catalog that does not parse ({e}) in {}",
                    path.display()
                ))
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(SearchError::io("reading the catalog", path)(error)),
        }
    }

    /// Writes the catalog to `dir` in place of the one there: to a temporary file, synced,
    /// renamed over the old one, and the directory synced, so the rename itself is durable.
    pub(crate) fn save(&self, dir: &Path) -> Result<(), SearchError> {
        let temp = dir.join(CATALOG_TEMP);
        let path = dir.join(CATALOG_FILE);
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| SearchError::Corrupt(format!("a catalog that does not encode: {e}")))?;
        let mut file =
            File::create(&temp).map_err(SearchError::io("writing the catalog", &temp))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(SearchError::io("writing the catalog", &temp))?;
        fs::rename(&temp, &path).map_err(SearchError::io("replacing the catalog", &path))?;
        sync_dir(dir)
    }

    /// Whether `generation` serves or is being built.
    pub(crate) fn holds(&self, generation: Generation) -> bool {
        self.serving.is_some_and(|s| s.generation == generation)
            || self.building.iter().any(|b| b.generation == generation)
    }
}

/// Makes the entries of `dir` (files created, renamed or removed in it) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), SearchError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(SearchError::io("syncing the directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_catalog_loads_back_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(
            Catalog::load(dir.path()).expect("empty"),
            Catalog::default()
        );
        let catalog = Catalog {
            highest: 3,
            serving: Some(ServingGeneration {
                generation: Generation::new(2),
                version: 1,
            }),
            building: vec![BuildingGeneration {
                generation: Generation::new(3),
                version: 2,
            }],
        };
        catalog.save(dir.path()).expect("save");
        assert_eq!(Catalog::load(dir.path()).expect("load"), catalog);
        assert!(!dir.path().join(CATALOG_TEMP).exists());
        assert!(catalog.holds(Generation::new(2)) && catalog.holds(Generation::new(3)));
        assert!(!catalog.holds(Generation::new(1)));
    }

    #[test]
    fn a_catalog_that_does_not_parse_is_corrupt() {
        let dir = tempfile::tempdir().expect("dir");
        fs::write(dir.path().join(CATALOG_FILE), "{").expect("write");
        assert!(matches!(
            Catalog::load(dir.path()),
            Err(SearchError::Corrupt(_))
        ));
    }
}
