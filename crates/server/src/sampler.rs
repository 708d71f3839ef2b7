//! The last hour of each projection's lag and throughput, kept in memory for the dashboard's
//! charts, and who holds each projection's lease.
//!
//! One task per server reads every projection's checkpoint and lag each second; throughput is
//! how far the checkpoint moved over the last few seconds. Every [`SAMPLE_EVERY`] it keeps a
//! sample in a ring buffer of an hour. Nothing is stored: a restart starts the charts afresh.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use projector_core::ProjectionName;
use projector_runtime::WorkerState;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// How often the checkpoints are read.
const TICK: Duration = Duration::from_secs(1);
/// How often a sample is kept for the charts.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Samples kept per projection: an hour's worth.
const KEPT: usize = 3600 / 5;
/// The readings throughput is measured over (one a second).
const RATE_WINDOW: usize = 6;
/// How often the lease holders are asked for (a query to the database each time).
const HOLDERS_EVERY: Duration = Duration::from_secs(5);

/// Who holds the leases of projections this process stands by for: the process running them.
#[async_trait]
pub trait LeaseHolders: Send + Sync {
    /// The holder of each held lease among `projections`, as a label naming the process (e.g.
    /// `projector serve http://10.0.0.5:8080`); a free lease is absent.
    ///
    /// # Errors
    /// Why they cannot be read now (the database away), for the log.
    async fn holders(
        &self,
        projections: &[ProjectionName],
    ) -> Result<BTreeMap<ProjectionName, String>, String>;
}

/// One projection at one moment, as the charts draw it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub(crate) struct Sample {
    /// When it was taken.
    pub(crate) at: DateTime<Utc>,
    /// Events committed but not yet applied.
    pub(crate) lag_events: u64,
    /// How long the oldest unapplied event had waited, in seconds.
    pub(crate) lag_seconds: f64,
    /// Events applied per second over the last few seconds.
    pub(crate) throughput_per_s: f64,
}

/// What the sampler knows, shared with the routes.
#[derive(Debug, Default)]
pub(crate) struct Sampler {
    started: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    series: BTreeMap<ProjectionName, Series>,
    holders: BTreeMap<ProjectionName, String>,
    /// Bumped with every sample kept, so a stream sends each sample once.
    taken: u64,
}

#[derive(Debug, Default)]
struct Series {
    /// `(when, generation, checkpoint)` of the last readings.
    readings: VecDeque<(Instant, Option<u32>, u64)>,
    throughput: f64,
    samples: VecDeque<Sample>,
}

impl Series {
    fn read(&mut self, now: Instant, generation: Option<u32>, checkpoint: u64) {
        // A swapped-in generation starts its own count.
        if self.readings.back().is_some_and(|r| r.1 != generation) {
            self.readings.clear();
        }
        self.readings.push_back((now, generation, checkpoint));
        while self.readings.len() > RATE_WINDOW {
            self.readings.pop_front();
        }
        self.throughput = match (self.readings.front(), self.readings.back()) {
            (Some(first), Some(last)) if last.0 > first.0 => {
                last.2.saturating_sub(first.2) as f64 / (last.0 - first.0).as_secs_f64()
            }
            _ => 0.0,
        };
    }
}

