//! A SQL projection that starts from seeded rows, for states that would take far too many events
//! to reach for real (a sum a few cents short of `i64::MAX` is 92 000 of the largest orders).

use std::sync::Arc;

use async_trait::async_trait;
use projector_core::{
    EventFilter, PoisonPolicy, Projection, ProjectionError, ProjectionName, RecordedEvent,
};
use projector_sql::{SqlProjection, SqlTransaction};

/// `inner`, with `seed` run in each batch's transaction before the batch.
///
/// The statements run in every batch, so a batch that is rolled back (or a rebuild's first one)
/// is seeded too; they must therefore be idempotent, e.g. `INSERT ... ON CONFLICT DO NOTHING`.
/// Its name, version and filter are the inner projection's, so it stands in for it anywhere.
pub struct Seeded {
    inner: Arc<dyn SqlProjection>,
    seed: Vec<String>,
}

impl Seeded {
    /// `inner`, seeded by `seed` (portable SQL, no parameters).
    pub fn new(inner: Arc<dyn SqlProjection>, seed: Vec<String>) -> Self {
        Self { inner, seed }
    }
}

impl std::fmt::Debug for Seeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seeded")
            .field("projection", &self.inner.name())
            .field("seed", &self.seed)
            .finish()
    }
}

impl Projection for Seeded {
    fn name(&self) -> ProjectionName {
        self.inner.name()
    }

    fn version(&self) -> u32 {
        self.inner.version()
    }

    fn handles(&self) -> EventFilter {
        self.inner.handles()
    }

    fn poison_policy(&self) -> PoisonPolicy {
        self.inner.poison_policy()
    }
}

#[async_trait]
impl SqlProjection for Seeded {
    fn schema(&self) -> &[&str] {
        self.inner.schema()
    }

    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for statement in &self.seed {
            tx.execute(statement, &[])
                .await
                .map_err(|e| ProjectionError {
                    position: None,
                    transient: e.is_transient(),
                    message: format!("seeding {}: {e}", self.inner.name()),
                })?;
        }
        self.inner.apply(tx, events).await
    }
}
