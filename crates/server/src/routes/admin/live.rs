//! `GET /admin/live`: the dashboard's feed, as Server-Sent Events.
//!
//! On connect: `settings` (the lag alert threshold), then `history` (the last hour's samples
//! per projection). Then every second `projections` (the same JSON as `GET
//! /admin/projections`), and `samples` whenever the sampler has kept new ones. A failure to
//! read the projections sends `unavailable` and the stream goes on. It ends when the server
//! stops; a browser's `EventSource` reconnects by itself.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use futures::stream::{self, StreamExt};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::projection_list;
use crate::sampler::{SAMPLE_EVERY, Sample, Sampler};
use crate::state::AppState;

/// How often the projections are sent.
const EVERY: Duration = Duration::from_secs(1);

/// The feed's routes, documented.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live))
}

/// The `settings` event: how the page should judge what it shows.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LiveSettings {
    /// A projection lagging more than this, in seconds, is marked (`--dashboard-lag-alert`).
    lag_alert_seconds: f64,
    /// How often a sample is kept for the charts, in seconds.
    sample_every_seconds: u64,
}

/// The `history` and `samples` events: samples per projection, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LiveSamples {
    /// Each projection's samples: the last hour on connect, then those newly kept.
    samples: BTreeMap<String, Vec<Sample>>,
}

/// Where a connection's feed stands.
struct Feed {
    state: AppState,
    /// Whether `settings` and `history` are sent.
    opened: bool,
    /// The sampler's count of samples already sent.
    sent: u64,
    tick: tokio::time::Interval,
}

/// The dashboard's live feed (`text/event-stream`): events `settings` and `history` once, then
/// `projections` (as `GET /admin/projections` answers) every second and `samples` as they are
/// kept. Samples of lag and throughput are kept every few seconds for an hour, in memory.
#[utoipa::path(get, path = "/admin/live", tag = "admin",
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "Server-Sent Events: `settings` (LiveSettings), `history` \
            and `samples` (LiveSamples), `projections` (ProjectionList), `unavailable` (Problem)",
            content_type = "text/event-stream", body = String),
    ))]
pub(crate) async fn live(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    Sampler::start(&state);
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let feed = Feed {
        state,
        opened: false,
        sent: 0,
        tick,
    };
    let events = stream::unfold(feed, |mut feed| async move {
        let stopping = feed.state.stopping().clone();
        tokio::select! {
            () = stopping.cancelled() => return None,
            _ = feed.tick.tick() => {}
        }
        let events = next_events(&mut feed).await;
        Some((stream::iter(events), feed))
    })
    .flatten();
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// The events due at this tick.
async fn next_events(feed: &mut Feed) -> Vec<Result<Event, Infallible>> {
    let mut events = Vec::new();
    if !feed.opened {
        feed.opened = true;
        let settings = LiveSettings {
            lag_alert_seconds: feed.state.config().lag_alert.as_secs_f64(),
            sample_every_seconds: SAMPLE_EVERY.as_secs(),
        };
        events.push(json_event("settings", &settings));
        let (samples, taken) = feed.state.sampler().history();
        feed.sent = taken;
        events.push(json_event("history", &LiveSamples { samples }));
    } else {
        let (samples, taken) = feed.state.sampler().since(feed.sent);
        if taken != feed.sent {
            feed.sent = taken;
            events.push(json_event("samples", &LiveSamples { samples }));
        }
    }
    match projection_list(&feed.state).await {
        Ok(list) => events.push(json_event("projections", &list)),
        Err(error) => events.push(json_event("unavailable", &error.problem())),
    }
    events
}

fn json_event(name: &str, data: &impl Serialize) -> Result<Event, Infallible> {
    let event = Event::default().event(name);
    Ok(event
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name).data("{}")))
}
