//! What a worker tells the rest of the process as it goes: its status (read by the admin API,
//! `min_position` waits and the dashboard), its metrics, and a log line per committed batch.

use projector_core::{Checkpoint, GlobalPosition, RecordedEvent};

use super::Worker;
use crate::lane::{Halt, Lane, LaneKind};
use crate::status::WorkerState;

impl Worker {
    /// Records a committed batch.
    pub(crate) fn advanced(
        &mut self,
        lane: &mut Lane,
        kind: LaneKind,
        through: Checkpoint,
        read: usize,
        handled: &[RecordedEvent],
    ) {
        let name = self.target.name();
        self.failures = 0;
        self.count(read, handled.len());
        match kind {
            LaneKind::Serving if !handled.is_empty() => {
                let count = handled.len();
                tracing::info!(projection = %name, count, through = %through.position,
                    correlation_ids = %correlation_ids(handled), "Projecting {count} changed event(s)");
            }
            LaneKind::Serving => {}
            LaneKind::Building => {
                tracing::debug!(projection = %name, generation = %lane.generation,
                    through = %through.position, "rebuild batch applied");
            }
        }
        self.moved_to(lane, kind, through);
    }

    /// Records a batch of `read` events the projection ignores, passed without writing the
    /// checkpoint (see `Lane::passed`).
    pub(crate) fn passed(&mut self, lane: &mut Lane, through: Checkpoint, read: usize) {
        self.count(read, 0);
        lane.passed = Some(through);
        self.publish_position(lane, LaneKind::Serving);
    }

    fn count(&self, read: usize, applied: usize) {
        let name = self.target.name();
        metrics::counter!("projector_projection_events_read_total", "projection" => name.to_string())
            .increment(read as u64);
        metrics::counter!("projector_projection_events_applied_total", "projection" => name.to_string())
            .increment(applied as u64);
        metrics::counter!("projector_projection_batches_total", "projection" => name.to_string())
            .increment(1);
        metrics::histogram!("projector_projection_batch_size", "projection" => name.to_string())
            .record(read as f64);
    }

    /// Takes `through` as the checkpoint the read store holds for the lane, and publishes
    /// where the lane is.
    pub(super) fn moved_to(&mut self, lane: &mut Lane, kind: LaneKind, through: Checkpoint) {
        lane.written(through);
        self.publish_position(lane, kind);
    }

    /// Publishes where `lane` is: for the serving lane, the position reads are answered at.
    fn publish_position(&self, lane: &Lane, kind: LaneKind) {
        let at = lane.position();
        match kind {
            LaneKind::Serving => {
                let head = *self.head.borrow();
                self.status.send_modify(|s| {
                    s.checkpoint = at.position;
                    s.last_event_at = at.last_event_at;
                    if at.position >= head {
                        s.pending_since = None;
                    }
                    if matches!(s.state, WorkerState::Retrying { .. }) {
                        s.state = WorkerState::CatchingUp;
                    }
                });
                self.publish_metrics(at.position);
            }
            LaneKind::Building => {
                self.status.send_modify(|s| {
                    if let Some(rebuild) = &mut s.rebuild {
                        rebuild.checkpoint = at.position;
                    }
                });
            }
        }
    }

    /// Marks the worker live (or why it is not) once its lanes have nothing left to do.
    pub(super) fn settle(&self, serving: &Lane) {
        let state = match &serving.halt {
            Some(Halt::Poison { position, error }) => WorkerState::Stopped {
                position: *position,
                error: error.clone(),
            },
            Some(Halt::Ahead { head }) => self.diverged_state(serving.checkpoint.position, *head),
            Some(Halt::OtherVersion { .. }) => WorkerState::CatchingUp,
            None => WorkerState::Live,
        };
        self.status.send_if_modified(|s| {
            let changed = s.state != state || s.pending_since.is_some();
            s.state = state;
            s.pending_since = None;
            changed
        });
    }

    pub(crate) fn set_state(&self, state: WorkerState) {
        self.status.send_if_modified(|s| {
            let changed = s.state != state;
            s.state = state;
            changed
        });
    }

    /// Publishes `serving` as the generation serving reads, with its dead letters.
    pub(crate) fn publish_serving(&self, serving: &Lane, dead_letters: u64) {
        self.status.send_modify(|s| {
            s.generation = Some(serving.generation);
            s.checkpoint = serving.checkpoint.position;
            s.last_event_at = serving.checkpoint.last_event_at;
            s.dead_letters = dead_letters;
        });
        self.publish_metrics(serving.checkpoint.position);
    }

    pub(crate) fn publish_metrics(&self, checkpoint: GlobalPosition) {
        let name = self.target.name().to_string();
        metrics::gauge!("projector_projection_checkpoint", "projection" => name)
            .set(checkpoint.get() as f64);
    }
}

/// The distinct correlation ids of a batch, for its log line (the first few of a large one).
fn correlation_ids(events: &[RecordedEvent]) -> String {
    const SHOWN: usize = 8;
    let mut ids: Vec<&str> = Vec::new();
    for id in events
        .iter()
        .filter_map(|e| e.metadata.correlation_id.as_ref())
    {
        if !ids.contains(&id.as_str()) {
            if ids.len() == SHOWN {
                ids.push("...");
                break;
            }
            ids.push(id.as_str());
        }
    }
    ids.join(",")
}
