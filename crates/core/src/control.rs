//! Operators' controls of a projection, kept apart from its read model so every kind of read
//! model (SQL tables, a cache, a search index) is paused the same way, and a pause outlives
//! the process and passes to whichever process takes the projection over.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::ids::ProjectionName;

/// A projection an operator paused: it applies nothing until resumed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// When it was paused.
    pub since: DateTime<Utc>,
    /// Who paused it: the caller's id, or `anonymous`.
    pub by: String,
}

/// Where the controls of projections are kept: beside the read store's catalog, so every
/// process on one database sees the same ones.
#[async_trait]
pub trait ProjectionControls: Send + Sync + 'static {
    /// The pause of `projection`, if it is paused.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the storage cannot be reached.
    async fn paused(&self, projection: &ProjectionName) -> Result<Option<Pause>, StoreError>;

    /// Pauses `projection` (`Some`) or lifts its pause (`None`).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the storage cannot be reached.
    async fn set_paused(
        &self,
        projection: &ProjectionName,
        pause: Option<Pause>,
    ) -> Result<(), StoreError>;
}

/// Controls kept in memory, lost with the process: for tests and a projector given no store.
#[derive(Debug, Default)]
pub struct MemoryControls {
    paused: std::sync::Mutex<std::collections::BTreeMap<ProjectionName, Pause>>,
}

#[async_trait]
impl ProjectionControls for MemoryControls {
    async fn paused(&self, projection: &ProjectionName) -> Result<Option<Pause>, StoreError> {
        let paused = self
            .paused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(paused.get(projection).cloned())
    }

    async fn set_paused(
        &self,
        projection: &ProjectionName,
        pause: Option<Pause>,
    ) -> Result<(), StoreError> {
        let mut paused = self
            .paused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match pause {
            Some(pause) => paused.insert(projection.clone(), pause),
            None => paused.remove(projection),
        };
        Ok(())
    }
}
