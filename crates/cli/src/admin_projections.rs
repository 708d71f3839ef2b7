//! `GET /admin/projections` as the commands that follow a server read it (`rebuild --server`,
//! `status --server`): the fields they use, the rest ignored.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::admin_client::AdminClient;

/// Every projection of the server.
#[derive(Debug, Deserialize)]
pub(crate) struct ProjectionList {
    pub(crate) head: u64,
    pub(crate) projections: Vec<ProjectionView>,
    #[serde(default)]
    pub(crate) relay: Option<RelayView>,
}

/// One projection, as the server sees it.
#[derive(Debug, Deserialize)]
pub(crate) struct ProjectionView {
    pub(crate) name: String,
    pub(crate) version: u32,
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) error: Option<String>,
    pub(crate) generation: Option<u32>,
    pub(crate) checkpoint: u64,
    pub(crate) lag_events: u64,
    pub(crate) last_event_at: Option<DateTime<Utc>>,
    pub(crate) dead_letters: u64,
    pub(crate) rebuild: Option<RebuildView>,
    pub(crate) local: bool,
    /// Whether an operator paused it, when and by whom.
    #[serde(default)]
    pub(crate) paused: bool,
    #[serde(default)]
    pub(crate) paused_since: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) paused_by: Option<String>,
}

/// A rebuild in progress on the server.
#[derive(Debug, Deserialize)]
pub(crate) struct RebuildView {
    pub(crate) generation: u32,
    pub(crate) checkpoint: u64,
    pub(crate) remaining_events: u64,
}

/// The server's relay to NATS.
#[derive(Debug, Deserialize)]
pub(crate) struct RelayView {
    pub(crate) published: u64,
    pub(crate) lag_events: u64,
}

/// The server's projections, now.
pub(crate) async fn list(server: &AdminClient) -> anyhow::Result<ProjectionList> {
    server.get("projections").await
}

impl ProjectionList {
    /// The projection called `name`.
    pub(crate) fn find(&self, name: &str) -> anyhow::Result<&ProjectionView> {
        self.projections
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| anyhow::anyhow!("the server has no projection {name}"))
    }
}
