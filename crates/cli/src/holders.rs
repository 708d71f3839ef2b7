//! Who holds the projections' leases on PostgreSQL, for the server's admin API and dashboard.

use std::collections::BTreeMap;

use async_trait::async_trait;
use projector_core::ProjectionName;
use projector_postgres::PgLeases;
use projector_server::LeaseHolders;

/// The holders as PostgreSQL lists them: each session's label, backend, address and start.
pub(crate) struct PgLeaseHolders(pub(crate) PgLeases);

#[async_trait]
impl LeaseHolders for PgLeaseHolders {
    async fn holders(
        &self,
        projections: &[ProjectionName],
    ) -> Result<BTreeMap<ProjectionName, String>, String> {
        let holders = self
            .0
            .holders(projections)
            .await
            .map_err(|e| e.to_string())?;
        Ok(holders
            .into_iter()
            .map(|(name, holder)| (name, holder.to_string()))
            .collect())
    }
}
