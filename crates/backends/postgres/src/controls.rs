//! [`PgControls`]: operators' pauses of projections in `projector.projection_controls`,
//! shared by every process on the database, so the process that takes a projection over
//! finds it paused, and the CLI can pause one a server runs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use projector_core::{Pause, ProjectionControls, ProjectionName, StoreError};

use crate::error::{store_error, store_pool_error};

/// Projection controls in PostgreSQL (created by the migrations).
#[derive(Clone, Debug)]
pub struct PgControls {
    pool: Pool,
}

impl PgControls {
    /// Controls kept through `pool` (for example the read store's, [`crate::PgReadStore::controls`]).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl ProjectionControls for PgControls {
    async fn paused(&self, projection: &ProjectionName) -> Result<Option<Pause>, StoreError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| store_pool_error("projection controls", e))?;
        let row = client
            .query_opt(
                "SELECT paused_since, paused_by FROM projector.projection_controls \
                 WHERE projection = $1",
                &[&projection.as_str()],
            )
            .await
            .map_err(|e| store_error("reading the projection controls", e))?;
        Ok(row.map(|row| Pause {
            since: row.get::<_, DateTime<Utc>>(0),
            by: row.get(1),
        }))
    }

    async fn set_paused(
        &self,
        projection: &ProjectionName,
        pause: Option<Pause>,
    ) -> Result<(), StoreError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| store_pool_error("projection controls", e))?;
        let written = match pause {
            Some(pause) => {
                client
                    .execute(
                        "INSERT INTO projector.projection_controls (projection, paused_since, paused_by) \
                         VALUES ($1, $2, $3) ON CONFLICT (projection) DO NOTHING",
                        &[&projection.as_str(), &pause.since, &pause.by],
                    )
                    .await
            }
            None => {
                client
                    .execute(
                        "DELETE FROM projector.projection_controls WHERE projection = $1",
                        &[&projection.as_str()],
                    )
                    .await
            }
        };
        written.map_err(|e| store_error("writing the projection controls", e))?;
        Ok(())
    }
}
