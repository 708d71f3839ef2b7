//! [`SqliteControls`]: operators' pauses of projections, in a table of the read store's
//! catalog database (`catalog.db`), so they outlive the process and the CLI can set them
//! beside a running server.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use projector_core::{Pause, ProjectionControls, ProjectionName, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::connection::open_writer;
use crate::durability::Durability;
use crate::error::{join_error, store_error};

/// The controls of the projections whose read models are in one directory.
#[derive(Clone, Debug)]
pub struct SqliteControls {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteControls {
    /// Opens (creating if needed) the controls in the read store directory `dir`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the catalog database cannot be opened.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        crate::connection::create_private_dir(dir.as_ref()).map_err(|e| {
            StoreError::Unavailable {
                message: format!("cannot create {}: {e}", dir.as_ref().display()),
                source: Some(Box::new(e)),
            }
        })?;
        let path = dir.as_ref().join("catalog.db");
        let conn = open_writer(&path, Durability::Full)
            .map_err(|e| store_error("opening the catalog", e))?;
        conn.execute_batch(include_str!("sql/controls_schema.sql"))
            .map_err(|e| store_error("creating the projection controls", e))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || f(&conn.lock().unwrap_or_else(PoisonError::into_inner)))
            .await
            .map_err(|e| StoreError::Unavailable {
                message: join_error(e),
                source: None,
            })?
    }
}

#[async_trait]
impl ProjectionControls for SqliteControls {
    async fn paused(&self, projection: &ProjectionName) -> Result<Option<Pause>, StoreError> {
        let projection = projection.to_string();
        self.blocking(move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT paused_since, paused_by FROM projection_controls WHERE projection = ?1",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(params![projection], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })
                    .optional()
                })
                .map_err(|e| store_error("reading the projection controls", e))?;
            row.map(|(since, by)| {
                let since = DateTime::parse_from_rfc3339(&since)
                    .map_err(|e| StoreError::Unavailable {
                        message: format!("corrupt pause time {since:?}: {e}"),
                        source: None,
                    })?
                    .with_timezone(&Utc);
                Ok(Pause { since, by })
            })
            .transpose()
        })
        .await
    }

    async fn set_paused(
        &self,
        projection: &ProjectionName,
        pause: Option<Pause>,
    ) -> Result<(), StoreError> {
        let projection = projection.to_string();
        self.blocking(move |conn| {
            match pause {
                Some(pause) => conn.execute(
                    "INSERT INTO projection_controls (projection, paused_since, paused_by) \
                     VALUES (?1, ?2, ?3) ON CONFLICT (projection) DO NOTHING",
                    params![projection, pause.since.to_rfc3339(), pause.by],
                ),
                None => conn.execute(
                    "DELETE FROM projection_controls WHERE projection = ?1",
                    params![projection],
                ),
            }
            .map_err(|e| store_error("writing the projection controls", e))?;
            Ok(())
        })
        .await
    }
}
