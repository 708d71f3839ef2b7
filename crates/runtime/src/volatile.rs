//! Read models that can vanish without the projector's doing: a cache that keeps nothing on
//! disk loses every generation, catalog and checkpoint included, when it restarts or is
//! flushed. A worker notices at its next write (refused: no such generation) and reads the
//! catalog again, finding nothing and building the read model from the first event. An idle
//! worker writes nothing, so for a target that says it is volatile it looks for its serving
//! generation every [`PROBE_EVERY`] while idle.

use std::time::Duration;

use tokio::time::Instant;

use crate::lane::Lanes;
use crate::worker::{Step, Worker};

/// How often an idle worker of a volatile target looks for its serving generation.
pub(crate) const PROBE_EVERY: Duration = Duration::from_secs(1);

impl Worker {
    /// How long an idle wait may last before the next probe is due; `None` for targets whose
    /// data only the projector removes.
    pub(crate) fn until_probe(&self) -> Option<Duration> {
        self.target
            .volatile()
            .then(|| self.next_probe.saturating_duration_since(Instant::now()))
    }

    /// Checks, when a probe is due, that the serving generation is still there with the
    /// checkpoint this worker left: `Reload` when it is gone or another process rebuilt it.
    pub(crate) async fn probe(&mut self, lanes: &Lanes) -> Step {
        if !self.target.volatile() || Instant::now() < self.next_probe {
            return Step::Continue;
        }
        self.next_probe = Instant::now() + PROBE_EVERY;
        let serving = &lanes.serving;
        let found = match self.target.serving().await {
            Ok(Some((generation, _))) if generation == serving.generation => {
                self.target.checkpoint(generation).await.map(Some)
            }
            Ok(_) => Ok(None),
            Err(error) => Err(error),
        };
        match found {
            Ok(Some(checkpoint)) if checkpoint.position == serving.checkpoint.position => {
                Step::Continue
            }
            Ok(found) => {
                tracing::warn!(projection = %self.target.name(), generation = %serving.generation,
                    checkpoint = %serving.checkpoint.position, found = ?found.map(|c| c.position),
                    "the serving generation is gone from the read store, or not as this worker left it");
                Step::Reload
            }
            Err(error) if error.is_fenced() => Step::Reload,
            Err(error) => {
                // The store is away: the next probe or write tells more.
                tracing::debug!(projection = %self.target.name(), %error, "cannot look for the serving generation");
                Step::Continue
            }
        }
    }
}
