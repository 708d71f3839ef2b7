//! The catalog: which generations exist and which one serves each projection's reads.
//!
//! It is its own small database, committed with `synchronous=FULL`: it is the pointer that
//! says which read-model file is live, and a swap must never be half-remembered.

use std::path::Path;

use chrono::Utc;
use projector_core::{
    BuildingGeneration, Generation, ProjectionName, ReadStoreError, ServingGeneration,
};
use projector_sql::sql_time;
use rusqlite::{Connection, OptionalExtension, params};

use crate::connection::{open_reader, open_writer};
use crate::durability::Durability;
use crate::error::read_store_error;

/// The state of a generation in the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GenerationState {
    /// Being filled; not serving reads.
    Building,
    /// Serving reads.
    Serving,
}

impl GenerationState {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "building" => Some(GenerationState::Building),
            "serving" => Some(GenerationState::Serving),
            _ => None,
        }
    }
}

/// A generation the catalog knows to exist.
#[derive(Clone, Debug)]
pub(crate) struct LiveGeneration {
    pub(crate) projection: ProjectionName,
    pub(crate) generation: Generation,
    pub(crate) state: GenerationState,
}

/// The catalog connection. Calls are blocking and short.
#[derive(Debug)]
pub(crate) struct Catalog {
    conn: Connection,
}

fn err(context: &'static str) -> impl Fn(rusqlite::Error) -> ReadStoreError {
    move |e| read_store_error(context, e)
}

impl Catalog {
    /// Opens the catalog in `dir`, creating it unless `read_only`.
    pub(crate) fn open(dir: &Path, read_only: bool) -> Result<Self, ReadStoreError> {
        let path = dir.join("catalog.db");
        if read_only {
            let conn = open_reader(&path).map_err(err("opening the catalog"))?;
            return Ok(Self { conn });
        }
        let conn = open_writer(&path, Durability::Full).map_err(err("opening the catalog"))?;
        conn.execute_batch(include_str!("../sql/catalog_schema.sql"))
            .map_err(err("creating the catalog"))?;
        Ok(Self { conn })
    }

