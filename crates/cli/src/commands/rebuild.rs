//! `projector rebuild`: rebuild one projection from the first event, from the command line.
//!
//! The new generation is filled beside the serving one and swapped in when it has caught up;
//! the command returns once the swap is done. If a rebuild of the projection was cut short (a
//! crash, a failover), that one is carried on instead of starting over.
//!
//! A projection run as partitions is rebuilt as as many partitions as built its serving read
//! model, or as `--partitions` says: all of them fill one new generation.
//!
//! With `--server URL` the rebuild runs in that server instead, through its admin API, and is
//! followed there (`remote`).
//!
//! The projection must be this process's to run. On SQLite the data directory is one
//! process's, and so is a search index on either backend; on PostgreSQL the command takes the
//! projection's lease like any projector, and if another process holds it the command fails at
//! once, naming the holder: rebuild through that server's admin API instead.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use projector_core::{Generation, ProjectionName, StartFrom};
use projector_runtime::{
    ProjectionStatus, Projector, ProjectorHandle, ProjectorOptions, RuntimeError, WorkerState,
};
use tokio_util::sync::CancellationToken;

use crate::admin_client::AdminClient;
use crate::opts::RebuildArgs;
use crate::progress::{self, RebuildProgress};
use crate::read_models;
use crate::stores::{EventAccess, SearchAccess, Stores};

mod remote;

/// How long the rebuild may take, end to end.
const PATIENCE: Duration = Duration::from_secs(24 * 3600);

pub(crate) async fn run(args: RebuildArgs) -> anyhow::Result<()> {
    if let Some(server) = AdminClient::from_args(&args.server)? {
        return remote::run(&server, &args.projection, args.start()).await;
    }
    let name = read_models::known(&args.projection)?;
    let search = read_models::search_access(std::slice::from_ref(&args.projection));
    let opened = Stores::open(
        &args.storage,
        "projector rebuild",
        args.leases.timeout(),
        EventAccess::Store,
        search,
    )
    .await;
    // On SQLite the data directory is one process's; a search index is, on either backend.
    let own_directory = args.storage.database_url.is_none() || search == SearchAccess::Own;
    let stores = match (opened, own_directory) {
        (Ok(stores), _) => stores,
        (Err(error), false) => return Err(error),
        (Err(error), true) => {
            return Err(error.context(format!(
                "the rebuild needs the data directory to itself: stop the server, or ask it to \
                 rebuild through its admin API (POST /admin/projections/{name}/rebuild)"
            )));
        }
    };
    let options = ProjectorOptions {
        batch_size: args.batch_size.max(1),
        ..ProjectorOptions::default()
    };
    let targets = read_models::targets(&stores, std::slice::from_ref(&args.projection))?;
    let count = read_models::partition_count(&stores, &name, &args.partitions).await?;
    let targets = read_models::partitioned(&stores, targets, &[(name.to_string(), count)])?;
    let mut projector = Projector::new(stores.events()?, options);
    for target in targets {
        projector = projector.with_target(target);
    }
    if let Some(leases) = &stores.leases {
        projector = projector.with_leases(Arc::clone(leases));
    }
    projector = projector.with_controls(Arc::clone(&stores.controls));
    let shutdown = CancellationToken::new();
    let handle = projector.start(shutdown.clone())?;
    let outcome = rebuild(&handle, &stores, &name, args.start()).await;
    shutdown.cancel();
    handle.join().await;
    stores.close().await;
    let (generation, position) = outcome?;
    println!("rebuilt {name}: generation {generation} serves reads at position {position}");
    Ok(())
}

