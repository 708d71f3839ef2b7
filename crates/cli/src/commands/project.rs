//! `projector project`: run the projections until stopped, or until caught up.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use projector_core::EventFeed;
use projector_runtime::{Projector, ProjectorOptions};
use tokio_util::sync::CancellationToken;

use crate::opts::ProjectArgs;
use crate::read_models::{self, targets};
use crate::relaying::open_feed;
use crate::signals::shutdown_requested;
use crate::stores::{EventAccess, Stores};

pub(crate) async fn run(args: ProjectArgs) -> anyhow::Result<()> {
    let stores = Stores::open(
        &args.storage,
        "projector project",
        args.leases.timeout(),
        EventAccess::from_broker(args.from.as_ref()),
        read_models::search_access(&args.projections),
    )
    .await?;
    let options = ProjectorOptions {
        batch_size: args.batch_size.max(1),
        batch_interval: Duration::from_millis(args.batch_interval_ms),
        ..ProjectorOptions::default()
    };
    let feed: Arc<dyn EventFeed> = match &args.from {
        Some(url) => open_feed(args.stream.settings(url)).await?,
        None => stores.events()?,
    };
    let mut projector = Projector::new(feed, options);
    let targets = crate::read_models::partitioned(
        &stores,
        targets(&stores, &args.projections)?,
        &args.partitions,
    )?;
    for target in targets {
        projector = projector.with_target(target);
    }
    if let Some(leases) = &stores.leases {
        projector = projector.with_leases(Arc::clone(leases));
    }
    projector = projector.with_controls(Arc::clone(&stores.controls));
    let shutdown = CancellationToken::new();
    let handle = projector
        .start(shutdown.clone())
        .context("starting the projector")?;
    tracing::info!(storage = %stores.described, from = args.from.as_deref().unwrap_or("the event store"),
        projections = ?handle.names(), "projecting");

    if args.until_caught_up {
        tokio::select! {
            caught_up = handle.wait_caught_up(Duration::from_secs(24 * 3600)) => {
                let head = caught_up.context("waiting for the projections to catch up")?;
                tracing::info!(%head, "every projection has reached the head");
            }
            () = shutdown_requested() => {}
        }
    } else {
        shutdown_requested().await;
    }
    shutdown.cancel();
    handle.join().await;
    stores.close().await;
    Ok(())
}
