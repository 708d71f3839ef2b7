//! `projector rebuild`: rebuild one projection from the first event, in this process.
//!
//! The new generation is filled beside the serving one and swapped in when it has caught up;
//! the command returns once the swap is done. Reads keep being served from the old generation
//! meanwhile, but nothing else may run the projection: on SQLite the command needs the data
//! directory to itself, on PostgreSQL it takes the projection's lease and refuses, naming the
//! holder, while a server runs it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use projector_core::{EventStore, Generation, GlobalPosition, SqlProjection, SqlReadStore};
use projector_postgres::PgLeases;
use projector_runtime::{Projector, ProjectorOptions, RuntimeError, WorkerState};
use projector_sqlite::Durability;
use tokio_util::sync::CancellationToken;

use crate::data::{DataDir, projections};
use crate::opts::RebuildArgs;
use crate::stores::Stores;

pub(crate) async fn run(args: RebuildArgs) -> anyhow::Result<()> {
    let projection = projections(std::slice::from_ref(&args.projection))?.remove(0);
    let name = projection.name();
    let batch_size = args.batch_size.max(1);
    let (generation, checkpoint) = match &args.storage.database_url {
        None => {
            let data = DataDir::new(&args.storage.data.data);
            let events = Arc::new(data.open_events(Durability::Full).context(
                "the rebuild needs the data directory to itself; stop the server first",
            )?);
            let reads: Arc<dyn SqlReadStore> = Arc::new(data.open_reads()?);
            let done = rebuild(events.clone(), reads, projection, batch_size).await;
            events.close().await;
            done?
        }
        Some(url) => {
            let leases = PgLeases::new(url).context("setting up projection leases")?;
            let Some(lease) = leases.try_acquire(&name).await? else {
                let holder = leases.holder(&name).await?;
                bail!(
                    "projection {name} is running in another process: {}; stop it first (a \
                     standby takes over when it stops, so stop those too)",
                    holder.map_or_else(|| "its lease was just taken".to_owned(), |h| h.to_string())
                );
            };
            let stores = Stores::open(&args.storage).await?;
            let done = rebuild(
                stores.events.clone(),
                stores.reads.clone(),
                projection,
                batch_size,
            )
            .await;
            stores.close().await;
            lease.release().await.context("releasing the lease")?;
            done?
        }
    };
    println!("rebuilt {name}: generation {generation} serves reads at position {checkpoint}");
    Ok(())
}

/// Brings the serving generation up to date, then fills a new one from the first event and
/// swaps it in, returning it and the position it serves reads at.
async fn rebuild(
    events: Arc<dyn EventStore>,
    reads: Arc<dyn SqlReadStore>,
    projection: Arc<dyn SqlProjection>,
    batch_size: usize,
) -> anyhow::Result<(Generation, GlobalPosition)> {
    let name = projection.name();
    let options = ProjectorOptions {
        batch_size,
        ..ProjectorOptions::default()
    };
    let shutdown = CancellationToken::new();
    let handle = Projector::new(events, options)
        .with_sql(reads, projection)
        .start(shutdown.clone())?;
    handle
        .wait_caught_up(Duration::from_secs(24 * 3600))
        .await
        .context("bringing the serving generation up to date")?;
    let generation = match handle.rebuild(&name).await {
        Ok(generation) => generation,
        // A rebuild an earlier run left unfinished was resumed at start: finishing it is the
        // rebuild asked for.
        Err(RuntimeError::RebuildInProgress { generation, .. }) => generation,
        Err(error) => return Err(error.into()),
    };
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
    if done.generation != Some(generation) {
        bail!("the rebuild of {name} did not complete: {:?}", done.state);
    }
    Ok((generation, done.checkpoint))
}