/// Starts (or carries on) the rebuild and waits for the swap. Returns the generation and the
/// position it serves at.
async fn rebuild(
    handle: &ProjectorHandle,
    stores: &Stores,
    name: &ProjectionName,
    start: Option<StartFrom>,
) -> anyhow::Result<(Generation, u64)> {
    // The worker answers once it knows whether this process holds the projection: a standby
    // refuses at once, so a projection run elsewhere is reported without waiting for it.
    let asked = match start {
        Some(start) => handle.rebuild_from(name, start).await,
        None => handle.rebuild(name).await,
    };
    let generation = match asked {
        Ok(generation) => {
            tracing::info!(projection = %name, %generation, ?start, "rebuilding");
            generation
        }
        Err(RuntimeError::RebuildInProgress { generation, .. }) => {
            tracing::info!(projection = %name, %generation,
                "carrying on the unfinished rebuild of an earlier process");
            generation
        }
        Err(RuntimeError::Standby(_)) => bail!("{}", held_elsewhere(stores, name).await),
        Err(error) => return Err(error).context(format!("starting the rebuild of {name}")),
    };
    let from = handle
        .status(name)
        .and_then(|s| s.rebuild)
        .filter(|r| r.generation == generation)
        .map_or(0, |r| r.checkpoint.get());
    let mut progress = RebuildProgress::start(name.as_str(), &generation.to_string(), from);
    let done = follow(handle, name, generation, &mut progress).await?;
    if done.generation != Some(generation) {
        let why = match &done.state {
            WorkerState::Standby => {
                "this process lost the projection's lease; the process that holds it now carries \
                 the rebuild on"
                    .to_owned()
            }
            WorkerState::Stopped { position, error } => {
                format!("it stopped at a poison event at position {position}: {error}")
            }
            other => format!("the projection is {}", other.name()),
        };
        bail!("the rebuild of {name} into {generation} did not complete: {why}");
    }
    // Swapped in; bring it up to the head as it is now, as a live projection would be.
    let position = handle
        .wait_caught_up(PATIENCE)
        .await
        .context("bringing the rebuilt generation up to the head")?;
    progress.finish(position.get());
    Ok((generation, position.get()))
}

/// Waits until the rebuild into `generation` has swapped in or stopped, showing its progress
/// meanwhile. Returns the status that ended it.
async fn follow(
    handle: &ProjectorHandle,
    name: &ProjectionName,
    generation: Generation,
    progress: &mut RebuildProgress,
) -> anyhow::Result<ProjectionStatus> {
    let Some(mut status) = handle.watch(name) else {
        // Run as partitions: swapped in once every partition serves the new generation.
        handle.wait_swapped(name, generation, PATIENCE).await.ok();
        return handle
            .status(name)
            .context("the projection runs as partitions here");
    };
    loop {
        tokio::select! {
            seen = status.wait_for(|s| {
                s.generation == Some(generation)
                    || s.rebuild.is_none()
                    || matches!(s.state, WorkerState::Stopped { .. } | WorkerState::Paused | WorkerState::ShutDown)
            }) => {
                return seen
                    .map(|s| s.clone())
                    .context("the projection shut down during the rebuild");
            }
            () = tokio::time::sleep(progress::POLL) => {
                // The head moves on while the rebuild runs; the lag says where it is now.
                let lags = handle.lags().await.unwrap_or_default();
                if let Some((rebuild, lag)) = lags.iter().find_map(|(s, lag)| {
                    s.rebuild.as_ref().filter(|r| s.name == *name && r.generation == generation)
                        .map(|r| (r, lag))
                }) {
                    progress.update(rebuild.checkpoint.get(), lag.head.get());
                }
            }
        }
    }
}

/// What to tell the user when another process runs the projection.
async fn held_elsewhere(stores: &Stores, name: &ProjectionName) -> String {
    let holder = match stores.lease_holders(std::slice::from_ref(name)).await {
        Ok(Some(mut holders)) => holders
            .remove(name)
            .map_or_else(|| "another process".to_owned(), |h| h.to_string()),
        Ok(None) => "another process".to_owned(),
        Err(error) => format!("another process (which one could not be read: {error:#})"),
    };
    format!(
        "projection {name} runs in {holder}, which holds its lease; a rebuild must run where the \
         projection runs. Ask that server through its admin API: \
         POST /admin/projections/{name}/rebuild (or stop it and run this command again)"
    )
}
