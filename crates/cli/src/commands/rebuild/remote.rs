//! `projector rebuild NAME --server URL`: the rebuild runs in the server (which runs the
//! projection), started through its admin API and followed there until the new generation
//! serves reads, with the same progress as a rebuild run here.

use anyhow::{Context, bail};
use projector_core::StartFrom;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admin_client::AdminClient;
use crate::admin_projections;
use crate::progress::{self, RebuildProgress};

/// The server's answer to a rebuild request.
#[derive(Debug, Deserialize)]
struct RebuildStarted {
    generation: u32,
}

pub(super) async fn run(
    server: &AdminClient,
    name: &str,
    start: Option<StartFrom>,
) -> anyhow::Result<()> {
    let body = start.map(|start| start_body(&start));
    let started: RebuildStarted = server
        .post(&format!("projections/{name}/rebuild"), body.as_ref())
        .await
        .with_context(|| format!("starting the rebuild of {name}"))?;
    let generation = started.generation;
    // A new generation, filled from the first event.
    let mut progress = RebuildProgress::start(name, &format!("g{generation}"), 0);
    loop {
        let list = admin_projections::list(server)
            .await
            .with_context(|| format!("following the rebuild of {name}"))?;
        let projection = list.find(name)?;
        if projection.generation == Some(generation) {
            // Swapped in; it serves reads from here on, live.
            progress.finish(projection.checkpoint.max(list.head));
            println!(
                "rebuilt {name}: generation g{generation} serves reads at position {}",
                projection.checkpoint
            );
            return Ok(());
        }
        match &projection.rebuild {
            Some(rebuild) if rebuild.generation == generation => {
                progress.update(
                    rebuild.checkpoint,
                    rebuild.checkpoint + rebuild.remaining_events,
                );
            }
            _ => {
                let why = match &projection.error {
                    Some(error) => format!("the projection is {}: {error}", projection.state),
                    None => format!("the projection is {}", projection.state),
                };
                bail!("the rebuild of {name} into g{generation} did not complete: {why}");
            }
        }
        tokio::time::sleep(progress::POLL).await;
    }
}

/// The rebuild's body for a start other than the first event: the admin API takes a position
/// or an absolute time, so an age is turned into the time it names, now.
fn start_body(start: &StartFrom) -> Value {
    match start {
        StartFrom::Beginning => json!({}),
        StartFrom::Position(position) => json!({ "from_position": position.get() }),
        StartFrom::Time(at) => json!({ "since": at.to_rfc3339() }),
        StartFrom::Since(age) => {
            let age = chrono::Duration::from_std(*age).unwrap_or(chrono::Duration::MAX);
            let at = chrono::Utc::now()
                .checked_sub_signed(age)
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
            json!({ "since": at.to_rfc3339() })
        }
    }
}
