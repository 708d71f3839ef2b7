//! A projection's catalog as read from Redis: its epoch, the serving generation with its
//! checkpoint, and the generations being built. Changes to it are scripts, run by the target.

use chrono::{DateTime, SecondsFormat, Utc};
use projector_core::{BuildingGeneration, Checkpoint, Generation, GlobalPosition, ReadStoreError};

use crate::namespace::ProjectionKeys;
use crate::scripts::{self, CATALOG, corrupt, text};
use crate::store::RedisStore;

/// A catalog that describes what is stored.
#[derive(Clone, Debug)]
pub(crate) struct Catalog {
    pub(crate) epoch: String,
    /// The highest generation number handed out.
    pub(crate) highest: u32,
    pub(crate) serving: Option<Serving>,
    /// Oldest first.
    pub(crate) building: Vec<BuildingGeneration>,
}

/// The serving generation, the version that built it and its checkpoint.
#[derive(Clone, Debug)]
pub(crate) struct Serving {
    pub(crate) epoch: String,
    pub(crate) generation: Generation,
    pub(crate) version: u32,
    pub(crate) checkpoint: Checkpoint,
}

impl Catalog {
    /// Reads the catalog of the projection `keys` belong to; `None` when there is none, or
    /// it lost its serving generation's keys (Redis lost them).
    pub(crate) async fn load(
        store: &RedisStore,
        keys: &ProjectionKeys,
    ) -> Result<Option<Self>, ReadStoreError> {
        let mut invocation = CATALOG.key(keys.catalog());
        invocation.arg(keys.tag());
        let items = scripts::array(store.eval("reading the catalog", &invocation).await?)?;
        if items.is_empty() {
            return Ok(None);
        }
        let mut items = items.into_iter().map(text);
        let mut next = || {
            items
                .next()
                .unwrap_or_else(|| Err(corrupt("a short catalog")))
        };
        let epoch = next()?;
        let highest = number(&next()?)?;
        let (serving, serving_version) = (next()?, next()?);
        let (position, at) = (next()?, next()?);
        let serving = if serving.is_empty() {
            None
        } else {
            Some(Serving {
                epoch: epoch.clone(),
                generation: Generation::new(number(&serving)?),
                version: number(&serving_version)?,
                checkpoint: decode_checkpoint(&position, &at)?,
            })
        };
        let mut building = Vec::new();
        while let Some(generation) = items.next() {
            let version = items
                .next()
                .unwrap_or_else(|| Err(corrupt("a building generation without its version")))?;
            building.push(BuildingGeneration {
                generation: Generation::new(number(&generation?)?),
                version: number(&version)?,
            });
        }
        building.sort_by_key(|b| b.generation);
        Ok(Some(Self {
            epoch,
            highest,
            serving,
            building,
        }))
    }
}

/// A generation number or version as stored.
pub(crate) fn number(text: &str) -> Result<u32, ReadStoreError> {
    text.parse()
        .map_err(|_| corrupt(format!("{text:?} where a number was expected")))
}

/// A checkpoint's position and time, as the scripts store them.
pub(crate) fn encode_checkpoint(checkpoint: Checkpoint) -> (String, String) {
    (
        checkpoint.position.get().to_string(),
        checkpoint
            .last_event_at
            .map(|at| at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            .unwrap_or_default(),
    )
}

/// A checkpoint from its stored position and time (empty: before the first event).
pub(crate) fn decode_checkpoint(position: &str, at: &str) -> Result<Checkpoint, ReadStoreError> {
    Ok(Checkpoint {
        position: decode_position(position)?,
        last_event_at: decode_time(at)?,
    })
}

pub(crate) fn decode_position(position: &str) -> Result<GlobalPosition, ReadStoreError> {
    position
        .parse()
        .map(GlobalPosition::new)
        .map_err(|_| corrupt(format!("{position:?} where a position was expected")))
}

/// A time as stored (RFC 3339), or `None` for the empty string.
pub(crate) fn decode_time(at: &str) -> Result<Option<DateTime<Utc>>, ReadStoreError> {
    if at.is_empty() {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(at)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|e| corrupt(format!("{at:?} where a time was expected: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_to_the_nanosecond() {
        let at = DateTime::from_timestamp(1_780_000_000, 123_456_789).expect("time");
        let checkpoint = Checkpoint {
            position: GlobalPosition::new(u64::MAX),
            last_event_at: Some(at),
        };
        let (position, time) = encode_checkpoint(checkpoint);
        assert_eq!(
            decode_checkpoint(&position, &time).expect("decoded"),
            checkpoint
        );
        let (position, time) = encode_checkpoint(Checkpoint::default());
        assert_eq!(
            decode_checkpoint(&position, &time).expect("decoded"),
            Checkpoint::default()
        );
    }
}
