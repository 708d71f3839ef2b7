//! `projector rebuild NAME --server URL`: the rebuild runs in the server (which runs the
//! projection), started through its admin API and followed there until the new generation
//! serves reads, with the same progress as a rebuild run here.

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::admin_client::AdminClient;
use crate::admin_projections;
use crate::progress::{self, RebuildProgress};

/// The server's answer to a rebuild request.
#[derive(Debug, Deserialize)]
struct RebuildStarted {
    generation: u32,
}

pub(super) async fn run(server: &AdminClient, name: &str) -> anyhow::Result<()> {
    let started: RebuildStarted = server
        .post(&format!("projections/{name}/rebuild"), None)
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
