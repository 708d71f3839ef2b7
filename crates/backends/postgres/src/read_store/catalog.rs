//! The catalog, `projector.generations`: which generations of each projection exist, which
//! schema holds each, and which one serves reads. Changes to it take a transaction-level
//! advisory lock, so two processes never number or swap generations at the same time.

use projector_core::{
    BuildingGeneration, Generation, GlobalPosition, Partition, ProjectionName, ReadStoreError,
    ServingAt, ServingGeneration, partitions_caught_up,
};
use tokio_postgres::error::SqlState;

use crate::error::read_store_error;
use crate::read_store::generation::partition_positions;
use crate::rows::to_u64;

/// The advisory lock key that serializes catalog changes across processes.
const CATALOG_LOCK: i64 = 0x7072_6f6a_6361_7461;

/// The schema holding `projection`'s `generation`: `rm_<projection>_g<n>`. Projection names
/// are at most 48 lowercase letters, digits and `_`, so this is a plain identifier within
/// PostgreSQL's 63 bytes.
pub(crate) fn schema_name(projection: &ProjectionName, generation: Generation) -> String {
    format!("rm_{projection}_g{}", generation.get())
}

/// `name` quoted as an identifier.
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn err(context: &'static str) -> impl Fn(tokio_postgres::Error) -> ReadStoreError {
    move |e| read_store_error(context, e)
}

/// Takes the catalog lock for the rest of `tx`.
pub(crate) async fn lock(tx: &deadpool_postgres::Transaction<'_>) -> Result<(), ReadStoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CATALOG_LOCK])
        .await
        .map_err(err("locking the catalog"))?;
    Ok(())
}

/// The generation serving `projection`.
pub(crate) async fn serving(
    client: &deadpool_postgres::Client,
    projection: &ProjectionName,
) -> Result<Option<ServingGeneration>, ReadStoreError> {
    let statement = client
        .prepare_cached(
            "SELECT generation, version FROM projector.generations WHERE projection = $1 AND state = 'serving'",
        )
        .await
        .map_err(err("reading the catalog"))?;
    let row = client
        .query_opt(&statement, &[&projection.as_str()])
        .await
        .map_err(err("reading the catalog"))?;
    row.map(|row| {
        let generation: i32 = row.try_get(0).map_err(err("reading the catalog"))?;
        let version: i32 = row.try_get(1).map_err(err("reading the catalog"))?;
        Ok(ServingGeneration {
            generation: Generation::new(u32::try_from(generation).unwrap_or(0)),
            version: u32::try_from(version).unwrap_or(0),
        })
    })
    .transpose()
}

/// The building generations of `projection` and the versions that created them, oldest first.
pub(crate) async fn building(
    client: &deadpool_postgres::Client,
    projection: &ProjectionName,
) -> Result<Vec<BuildingGeneration>, ReadStoreError> {
    let statement = client
        .prepare_cached(
            "SELECT generation, version FROM projector.generations \
             WHERE projection = $1 AND state = 'building' ORDER BY generation",
        )
        .await
        .map_err(err("reading the catalog"))?;
    let rows = client
        .query(&statement, &[&projection.as_str()])
        .await
        .map_err(err("reading the catalog"))?;
    rows.iter()
        .map(|row| {
            let generation: i32 = row.try_get(0).map_err(err("reading the catalog"))?;
            let version: i32 = row.try_get(1).map_err(err("reading the catalog"))?;
            Ok(BuildingGeneration {
                generation: Generation::new(u32::try_from(generation).unwrap_or(0)),
                version: u32::try_from(version).unwrap_or(0),
            })
        })
        .collect()
}

