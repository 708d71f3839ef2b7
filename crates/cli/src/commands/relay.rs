//! `projector relay`: publish the event feed to NATS JetStream until stopped, beside the
//! server that writes it (on SQLite, reading its event store file; on PostgreSQL, taking the
//! relay's lease so one relay publishes at a time).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use projector_core::{EventFeed, LeaseProvider};
use projector_nats::RelayOptions;
use projector_postgres::{PgEventStore, PgEventStoreOptions, PgLeases};
use projector_sqlite::SqliteEventStore;
use tokio_util::sync::CancellationToken;

use crate::data::DataDir;
use crate::opts::RelayArgs;
use crate::relaying;
use crate::signals::shutdown_requested;

pub(crate) async fn run(args: RelayArgs) -> anyhow::Result<()> {
    let (feed, leases): (Arc<dyn EventFeed>, Option<Arc<dyn LeaseProvider>>) =
        match &args.storage.database_url {
            Some(url) => {
                let events = PgEventStore::connect(
                    url,
                    PgEventStoreOptions {
                        run_migrations: !args.storage.no_migrate,
                        ..PgEventStoreOptions::default()
                    },
                )
                .await
                .context("connecting to the event store on PostgreSQL")?;
                let leases = PgLeases::new(url)
                    .context("setting up the relay's lease")?
                    .with_label(&format!("projector relay pid {}", std::process::id()))
                    .with_timeout(args.leases.timeout());
                (Arc::new(events), Some(Arc::new(leases)))
            }
            None => {
                let path = DataDir::new(&args.storage.data.data).events_path();
                let events = SqliteEventStore::open_read_only(&path)
                    .with_context(|| format!("opening the event store {}", path.display()))?;
                (Arc::new(events), None)
            }
        };
    let settings = args.stream.settings(&args.nats_url);
    let options = RelayOptions {
        batch_size: args.relay_batch_size.max(1),
        ..RelayOptions::default()
    };
    let shutdown = CancellationToken::new();
    let relay = relaying::start(feed, settings, leases, options, shutdown.clone());
    let mut status = relay.status.clone();
    let reporting = async {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            if let Some(now) = status.borrow_and_update().clone() {
                tracing::info!(published = %now.published, head = %now.head,
                    lag_events = now.lag_events(), lag_seconds = now.lag_seconds(Utc::now()),
                    error = now.error.as_deref().unwrap_or(""), "relay");
            }
        }
    };
    tokio::select! {
        () = shutdown_requested() => {}
        () = reporting => {}
    }
    shutdown.cancel();
    relay.join().await;
    Ok(())
}