impl Sampler {
    /// Starts the sampling task over `state`, once however often it is called; it ends when
    /// the server stops.
    pub(crate) fn start(state: &AppState) {
        if state.sampler().started.swap(true, Ordering::SeqCst) {
            return;
        }
        let state = state.clone();
        tokio::spawn(async move {
            let stopping = state.stopping().clone();
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut last_sample: Option<Instant> = None;
            let mut last_holders: Option<Instant> = None;
            loop {
                tokio::select! {
                    () = stopping.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let now = Instant::now();
                let keep = last_sample.is_none_or(|at| now - at >= SAMPLE_EVERY);
                if keep {
                    last_sample = Some(now);
                }
                sample(&state, now, keep).await;
                if last_holders.is_none_or(|at| now - at >= HOLDERS_EVERY) {
                    last_holders = Some(now);
                    refresh_holders(&state).await;
                }
            }
        });
    }

    /// Events applied per second by `projection` over the last few seconds.
    pub(crate) fn throughput(&self, projection: &ProjectionName) -> f64 {
        self.lock()
            .series
            .get(projection)
            .map_or(0.0, |s| s.throughput)
    }

    /// The process holding `projection`'s lease, when another one does and it is known.
    pub(crate) fn holder(&self, projection: &ProjectionName) -> Option<String> {
        self.lock().holders.get(projection).cloned()
    }

    /// The samples kept since `after` (a count from [`Sampler::history`] or this), per
    /// projection, and the count to ask from next time.
    pub(crate) fn since(&self, after: u64) -> (BTreeMap<String, Vec<Sample>>, u64) {
        let inner = self.lock();
        let fresh = usize::try_from(inner.taken.saturating_sub(after)).unwrap_or(usize::MAX);
        let samples = inner
            .series
            .iter()
            .map(|(name, series)| {
                let skip = series.samples.len().saturating_sub(fresh);
                (
                    name.to_string(),
                    series.samples.iter().skip(skip).cloned().collect(),
                )
            })
            .filter(|(_, s): &(String, Vec<Sample>)| !s.is_empty())
            .collect();
        (samples, inner.taken)
    }

    /// Every sample kept (the last hour), per projection, and the count to ask from next.
    pub(crate) fn history(&self) -> (BTreeMap<String, Vec<Sample>>, u64) {
        self.since(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn sample(state: &AppState, now: Instant, keep: bool) {
    let lags = match state.projector().lags().await {
        Ok(lags) => lags,
        Err(error) => {
            tracing::debug!(%error, "the dashboard's sampler could not read the head");
            return;
        }
    };
    let at = Utc::now();
    let mut inner = state.sampler().lock();
    for (status, lag) in lags {
        let series = inner.series.entry(status.name.clone()).or_default();
        series.read(
            now,
            status.generation.map(|g| g.get()),
            status.checkpoint.get(),
        );
        if keep {
            let sample = Sample {
                at,
                lag_events: lag.events,
                lag_seconds: lag.seconds,
                throughput_per_s: series.throughput,
            };
            series.samples.push_back(sample);
            while series.samples.len() > KEPT {
                series.samples.pop_front();
            }
        }
    }
    if keep {
        inner.taken += 1;
    }
}

/// Asks who holds the leases of the projections this process stands by for.
async fn refresh_holders(state: &AppState) {
    let Some(lookup) = state.lease_holders() else {
        return;
    };
    let standing_by: Vec<ProjectionName> = state
        .projector()
        .statuses()
        .into_iter()
        .filter(|s| matches!(s.state, WorkerState::Standby))
        .map(|s| s.name)
        .collect();
    let holders = if standing_by.is_empty() {
        BTreeMap::new()
    } else {
        match lookup.holders(&standing_by).await {
            Ok(holders) => holders,
            Err(error) => {
                tracing::debug!(%error, "the dashboard could not read the lease holders");
                return;
            }
        }
    };
    state.sampler().lock().holders = holders;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_is_the_checkpoints_move_over_the_last_readings() {
        let start = Instant::now();
        let mut series = Series::default();
        series.read(start, Some(1), 100);
        assert_eq!(series.throughput, 0.0, "one reading measures nothing");
        for second in 1..=10u64 {
            series.read(
                start + Duration::from_secs(second),
                Some(1),
                100 + 50 * second,
            );
        }
        assert!(
            (series.throughput - 50.0).abs() < 1e-9,
            "{}",
            series.throughput
        );
        assert_eq!(series.readings.len(), RATE_WINDOW);
        // A swapped-in generation starts its own count rather than a jump or a fall.
        series.read(start + Duration::from_secs(11), Some(2), 20);
        assert_eq!(series.throughput, 0.0);
        series.read(start + Duration::from_secs(13), Some(2), 60);
        assert!(
            (series.throughput - 20.0).abs() < 1e-9,
            "{}",
            series.throughput
        );
    }

    #[test]
    fn a_stream_gets_each_kept_sample_once() {
        let sampler = Sampler::default();
        let name = ProjectionName::from_static("orders");
        let sample = |lag_events| Sample {
            at: Utc::now(),
            lag_events,
            lag_seconds: 0.0,
            throughput_per_s: 0.0,
        };
        {
            let mut inner = sampler.lock();
            let series = inner.series.entry(name.clone()).or_default();
            series.samples.extend([sample(1), sample(2)]);
            inner.taken = 2;
        }
        let (history, taken) = sampler.history();
        assert_eq!(history["orders"].len(), 2);
        assert_eq!(taken, 2);
        let (none, same) = sampler.since(taken);
        assert!(none.is_empty());
        assert_eq!(same, 2);
        {
            let mut inner = sampler.lock();
            inner
                .series
                .get_mut(&name)
                .expect("series")
                .samples
                .push_back(sample(3));
            inner.taken = 3;
        }
        let (fresh, taken) = sampler.since(2);
        assert_eq!(taken, 3);
        assert_eq!(
            fresh["orders"]
                .iter()
                .map(|s| s.lag_events)
                .collect::<Vec<_>>(),
            [3]
        );
    }
}
