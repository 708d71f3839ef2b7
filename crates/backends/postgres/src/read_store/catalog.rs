//! The catalog, `projector.generations`: which generations of each projection exist, which
//! schema holds each, and which one serves reads. Changes to it take a transaction-level
//! advisory lock, so two processes never number or swap generations at the same time.

use projector_core::{
    BuildingGeneration, Generation, ProjectionName, ReadStoreError, ServingGeneration,
};

use crate::error::read_store_error;

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
/// made, and drops any other building generation of it: the caller owns the projection (one
/// process at a time does, see [`crate::PgLeases`]), and its worker carries on a building
/// generation of its own version rather than create another, so any left were abandoned.
pub(crate) async fn add_building(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
    version: u32,
) -> Result<Generation, ReadStoreError> {
    let abandoned = tx
        .query(
            "UPDATE projector.generations SET state = 'retired' \
             WHERE projection = $1 AND state = 'building' RETURNING schema_name",
            &[&projection.as_str()],
        )
        .await
        .map_err(err("retiring abandoned generations"))?;
    for row in abandoned {
        let schema: &str = row
            .try_get(0)
            .map_err(err("retiring abandoned generations"))?;
        tracing::info!(%projection, schema, "dropping a generation whose rebuild did not finish");
        tx.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", quoted(schema)))
            .await
            .map_err(err("dropping an abandoned generation"))?;
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

/// Makes `generation` serve `projection`, retires the one it replaces and drops its schema,
/// all in `tx`.
pub(crate) async fn activate(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
    generation: Generation,
) -> Result<(), ReadStoreError> {
    let number = i32::try_from(generation.get()).unwrap_or(i32::MAX);
    let previous = tx
        .query_opt(
            "UPDATE projector.generations SET state = 'retired' \
             WHERE projection = $1 AND state = 'serving' RETURNING generation, schema_name",
            &[&projection.as_str()],
        )
        .await
        .map_err(err("swapping generations"))?;
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
    if let Some(previous) = previous {
        let old: i32 = previous.try_get(0).map_err(err("swapping generations"))?;
        let schema: &str = previous.try_get(1).map_err(err("swapping generations"))?;
        if old != number {
            tx.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", quoted(schema)))
                .await
                .map_err(err("dropping the replaced generation"))?;
        }
    }
    Ok(())
}

/// Retires a generation that does not serve and drops its schema, in `tx`.
pub(crate) async fn retire(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
    generation: Generation,
) -> Result<(), ReadStoreError> {
    let number = i32::try_from(generation.get()).unwrap_or(i32::MAX);
    let state = tx
        .query_opt(
            "SELECT state FROM projector.generations WHERE projection = $1 AND generation = $2",
            &[&projection.as_str(), &number],
        )
        .await
        .map_err(err("retiring a generation"))?;
    if let Some(row) = state {
        let state: &str = row.try_get(0).map_err(err("retiring a generation"))?;
        if state == "serving" {
            return Err(ReadStoreError::Unavailable {
                message: format!("{projection} {generation} serves reads; activate another first"),
                source: None,
            });
        }
    }
    tx.execute(
        "UPDATE projector.generations SET state = 'retired' WHERE projection = $1 AND generation = $2",
        &[&projection.as_str(), &number],
    )
    .await
    .map_err(err("retiring a generation"))?;
    tx.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {} CASCADE",
        quoted(&schema_name(projection, generation))
    ))
    .await
    .map_err(err("dropping a generation"))?;
    Ok(())
}
