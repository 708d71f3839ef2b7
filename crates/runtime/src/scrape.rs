//! The per-projection gauges published for a scrape: lag, dead letters, rebuild progress and
//! the worker's state. Counters and histograms are recorded where things happen (`worker`,
//! `dead_letter`); these are derived from the status and only meaningful when read.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::status::{Lag, ProjectionStatus};

/// The state last published per projection, so the series of a state left is set to 0 without
/// a fixed list of states (`projector_projection_state` is 1 for the current state only).
static STATES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();

/// Sets every gauge of these projections from their status and lag.
pub(crate) fn publish(lags: &[(ProjectionStatus, Lag)]) {
    for (status, lag) in lags {
        let name = status.name.to_string();
        metrics::gauge!("projector_projection_lag_events", "projection" => name.clone())
            .set(lag.events as f64);
        metrics::gauge!("projector_projection_lag_seconds", "projection" => name.clone())
            .set(lag.seconds);
        metrics::gauge!("projector_projection_dead_letters", "projection" => name.clone())
            .set(status.dead_letters as f64);
        let (checkpoint, remaining) = status.rebuild.as_ref().map_or((0, 0), |r| {
            (r.checkpoint.get(), r.checkpoint.distance_to(lag.head))
        });
        metrics::gauge!("projector_projection_rebuild_checkpoint", "projection" => name.clone())
            .set(checkpoint as f64);
        metrics::gauge!("projector_projection_rebuild_remaining_events", "projection" => name.clone())
            .set(remaining as f64);
        publish_state(name, status.state.name());
    }
}

fn publish_state(name: String, current: &'static str) {
    let states = STATES.get_or_init(Mutex::default);
    let previous = states
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(name.clone(), current);
    if let Some(previous) = previous.filter(|p| *p != current) {
        metrics::gauge!("projector_projection_state", "projection" => name.clone(), "state" => previous)
            .set(0.0);
    }
    metrics::gauge!("projector_projection_state", "projection" => name, "state" => current)
        .set(1.0);
}
