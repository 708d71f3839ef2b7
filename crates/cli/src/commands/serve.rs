//! `projector serve`: the HTTP API and the projector in one process, on the data directory.
//!
//! Shutdown (SIGINT or SIGTERM) stops accepting connections, lets requests in flight finish
//! (and the writes of those whose client went away), then lets each projection finish its
//! batch in hand, and closes the event store after the writer has committed what was queued.

use std::io::Write;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use projector_core::{EventStore, IdempotencyStore};
use projector_nats::RelayOptions;
use projector_runtime::{Projector, ProjectorOptions};
use projector_server::{
    AppState, BrowserPolicy, ListenerLimits, RateLimit, ReadNode, ReadNodeStore, ServerConfig,
    TargetFloors, WriteLatencyTarget,
};
use tokio_util::sync::CancellationToken;

use crate::access;
use crate::holders::PgLeaseHolders;
use crate::opts::{PublicRoute, ServeArgs};
use crate::read_models::{self, targets};
use crate::relaying::{self, open_feed};
use crate::signals::shutdown_requested;
use crate::stores::{EventAccess, SearchAccess, Stores};

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Install the metrics recorder before anything records.
    projector_server::prometheus::handle();
    raise_open_files_limit(args.edge.max_connections);
    // Bound first, so the leases this process takes name the address of its admin API.
    let listener = projector_server::bind(&args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let authenticator = access::authenticator(&args.auth, addr).await?;
    let admin = match &args.auth.admin_addr {
        Some(admin_addr) => {
            Some(access::admin_listener(admin_addr, &args.auth, &authenticator).await?)
        }
        None => None,
    };
    let admin_url = admin
        .as_ref()
        .and_then(|(listener, _)| listener.local_addr().ok())
        .unwrap_or(addr);
    let label = format!("projector serve http://{admin_url}");
    let stores = Stores::open(
        &args.storage,
        &label,
        args.leases.timeout(),
        EventAccess::from_broker(args.from.as_ref()),
        SearchAccess::Own,
    )
    .await?;
    let options = ProjectorOptions {
        batch_size: args.batch_size.max(1),
        batch_interval: Duration::from_millis(args.batch_interval_ms),
        ..ProjectorOptions::default()
    };
    let targets =
        crate::read_models::partitioned(&stores, targets(&stores, &[])?, &args.partitions)?;
    // A read node reads the feed from the broker and has no event store of its own, nor
    // idempotency keys: it takes no writes.
    let (events, idempotency): (Arc<dyn EventStore>, Arc<dyn IdempotencyStore>) = match &args.from {
        Some(url) => {
            let node = Arc::new(ReadNodeStore::new(
                open_feed(args.stream.settings(url)).await?,
            ));
            (node.clone(), node)
        }
        None => (stores.events()?, stores.idempotency()?),
    };
    let mut projector = Projector::new(events.clone(), options);
    for target in &targets {
        projector = projector.with_target(Arc::clone(target));
    }
    if let Some(leases) = &stores.leases {
        projector = projector.with_leases(Arc::clone(leases));
    }
    projector = projector.with_controls(Arc::clone(&stores.controls));
    let stop_projector = CancellationToken::new();
    let projector = projector
        .start(stop_projector.clone())
        .context("starting the projector")?;
    let relay = args.publish.as_ref().map(|url| {
        relaying::start(
            events.clone(),
            args.stream.settings(url),
            stores.leases.clone(),
            RelayOptions::default(),
            stop_projector.clone(),
        )
    });

    // Open every read model before taking requests, so no read finds one missing.
    if !projector
        .wait_started(std::time::Duration::from_secs(30))
        .await
    {
        tracing::warn!("some projections are still opening their read models; serving anyway");
    }
    let config = ServerConfig {
        max_body_bytes: args.max_body_bytes,
        idempotency_abandoned_after: std::time::Duration::from_millis(
            args.idempotency_abandoned_after_ms,
        ),
        public_metrics: access::is_public(&args.auth, PublicRoute::Metrics),
        public_docs: access::is_public(&args.auth, PublicRoute::Docs),
        admin_listener: admin.as_ref().map(|(_, settings)| *settings),
        browser: BrowserPolicy {
            allowed_hosts: args.edge.allowed_hosts.clone(),
            cors_origins: args.edge.cors_origins.clone(),
        },
        rate_limit: NonZeroU32::new(args.edge.rate_limit).map(|per_second| RateLimit {
            per_second,
            burst: args
                .edge
                .rate_limit_burst
                .and_then(NonZeroU32::new)
                .unwrap_or(per_second),
        }),
        max_in_flight: args.edge.max_in_flight,
        max_queued_writes: args.edge.max_queued_writes,
        write_latency_target: write_latency_target(&args),
        listener: ListenerLimits {
            header_read_timeout: Duration::from_millis(args.edge.header_read_timeout_ms),
            max_connections: args.edge.max_connections,
            shutdown_grace: Duration::from_millis(args.edge.shutdown_grace_ms),
        },
        read_node: args.from.as_ref().map(|_| ReadNode {
            writer: args.writer_url.clone(),
        }),
        lag_alert: Duration::from_secs_f64(args.dashboard_lag_alert),
        default_read_wait: Duration::from_millis(args.edge.read_wait_ms),
        ..ServerConfig::default()
    };
    let mut state = AppState::new(
        events,
        Arc::clone(&stores.queries),
        idempotency,
        targets,
        projector.clone(),
        config,
    )
    .with_authenticator(authenticator)
    // As its leases name it on PostgreSQL.
    .with_label(format!("{label} pid {}", std::process::id()));
    if let Some(leases) = stores.pg_leases() {
        state = state.with_lease_holders(Arc::new(PgLeaseHolders(leases.clone())));
    }
    // A read node has no event store, so no stream reads: its head is the feed's.
    if let Some(stream_reads) = &stores.stream_reads {
        state = state.with_stream_reads(Arc::clone(stream_reads));
    }
    if let Some(cache) = &stores.cache {
        state = state.with_customer_orders_cache(read_models::customer_orders_cache(cache));
    }
    if let Some(search) = &stores.search {
        state = state.with_search(search.clone());
    }
    if let Some(relay) = &relay {
        state = state.with_relay(relay.status.clone());
    }
    tracing::info!(%addr, storage = %stores.described, "projector serving");
    // The address on standard output, for scripts and tests that asked for port 0.
    println!("projector listening on http://{addr}");

    let stop_serving = CancellationToken::new();
    tokio::spawn({
        let stop_serving = stop_serving.clone();
        async move {
            shutdown_requested().await;
            stop_serving.cancel();
        }
    });
    let admin_served = admin.map(|(listener, _)| {
        if let Ok(admin_addr) = listener.local_addr() {
            tracing::info!(%admin_addr, "serving the admin API on its own listener");
            println!("projector admin listening on http://{admin_addr}");
        }
        tokio::spawn(projector_server::serve_admin(
            listener,
            state.clone(),
            stop_serving.clone().cancelled_owned(),
        ))
    });
    std::io::stdout().flush().ok();
    projector_server::serve(listener, state, stop_serving.cancelled_owned())
        .await
        .context("serving HTTP")?;
    if let Some(admin_served) = admin_served {
        admin_served
            .await
            .context("the admin listener's task")?
            .context("serving the admin API")?;
    }
    tracing::info!("HTTP server stopped; stopping the projections");
    stop_projector.cancel();
    projector.join().await;
    if let Some(relay) = relay {
        relay.join().await;
    }
    stores.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Room for the files, sockets and pipes the server holds beside its connections.
const OTHER_OPEN_FILES: u64 = 1024;

/// Raises the soft limit on open files (often 1024) towards the hard limit, so that
/// `max_connections` connections fit beside the stores' files: past the limit, accepting a
/// connection fails however far below the cap the server is.
fn raise_open_files_limit(max_connections: usize) {
    let wanted = max_connections as u64 + OTHER_OPEN_FILES;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) if limit < wanted => tracing::warn!(
            limit,
            wanted,
            "the open-files limit leaves no room for --max-connections connections; \
             raise it (ulimit -n) or lower --max-connections"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "could not raise the open-files limit"),
    }
}

/// The mean write latency past which the server takes fewer writes at once: the one given, or
/// one measured from the store, with floors that suit it (a PostgreSQL write waits on the
/// database's own load, which a lower target cannot shorten).
fn write_latency_target(args: &ServeArgs) -> Option<WriteLatencyTarget> {
    match args.edge.write_latency_target_ms {
        None if args.storage.database_url.is_some() => {
            Some(WriteLatencyTarget::Measured(TargetFloors::DATABASE))
        }
        None => Some(WriteLatencyTarget::Measured(TargetFloors::LOCAL)),
        Some(0) => None,
        Some(millis) => Some(WriteLatencyTarget::Fixed(Duration::from_millis(millis))),
    }
}