/// Registers a new building generation of `projection`, numbered after every generation ever
/// made, in `tx` (which holds the catalog lock). Refused when one is building already: one
/// generation of a projection is built at a time, and an abandoned one is dropped first.
pub(crate) async fn add_building(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
    version: u32,
) -> Result<Generation, ReadStoreError> {
    let building = tx
        .query_opt(
            "SELECT generation, version FROM projector.generations \
             WHERE projection = $1 AND state = 'building' ORDER BY generation LIMIT 1",
            &[&projection.as_str()],
        )
        .await
        .map_err(err("reading the catalog"))?;
    if let Some(row) = building {
        let generation: i32 = row.try_get(0).map_err(err("reading the catalog"))?;
        let version: i32 = row.try_get(1).map_err(err("reading the catalog"))?;
        return Err(ReadStoreError::BuildInProgress {
            projection: projection.clone(),
            generation: Generation::new(u32::try_from(generation).unwrap_or(0)),
            version: u32::try_from(version).unwrap_or(0),
        });
    }
    let row = tx
        .query_one(
            "SELECT coalesce(max(generation), 0) + 1 FROM projector.generations WHERE projection = $1",
            &[&projection.as_str()],
        )
        .await
        .map_err(err("numbering a generation"))?;
    let next: i32 = row.try_get(0).map_err(err("numbering a generation"))?;
    let generation = Generation::new(u32::try_from(next).unwrap_or(1));
    let version = i32::try_from(version).unwrap_or(i32::MAX);
    tx.execute(
        "INSERT INTO projector.generations (projection, generation, version, state, schema_name) \
         VALUES ($1, $2, $3, 'building', $4)",
        &[
            &projection.as_str(),
            &next,
            &version,
            &schema_name(projection, generation),
        ],
    )
    .await
    .map_err(err("registering a generation"))?;
    Ok(generation)
}

/// Makes the building `generation` serve `projection` in place of `replacing`, retires the
/// one it replaces and drops its schema, all in `tx` (which holds the catalog lock). Refused,
/// changing nothing, when the serving generation or its checkpoint is not what the caller saw.
pub(crate) async fn activate(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
    generation: Generation,
    replacing: Option<ServingAt>,
    slot: Option<Partition>,
) -> Result<(), ReadStoreError> {
    let number = i32::try_from(generation.get()).unwrap_or(i32::MAX);
    let found = serving_in(tx, projection).await?;
    if found != replacing.map(|r| r.generation) {
        return Err(ReadStoreError::ServingChanged {
            projection: projection.clone(),
            expected: replacing.map(|r| r.generation),
            found,
        });
    }
    if let Some(replacing) = replacing {
        // Locking the checkpoint row waits for a batch in flight, and holds off the next one
        // until the swap commits and the schema is gone.
        let at = locked_checkpoint(tx, projection, replacing.generation, slot).await?;
        if at != Some(replacing.checkpoint) {
            return Err(ReadStoreError::CheckpointMoved {
                projection: projection.clone(),
                expected: replacing.checkpoint,
                found: at.unwrap_or(GlobalPosition::ZERO),
            });
        }
    }
    if let (Some(replacing), Some(_)) = (replacing, slot) {
        // A generation built as partitions serves once every partition has caught up with its
        // counterpart, whose rows stay locked until the swap commits.
        let built = partition_positions(tx, projection, generation, false).await?;
        let replaced = partition_positions(tx, projection, replacing.generation, true).await?;
        partitions_caught_up(&built, &replaced).map_err(|behind| ReadStoreError::Unavailable {
            message: format!("{projection} {generation} waits: {behind}"),
            source: None,
        })?;
    }
    // The old one goes first: at most one generation serves (a unique index says so). A
    // refusal below rolls both back.
    if let Some(replacing) = replacing {
        let old = i32::try_from(replacing.generation.get()).unwrap_or(i32::MAX);
        tx.execute(
            "UPDATE projector.generations SET state = 'retired' WHERE projection = $1 AND generation = $2",
            &[&projection.as_str(), &old],
        )
        .await
        .map_err(err("swapping generations"))?;
    }
    let changed = tx
        .execute(
            "UPDATE projector.generations SET state = 'serving' \
             WHERE projection = $1 AND generation = $2 AND state = 'building'",
            &[&projection.as_str(), &number],
        )
        .await
        .map_err(err("swapping generations"))?;
    if changed != 1 {
        return Err(ReadStoreError::NoGeneration {
            projection: projection.clone(),
            generation: generation.to_string(),
        });
    }
    if let Some(replacing) = replacing {
        drop_schema(tx, projection, replacing.generation).await?;
    }
    Ok(())
}