    /// Every generation that is building or serving.
    pub(crate) fn live(&self) -> Result<Vec<LiveGeneration>, ReadStoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT projection, generation, state FROM generations \
                 WHERE state IN ('building', 'serving') ORDER BY projection, generation",
            )
            .map_err(err("reading the catalog"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(err("reading the catalog"))?;
        let mut live = Vec::new();
        for row in rows {
            let (projection, generation, state) = row.map_err(err("reading the catalog"))?;
            let corrupt = |what: &str| ReadStoreError::Unavailable {
                message: format!("corrupt catalog row: {what}"),
                source: None,
            };
            live.push(LiveGeneration {
                projection: ProjectionName::parse(projection)
                    .map_err(|e| corrupt(&e.to_string()))?,
                generation: Generation::new(generation),
                state: GenerationState::parse(&state).ok_or_else(|| corrupt(&state))?,
            });
        }
        Ok(live)
    }

    /// The generation serving `projection`.
    pub(crate) fn serving(
        &self,
        projection: &ProjectionName,
    ) -> Result<Option<ServingGeneration>, ReadStoreError> {
        self.conn
            .prepare_cached(
                "SELECT generation, version FROM generations WHERE projection = ?1 AND state = 'serving'",
            )
            .and_then(|mut s| {
                s.query_row([projection.as_str()], |r| {
                    Ok(ServingGeneration {
                        generation: Generation::new(r.get(0)?),
                        version: r.get(1)?,
                    })
                })
                .optional()
            })
            .map_err(err("reading the catalog"))
    }

    /// The building generations of `projection` and the versions that created them, oldest
    /// first.
    pub(crate) fn building(
        &self,
        projection: &ProjectionName,
    ) -> Result<Vec<BuildingGeneration>, ReadStoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT generation, version FROM generations \
                 WHERE projection = ?1 AND state = 'building' ORDER BY generation",
            )
            .map_err(err("reading the catalog"))?;
        let rows = stmt
            .query_map([projection.as_str()], |r| {
                Ok(BuildingGeneration {
                    generation: Generation::new(r.get(0)?),
                    version: r.get(1)?,
                })
            })
            .map_err(err("reading the catalog"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(err("reading the catalog"))
    }

    /// Registers a new building generation, numbered after every generation ever made.
    /// Refused when one is building already: one generation of a projection is built at a
    /// time, and an abandoned one is dropped first.
    pub(crate) fn add_building(
        &mut self,
        projection: &ProjectionName,
        version: u32,
    ) -> Result<Generation, ReadStoreError> {
        let tx = self
            .conn
            .transaction()
            .map_err(err("registering a generation"))?;
        let building: Option<(u32, u32)> = tx
            .prepare_cached(
                "SELECT generation, version FROM generations \
                 WHERE projection = ?1 AND state = 'building' ORDER BY generation LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row([projection.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(err("reading the catalog"))?;
        if let Some((generation, version)) = building {
            return Err(ReadStoreError::BuildInProgress {
                projection: projection.clone(),
                generation: Generation::new(generation),
                version,
            });
        }
        let next: u32 = tx
            .prepare_cached(
                "SELECT coalesce(max(generation), 0) + 1 FROM generations WHERE projection = ?1",
            )
            .and_then(|mut s| s.query_row([projection.as_str()], |r| r.get(0)))
            .map_err(err("numbering a generation"))?;
        tx.prepare_cached(
            "INSERT INTO generations (projection, generation, version, state, created_at) \
             VALUES (?1, ?2, ?3, 'building', ?4)",
        )
        .and_then(|mut s| {
            s.execute(params![
                projection.as_str(),
                next,
                version,
                sql_time(Utc::now())
            ])
        })
        .map_err(err("registering a generation"))?;
        tx.commit().map_err(err("registering a generation"))?;
        Ok(Generation::new(next))
    }

    /// Makes the building `generation` serve `projection` in place of `replacing`, and
    /// retires that one, in one transaction. Refused, changing nothing, when another
    /// generation serves ([`ReadStoreError::ServingChanged`]) or `generation` is not building
    /// ([`ReadStoreError::NoGeneration`]).
    pub(crate) fn activate(
        &mut self,
        projection: &ProjectionName,
        generation: Generation,
        replacing: Option<Generation>,
    ) -> Result<(), ReadStoreError> {
        let tx = self
            .conn
            .transaction()
            .map_err(err("swapping generations"))?;
        let found: Option<u32> = tx
            .query_row(
                "SELECT generation FROM generations WHERE projection = ?1 AND state = 'serving'",
                [projection.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(err("swapping generations"))?;
        let found = found.map(Generation::new);
        if found != replacing {
            return Err(ReadStoreError::ServingChanged {
                projection: projection.clone(),
                expected: replacing,
                found,
            });
        }
        tx.execute(
            "UPDATE generations SET state = 'retired' WHERE projection = ?1 AND state = 'serving'",
            [projection.as_str()],
        )
        .map_err(err("swapping generations"))?;
        let changed = tx
            .execute(
                "UPDATE generations SET state = 'serving' \
                 WHERE projection = ?1 AND generation = ?2 AND state = 'building'",
                params![projection.as_str(), generation.get()],
            )
            .map_err(err("swapping generations"))?;
        if changed != 1 {
            return Err(ReadStoreError::NoGeneration {
                projection: projection.clone(),
                generation: generation.to_string(),
            });
        }
        tx.commit().map_err(err("swapping generations"))
    }

    /// Marks a generation retired; its files may then be deleted.
    pub(crate) fn retire(
        &self,
        projection: &ProjectionName,
        generation: Generation,
    ) -> Result<(), ReadStoreError> {
        self.conn
            .execute(
                "UPDATE generations SET state = 'retired' WHERE projection = ?1 AND generation = ?2",
                params![projection.as_str(), generation.get()],
            )
            .map_err(err("retiring a generation"))?;
        Ok(())
    }
}
