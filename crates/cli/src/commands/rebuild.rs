//! `projector rebuild`: rebuild one projection from the first event, offline.
//!
//! The new generation is filled beside the serving one and swapped in when it has caught up;
//! the command returns once the swap is done.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use projector_core::SqlReadStore;
use projector_runtime::{Projector, ProjectorOptions, WorkerState};
use projector_sqlite::Durability;
use tokio_util::sync::CancellationToken;

use crate::data::{DataDir, projections};
use crate::opts::RebuildArgs;

pub(crate) async fn run(args: RebuildArgs) -> anyhow::Result<()> {
    let data = DataDir::new(&args.data.data);
    let projection = projections(std::slice::from_ref(&args.projection))?.remove(0);
    let name = projection.name();
    let events = Arc::new(data.open_events(Durability::Full).context(
        "the rebuild needs the data directory to itself; stop the server, or rebuild through its admin API",
    )?);
    let reads: Arc<dyn SqlReadStore> = Arc::new(data.open_reads()?);
    let options = ProjectorOptions {
        batch_size: args.batch_size.max(1),
        ..ProjectorOptions::default()
    };
    let shutdown = CancellationToken::new();
    let handle = Projector::new(events.clone(), options)
        .with_sql(reads, projection)
        .start(shutdown.clone())?;
    handle
        .wait_caught_up(Duration::from_secs(24 * 3600))
        .await
        .context("bringing the serving generation up to date")?;
    let generation = handle.rebuild(&name).await?;
    tracing::info!(projection = %name, %generation, "rebuilding");
    let mut status = handle
        .watch(&name)
        .context("the projection is registered")?;
    let done = status
        .wait_for(|s| {
            s.generation == Some(generation)
                || matches!(s.state, WorkerState::Stopped { .. })
                || s.rebuild.is_none()
        })
        .await
        .map(|s| s.clone())
        .context("the projection shut down during the rebuild")?;
    shutdown.cancel();
    handle.join().await;
    events.close().await;
    if done.generation != Some(generation) {
        bail!("the rebuild of {name} did not complete: {:?}", done.state);
    }
    println!(
        "rebuilt {name}: generation {generation} serves reads at position {}",
        done.checkpoint
    );
    Ok(())
}
