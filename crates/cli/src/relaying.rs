//! Running the relay of the event feed to NATS in a process: the `relay` command's, or a
//! server's with `--publish`. With leases (PostgreSQL) it publishes only while it holds the
//! relay's lease, so one process publishes and the others stand by; it connects to the broker
//! again and again while it is away, and the writes go on (the event store is the outbox).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use projector_core::{EventFeed, LeaseProvider, ProjectionName};
use projector_nats::{EventStream, NatsFeed, Relay, RelayOptions, RelayStatus, StreamSettings};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::redact::redact;

/// The lease one relay holds at a time.
pub(crate) const RELAY_LEASE: ProjectionName = ProjectionName::from_static("nats_relay");

/// The longest pause between tries to take the lease or reach the broker.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// A relay running in this process.
pub(crate) struct RelayHandle {
    /// Where it stands; `None` until it has published or read the stream once.
    pub(crate) status: watch::Receiver<Option<RelayStatus>>,
    task: JoinHandle<()>,
}

impl RelayHandle {
    /// Waits for the relay to stop (after its shutdown token is cancelled).
    pub(crate) async fn join(self) {
        let _ = self.task.await;
    }
}

/// Starts relaying `feed` to the stream `settings` names until `shutdown`.
pub(crate) fn start(
    feed: Arc<dyn EventFeed>,
    settings: StreamSettings,
    leases: Option<Arc<dyn LeaseProvider>>,
    options: RelayOptions,
    shutdown: CancellationToken,
) -> RelayHandle {
    let (status, receiver) = watch::channel(None);
    let task = tokio::spawn(async move {
        let mut pause = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            let lease = match &leases {
                None => None,
                Some(leases) => match leases.try_acquire(&RELAY_LEASE).await {
                    Ok(Some(lease)) => Some(lease),
                    Ok(None) => {
                        wait(&shutdown, Duration::from_secs(1)).await;
                        continue;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot take the relay's lease; trying again");
                        wait(&shutdown, RETRY_MAX).await;
                        continue;
                    }
                },
            };
            let stream = match EventStream::connect(settings.clone()).await {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::warn!(%error, retry_in_ms = pause.as_millis() as u64,
                        "cannot open the event stream on NATS; writes go on, trying again");
                    status.send_modify(|s| {
                        let mut now: RelayStatus = s.clone().unwrap_or_default();
                        now.error = Some(error.to_string());
                        *s = Some(now);
                    });
                    wait(&shutdown, pause).await;
                    pause = (pause * 2).min(RETRY_MAX);
                    continue;
                }
            };
            pause = Duration::from_millis(100);
            tracing::info!(stream = %settings.stream, url = %redact(&settings.url), "relaying the event feed");
            let relay = Relay::new(Arc::clone(&feed), stream, options);
            let stop = shutdown.child_token();
            let copied = copy_status(relay.status(), status.clone(), stop.clone());
            tokio::select! {
                () = relay.run(stop.clone()) => {}
                () = lost(lease.as_deref()) => {
                    tracing::warn!("lost the relay's lease; standing by");
                }
            }
            stop.cancel();
            let _ = copied.await;
        }
    });
    RelayHandle {
        status: receiver,
        task,
    }
}

/// The event feed of the stream `settings` names, for a projector with no event store.
///
/// # Errors
/// When the stream cannot be opened or read.
pub(crate) async fn open_feed(settings: StreamSettings) -> anyhow::Result<Arc<dyn EventFeed>> {
    let url = settings.url.clone();
    let stream = EventStream::connect(settings)
        .await
        .with_context(|| format!("opening the event stream on {}", redact(&url)))?;
    let feed = NatsFeed::open(stream)
        .await
        .context("reading the event stream")?;
    Ok(Arc::new(feed))
}

/// Resolves when `lease` is lost; never without one.
async fn lost(lease: Option<&dyn projector_core::Lease>) {
    match lease {
        Some(lease) => lease.lost().await,
        None => std::future::pending().await,
    }
}

async fn wait(shutdown: &CancellationToken, pause: Duration) {
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(pause) => {}
    }
}

/// Copies the relay's status into `into` until `stop`.
fn copy_status(
    mut from: watch::Receiver<RelayStatus>,
    into: watch::Sender<Option<RelayStatus>>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = from.borrow_and_update().clone();
            into.send_replace(Some(now));
            tokio::select! {
                () = stop.cancelled() => return,
                changed = from.changed() => if changed.is_err() { return },
            }
        }
    })
}