/// Retires a building generation whose checkpoint is still `at` and drops its schema, in `tx`
/// (which holds the catalog lock). A generation that is gone already is left so.
pub(crate) async fn retire(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
    generation: Generation,
    at: GlobalPosition,
    slot: Option<Partition>,
) -> Result<(), ReadStoreError> {
    let number = i32::try_from(generation.get()).unwrap_or(i32::MAX);
    let state = tx
        .query_opt(
            "SELECT state FROM projector.generations WHERE projection = $1 AND generation = $2 FOR UPDATE",
            &[&projection.as_str(), &number],
        )
        .await
        .map_err(err("retiring a generation"))?;
    let state: Option<String> = state
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(err("retiring a generation"))?;
    match state.as_deref() {
        Some("serving") => {
            return Err(ReadStoreError::ServingChanged {
                projection: projection.clone(),
                expected: None,
                found: Some(generation),
            });
        }
        Some("building") => {
            if let Some(found) = locked_checkpoint(tx, projection, generation, slot).await?
                && found != at
            {
                return Err(ReadStoreError::CheckpointMoved {
                    projection: projection.clone(),
                    expected: at,
                    found,
                });
            }
        }
        _ => {}
    }
    tx.execute(
        "UPDATE projector.generations SET state = 'retired' WHERE projection = $1 AND generation = $2",
        &[&projection.as_str(), &number],
    )
    .await
    .map_err(err("retiring a generation"))?;
    drop_schema(tx, projection, generation).await
}

/// The serving generation of `projection`, its catalog row locked for the rest of `tx`.
async fn serving_in(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
) -> Result<Option<Generation>, ReadStoreError> {
    let row = tx
        .query_opt(
            "SELECT generation FROM projector.generations \
             WHERE projection = $1 AND state = 'serving' FOR UPDATE",
            &[&projection.as_str()],
        )
        .await
        .map_err(err("reading the catalog"))?;
    row.map(|row| {
        let generation: i32 = row.try_get(0).map_err(err("reading the catalog"))?;
        Ok(Generation::new(u32::try_from(generation).unwrap_or(0)))
    })
    .transpose()
}

/// The checkpoint position of a generation (of the partition `slot`, when the generation was
/// built as partitions), its row locked for the rest of `tx`; `None` when the generation's
/// schema is gone.
pub(crate) async fn locked_checkpoint(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
    generation: Generation,
    slot: Option<Partition>,
) -> Result<Option<GlobalPosition>, ReadStoreError> {
    let name = schema_name(projection, generation);
    let schema = quoted(&name);
    let partition = match slot {
        Some(p) if crate::read_store::generation::partitions_table(tx, &name).await? => {
            Some(i32::from(p.index()))
        }
        _ => None,
    };
    let row = match partition {
        Some(index) => {
            tx.query_opt(
                &format!(
                    "SELECT position FROM {schema}._projector_partitions WHERE partition = $1 FOR UPDATE"
                ),
                &[&index],
            )
            .await
        }
        None => {
            tx.query_opt(
                &format!(
                    "SELECT position FROM {schema}._projector_checkpoint WHERE id = 1 FOR UPDATE"
                ),
                &[],
            )
            .await
        }
    };
    match row {
        Ok(row) => row
            .map(|row| {
                row.try_get::<_, i64>(0)
                    .map(|p| GlobalPosition::new(to_u64(p)))
            })
            .transpose()
            .map_err(err("reading a checkpoint")),
        Err(error)
            if error.code().is_some_and(|c| {
                *c == SqlState::UNDEFINED_TABLE || *c == SqlState::INVALID_SCHEMA_NAME
            }) =>
        {
            Ok(None)
        }
        Err(error) => Err(read_store_error("reading a checkpoint", error)),
    }
}

async fn drop_schema(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
    generation: Generation,
) -> Result<(), ReadStoreError> {
    tx.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {} CASCADE",
        quoted(&schema_name(projection, generation))
    ))
    .await
    .map_err(err("dropping a generation"))
}
