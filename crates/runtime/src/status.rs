//! What a worker reports about its projection, and the lag derived from it.

use chrono::{DateTime, Utc};
use projector_core::{Generation, GlobalPosition, Pause, ProjectionName};
use serde::Serialize;

/// What a projection's worker is doing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum WorkerState {
    /// Opening its read model.
    Starting,
    /// Another process holds the projection's lease; this one follows its checkpoint and
    /// takes over if it dies.
    Standby,
    /// Applying history, behind the head.
    CatchingUp,
    /// At the head, following new commits.
    Live,
    /// A transient failure: waiting to try again.
    Retrying {
        /// Failures in a row.
        attempt: u32,
        /// The last error.
        error: String,
    },
    /// Stopped at a poison event (policy `stop`), until resumed.
    Stopped {
        /// The position of the event it stopped at.
        position: GlobalPosition,
        /// Why.
        error: String,
    },
    /// Refuses to project: the read model's checkpoint is past the head of the event store
    /// (the event store lost its last commits, or was restored from an older copy), and new
    /// events reuse those positions. A rebuild mends it.
    Diverged {
        /// The read model's checkpoint.
        checkpoint: GlobalPosition,
        /// The head of the event store when it was found.
        head: GlobalPosition,
        /// What happened and how to mend it.
        error: String,
    },
    /// A newer version of the projection serves the read model, which this process's code
    /// cannot apply events to: it follows that read model's checkpoint and stays off.
    Outdated {
        /// The version that built the serving read model.
        serving_version: u32,
    },
    /// Paused by an operator: it applies nothing, and its read model serves what it has,
    /// until resumed.
    Paused,
    /// Shut down with the projector.
    ShutDown,
}

impl WorkerState {
    /// The state's name as it is serialized: `starting`, `standby`, `catching_up`, `live`,
    /// `retrying`, `stopped`, `diverged`, `outdated`, `paused` or `shut_down`.
    pub fn name(&self) -> &'static str {
        match self {
            WorkerState::Starting => "starting",
            WorkerState::Standby => "standby",
            WorkerState::CatchingUp => "catching_up",
            WorkerState::Live => "live",
            WorkerState::Retrying { .. } => "retrying",
            WorkerState::Stopped { .. } => "stopped",
            WorkerState::Diverged { .. } => "diverged",
            WorkerState::Outdated { .. } => "outdated",
            WorkerState::Paused => "paused",
            WorkerState::ShutDown => "shut_down",
        }
    }
}

/// A rebuild in progress: a new generation filling beside the serving one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RebuildStatus {
    /// The generation being built.
    pub generation: Generation,
    /// How far it has applied the feed.
    pub checkpoint: GlobalPosition,
}

/// One projection's state, published by its worker after every change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProjectionStatus {
    /// The projection.
    pub name: ProjectionName,
    /// The version of its read model's shape.
    pub version: u32,
    /// The generation serving reads, once opened.
    pub generation: Option<Generation>,
    /// What the worker is doing.
    #[serde(flatten)]
    pub state: WorkerState,
    /// Every event up to this position is applied in the serving generation.
    pub checkpoint: GlobalPosition,
    /// When the event at the checkpoint was recorded.
    pub last_event_at: Option<DateTime<Utc>>,
    /// When the oldest event not yet applied was recorded (or first seen), while behind.
    pub pending_since: Option<DateTime<Utc>>,
    /// A rebuild in progress.
    pub rebuild: Option<RebuildStatus>,
    /// Dead letters in the serving generation.
    pub dead_letters: u64,
    /// A newer version of the projection than this process runs is building its read model
    /// (elsewhere): this process keeps serving and projecting its own, and leaves that build
    /// to the newer version.
    pub newer_version: Option<u32>,
    /// The operator's pause, while the projection is paused (here, or on a standby in the
    /// process that holds it).
    pub paused: Option<Pause>,
}

impl ProjectionStatus {
    pub(crate) fn starting(name: ProjectionName, version: u32) -> Self {
        Self {
            name,
            version,
            generation: None,
            state: WorkerState::Starting,
            checkpoint: GlobalPosition::ZERO,
            last_event_at: None,
            pending_since: None,
            rebuild: None,
            dead_letters: 0,
            newer_version: None,
            paused: None,
        }
    }

    /// How far behind `head` the projection is, as of `now`.
    pub fn lag(&self, head: GlobalPosition, now: DateTime<Utc>) -> Lag {
        let events = self.checkpoint.distance_to(head);
        let seconds = match (events, self.pending_since) {
            (0, _) => 0.0,
            (_, Some(since)) => seconds_between(since, now),
            (_, None) => self
                .last_event_at
                .map_or(0.0, |at| seconds_between(at, now)),
        };
        Lag {
            head,
            checkpoint: self.checkpoint,
            events,
            seconds,
            last_applied_age_seconds: self.last_event_at.map(|at| seconds_between(at, now)),
        }
    }
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6).max(0.0)
}

/// How far a projection trails the feed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Lag {
    /// The head of the feed.
    pub head: GlobalPosition,
    /// The projection's checkpoint.
    pub checkpoint: GlobalPosition,
    /// Events committed but not yet applied.
    pub events: u64,
    /// How long the oldest unapplied event has waited; 0 when caught up.
    pub seconds: f64,
    /// The age of the last applied event.
    pub last_applied_age_seconds: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_are_the_serialized_tags() {
        for state in [
            WorkerState::Starting,
            WorkerState::Standby,
            WorkerState::CatchingUp,
            WorkerState::Live,
            WorkerState::Retrying {
                attempt: 1,
                error: "e".into(),
            },
            WorkerState::Stopped {
                position: GlobalPosition::new(3),
                error: "e".into(),
            },
            WorkerState::Diverged {
                checkpoint: GlobalPosition::new(9),
                head: GlobalPosition::new(7),
                error: "e".into(),
            },
            WorkerState::Outdated { serving_version: 2 },
            WorkerState::Paused,
            WorkerState::ShutDown,
        ] {
            let json = serde_json::to_value(&state).expect("json");
            assert_eq!(json["state"], state.name());
        }
    }

    #[test]
    fn lag_is_zero_when_caught_up_and_counts_the_wait_otherwise() {
        let now = Utc::now();
        let mut status = ProjectionStatus::starting(ProjectionName::from_static("p"), 1);
        status.checkpoint = GlobalPosition::new(10);
        status.last_event_at = Some(now - chrono::Duration::seconds(60));
        let caught_up = status.lag(GlobalPosition::new(10), now);
        assert_eq!(caught_up.events, 0);
        assert_eq!(caught_up.seconds, 0.0);
        assert_eq!(caught_up.last_applied_age_seconds, Some(60.0));

        status.pending_since = Some(now - chrono::Duration::milliseconds(1500));
        let behind = status.lag(GlobalPosition::new(15), now);
        assert_eq!(behind.events, 5);
        assert_eq!(behind.seconds, 1.5);
    }
}
