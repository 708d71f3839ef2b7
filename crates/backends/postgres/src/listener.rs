//! Waking subscribers: a dedicated connection `LISTEN`s on the channel every append notifies
//! with its new head, and feeds the store's head watch. Polling the head row is the fallback:
//! on a timer (in case a notification is lost) and right after every (re)connect (to catch
//! commits made while the listener was away).
//!
//! Every value published is a committed head, so every position up to it is readable through
//! `read_all`: notifications are delivered only after the notifying transaction commits, and
//! the head row holds only committed heads.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use projector_core::GlobalPosition;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use crate::tls::Connector;
use tokio_util::sync::CancellationToken;

use crate::error::describe;
use crate::head::HeadPublisher;
use crate::rows::to_u64;

/// The channel appends notify on; the payload is the new head.
pub(crate) const CHANNEL: &str = "projector_events";

/// Added to the session name of the listener's connection (`projector event listener`).
const LISTENER_SUFFIX: &str = "event listener";

/// The longest wait between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs the listener until `shutdown`: connects, listens, publishes, and reconnects with
/// backoff whenever the connection is lost.
pub(crate) async fn run(
    config: tokio_postgres::Config,
    tls: Connector,
    head: Arc<HeadPublisher>,
    poll_interval: Duration,
    shutdown: CancellationToken,
) {
    // Named, so an operator (or a test) can tell the listening session in pg_stat_activity.
    let mut config = config;
    let name = format!(
        "{} {LISTENER_SUFFIX}",
        config.get_application_name().unwrap_or("projector")
    );
    config.application_name(&name);
    let mut backoff = Duration::from_millis(100);
    loop {
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return,
            outcome = listen(&config, &tls, &head, poll_interval) => outcome,
        };
        match outcome {
            Listened::Connected(error) => {
                tracing::warn!(%error, "event listener lost its connection; reconnecting");
                backoff = Duration::from_millis(100);
            }
            Listened::NotConnected(error) => {
                tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64,
                    "event listener cannot connect; polling resumes once it does");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// How one connection of the listener ended.
enum Listened {
    /// It was listening, then the connection failed.
    Connected(String),
    /// It never got as far as listening.
    NotConnected(String),
}

async fn listen(
    config: &tokio_postgres::Config,
    tls: &Connector,
    head: &HeadPublisher,
    poll_interval: Duration,
) -> Listened {
    let (client, mut connection) = match config.connect(tls.0.clone()).await {
        Ok(pair) => pair,
        Err(error) => return Listened::NotConnected(describe(&error)),
    };
    // The connection must be polled for the client to work; notifications come out of it.
    let (notes, mut notified) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(note)) => {
                    if notes.send(note.payload().to_owned()).is_err() {
                        return "the listener stopped".to_owned();
                    }
                }
                Ok(_) => {}
                Err(error) => return describe(&error),
            }
        }
        "the server closed the connection".to_owned()
    });
    let _abort = AbortOnDrop(&driver);
    if let Err(error) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
        return Listened::NotConnected(describe(&error));
    }
    let mut ticks = tokio::time::interval(poll_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            note = notified.recv() => match note {
                Some(payload) => match payload.parse::<u64>() {
                    Ok(position) => head.learned(GlobalPosition::new(position)),
                    Err(_) => tracing::warn!(payload, "ignoring a malformed head notification"),
                },
                None => return Listened::Connected(
                    "the connection's driver stopped".to_owned()),
            },
            // The first tick is immediate: it catches up on what was committed while away.
            _ = ticks.tick() => {
                match client.query_one(include_str!("sql/head.sql"), &[]).await {
                    Ok(row) => match row.try_get::<_, i64>(0) {
                        Ok(position) => head.learned(GlobalPosition::new(to_u64(position))),
                        Err(error) => return Listened::Connected(error.to_string()),
                    },
                    Err(error) => return Listened::Connected(describe(&error)),
                }
            }
        }
    }
}

/// Stops the connection's driver task when the listener gives the connection up.
struct AbortOnDrop<'a>(&'a tokio::task::JoinHandle<String>);

impl Drop for AbortOnDrop<'_> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
