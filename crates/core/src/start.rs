//! Where a new generation of a read model starts: from the first event, or only from recent
//! history for a read model that needs no more (a backfill).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::position::GlobalPosition;
use crate::store::EventFeed;

/// Where a new generation (a first build, a new version, a rebuild) starts reading the feed.
/// The events before it are never applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartFrom {
    /// From the first event.
    #[default]
    Beginning,
    /// From the event at this position (or the first after it).
    Position(GlobalPosition),
    /// From the first event recorded this long before the generation is created.
    Since(Duration),
    /// From the first event recorded at or after this time.
    Time(DateTime<Utc>),
}

impl StartFrom {
    /// The checkpoint a new generation starts at, created `now`: every event up to it is
    /// skipped. Finding it for a time reads a few events of `feed`.
    ///
    /// # Errors
    /// The event store's error.
    pub async fn checkpoint(
        self,
        feed: &dyn EventFeed,
        now: DateTime<Utc>,
    ) -> Result<GlobalPosition, StoreError> {
        match self {
            StartFrom::Beginning => Ok(GlobalPosition::ZERO),
            StartFrom::Position(position) => {
                Ok(GlobalPosition::new(position.get().saturating_sub(1)))
            }
            StartFrom::Since(age) => {
                let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
                let at = now
                    .checked_sub_signed(age)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC);
                feed.position_before(at).await
            }
            StartFrom::Time(at) => feed.position_before(at).await,
        }
    }
}
