//! `projector status --server URL`: the report of a running server's admin API
//! (`GET /admin/projections`), in the same shape as one read from the stores, with each
//! worker's state beside it.

use crate::admin_client::AdminClient;
use crate::admin_projections::{self, ProjectionView};

use super::{Line, RebuildLine, RelayLine, Report};

/// What the server says about its projections, as a report.
pub(super) async fn report(server: &AdminClient) -> anyhow::Result<Report> {
    let list = admin_projections::list(server).await?;
    let head = list.head;
    Ok(Report {
        storage: format!("server {}", server.base()),
        head,
        projections: list
            .projections
            .into_iter()
            .map(|p| line(p, head))
            .collect(),
        relay: list.relay.map(|relay| RelayLine {
            stream: "of the server".to_owned(),
            published: relay.published,
            lag_events: relay.lag_events,
        }),
    })
}

fn line(projection: ProjectionView, head: u64) -> Line {
    Line {
        ahead_of_head: projection.state == "diverged",
        state: Some(projection.state),
        projection: projection.name,
        generation: projection.generation.map(|g| format!("g{g}")),
        version: Some(projection.version),
        checkpoint: projection.checkpoint,
        head,
        lag_events: projection.lag_events,
        last_event_at: projection.last_event_at.map(|t| t.to_rfc3339()),
        dead_letters: usize::try_from(projection.dead_letters).unwrap_or(usize::MAX),
        rebuild: projection.rebuild.map(|r| RebuildLine {
            generation: format!("g{}", r.generation),
            checkpoint: r.checkpoint,
            remaining_events: r.remaining_events,
        }),
        local: projection.local,
        lease: None,
        paused: projection.paused,
        paused_since: projection.paused_since.map(|t| t.to_rfc3339()),
        paused_by: projection.paused_by,
    }
}
