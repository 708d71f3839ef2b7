//! Pausing a projection: an operator's pause, kept by the projector's [`ProjectionControls`]
//! so it outlives the process and passes to whichever process takes the projection over.
//!
//! A paused worker keeps its lease and its read model, which goes on serving reads, but
//! applies nothing, to the serving generation or to a rebuild's, until resumed; it then
//! carries on from its checkpoint. The worker reads the control when it becomes active and
//! again every [`CONTROL_RECHECK`], so a pause written by another process (the CLI on the
//! same database) reaches it.
//!
//! The partitions of a projection share one control, kept under the projection's own name: an
//! operator pauses the projection, and every partition, in this process or another, stops.

use std::time::Duration;

use chrono::Utc;
use projector_core::{Partition, Pause, ProjectionName};
use tokio::time::Instant;

use crate::RuntimeError;
use crate::lane::Lanes;
use crate::status::WorkerState;
use crate::worker::Worker;

/// How often a worker reads its projection's control record again.
pub(crate) const CONTROL_RECHECK: Duration = Duration::from_secs(1);

impl Worker {
    /// Reads the control record when due, and pauses or resumes as it says. A record that
    /// cannot be read leaves the worker as it was, to try again later.
    pub(crate) async fn check_controls(&mut self, lanes: &mut Lanes) {
        if Instant::now() < self.next_control_check {
            return;
        }
        self.next_control_check = Instant::now() + CONTROL_RECHECK;
        let read = self.controls.paused(&self.control_name()).await;
        self.controls_read |= read.is_ok();
        match read {
            Ok(Some(pause)) => self.pause_here(pause),
            Ok(None) if self.paused.is_some() => self.unpause(lanes),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(projection = %self.target.name(), %error, "cannot read the projection's controls")
            }
        }
    }

    /// Reads the control record at once, at the next [`check_controls`](Self::check_controls),
    /// applying nothing until it has been read.
    pub(crate) fn recheck_controls(&mut self) {
        self.next_control_check = Instant::now();
        self.controls_read = false;
    }

    /// Whether the worker must apply nothing now: paused, or not yet sure it is not.
    pub(crate) fn held(&self) -> bool {
        self.paused.is_some() || !self.controls_read
    }

    /// The name the control record is kept under: the projection's, for a partition too.
    fn control_name(&self) -> ProjectionName {
        let name = self.target.name();
        Partition::parse_worker_name(&name).map_or(name, |(base, _)| base)
    }

    /// Pauses on an operator's request; `false` when already paused.
    pub(crate) async fn pause(&mut self, by: String) -> Result<bool, RuntimeError> {
        if self.paused.is_some() {
            return Ok(false);
        }
        let pause = Pause {
            since: Utc::now(),
            by,
        };
        self.controls
            .set_paused(&self.control_name(), Some(pause.clone()))
            .await?;
        self.pause_here(pause);
        Ok(true)
    }

    /// Lifts a pause on an operator's request; `false` when not paused.
    pub(crate) async fn lift_pause(&mut self, lanes: &mut Lanes) -> Result<bool, RuntimeError> {
        if self.paused.is_none() {
            return Ok(false);
        }
        self.controls.set_paused(&self.control_name(), None).await?;
        self.unpause(lanes);
        Ok(true)
    }

    fn pause_here(&mut self, pause: Pause) {
        if self.paused.is_none() {
            tracing::info!(projection = %self.target.name(), since = %pause.since, by = %pause.by,
                "projection paused; it applies nothing until resumed");
        }
        self.paused = Some(pause.clone());
        self.status.send_if_modified(|s| {
            let changed = s.state != WorkerState::Paused || s.paused.as_ref() != Some(&pause);
            s.state = WorkerState::Paused;
            s.paused = Some(pause);
            changed
        });
    }

    fn unpause(&mut self, lanes: &mut Lanes) {
        self.paused = None;
        tracing::info!(projection = %self.target.name(), checkpoint = %lanes.serving.checkpoint.position,
            "projection resumed from its checkpoint");
        lanes.serving.rewind();
        if let Some(building) = &mut lanes.building {
            building.rewind();
        }
        self.status.send_modify(|s| {
            s.paused = None;
            s.state = WorkerState::CatchingUp;
        });
    }

    /// On a standby: publishes whether the holder's projection is paused, as the controls say.
    pub(crate) async fn follow_controls(&mut self) {
        match self.controls.paused(&self.control_name()).await {
            Ok(pause) => {
                self.status.send_if_modified(|s| {
                    let changed = s.paused != pause;
                    s.paused = pause;
                    changed
                });
            }
            Err(error) => {
                tracing::debug!(projection = %self.target.name(), %error, "cannot read the projection's controls")
            }
        }
    }
}
