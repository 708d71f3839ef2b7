//! Where a read is answered from. Each source waits for the read's `min_position` in its own
//! way and says which position its answer stands at, so [`answer_from`](super::answer_from)
//! labels every answer the same way whatever it was read from.

use std::future::Future;
use std::time::Duration;

use projector_core::{GlobalPosition, ProjectionName};
use projector_redis::{RedisRead, RedisTarget};

use crate::consistency::{ReadConsistency, committed_head, reached};
use crate::error::ApiError;
use crate::state::AppState;

/// The `Read-Model` of routes that read the event store's streams, which are always current.
pub(crate) const EVENT_STORE: &str = "events";

/// What a source reached: the position its answer stands at, and what to read it through.
#[derive(Debug)]
pub(crate) struct Reached<H> {
    /// The position every event up to which the answer reflects.
    pub(crate) position: GlobalPosition,
    /// What the query reads through.
    pub(crate) handle: H,
}

/// Something a read route answers from.
pub(crate) trait ReadSource: Sync {
    /// What the query reads through: nothing for a read model read by name, the generation
    /// reached for a cache, so the answer comes from the generation the position belongs to.
    type Handle: Send;
    /// Why it cannot answer.
    type Error: Send;

    /// The name the `Read-Model` header gives.
    fn name(&self) -> &str;

    /// Waits until the source has reached the read's `min_position`.
    fn reach(
        &self,
        state: &AppState,
        consistency: ReadConsistency,
    ) -> impl Future<Output = Result<Reached<Self::Handle>, Self::Error>> + Send;
}

/// A projection's read model, read through the read store by name.
#[derive(Debug)]
pub(crate) struct ReadModel<'a>(pub(crate) &'a ProjectionName);

impl ReadSource for ReadModel<'_> {
    type Handle = ();
    type Error = ApiError;

    fn name(&self) -> &str {
        self.0.as_str()
    }

    async fn reach(
        &self,
        state: &AppState,
        consistency: ReadConsistency,
    ) -> Result<Reached<()>, ApiError> {
        let position = reached(state, self.0, consistency).await?;
        Ok(Reached {
            position,
            handle: (),
        })
    }
}

/// The event store's streams: always current, so a `min_position` needs no wait, only a
/// check that some write has reached it; the answer stands at the committed head.
#[derive(Debug)]
pub(crate) struct EventStore;

impl ReadSource for EventStore {
    type Handle = ();
    type Error = ApiError;

    fn name(&self) -> &str {
        EVENT_STORE
    }

    async fn reach(
        &self,
        state: &AppState,
        consistency: ReadConsistency,
    ) -> Result<Reached<()>, ApiError> {
        let position = committed_head(state, consistency).await?;
        Ok(Reached {
            position,
            handle: (),
        })
    }
}

/// A Redis cache of a SQL read model, which answers only when at least as fresh as the read
/// model it stands in for would: its generation has applied the read's `min_position` and
/// everything that read model has applied in this process.
pub(crate) struct Cache<'a> {
    /// The cache.
    pub(crate) target: &'a RedisTarget,
    /// Its projection.
    pub(crate) name: &'a ProjectionName,
    /// The SQL read model it stands in for.
    pub(crate) stands_in_for: &'a ProjectionName,
    /// How long to wait for it to catch up before falling back.
    pub(crate) patience: Duration,
}

/// Why a cache did not answer, so the route answers from its SQL read model instead.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Fallback {
    /// Redis cannot be read, or serves no generation.
    #[error("unavailable")]
    Unavailable,
    /// It did not catch up in time.
    #[error("behind")]
    Behind,
}

impl Fallback {
    /// The reason, as the fallback metric labels it.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Fallback::Unavailable => "unavailable",
            Fallback::Behind => "behind",
        }
    }
}

impl ReadSource for Cache<'_> {
    type Handle = RedisRead;
    type Error = Fallback;

    fn name(&self) -> &str {
        self.name.as_str()
    }

    async fn reach(
        &self,
        state: &AppState,
        consistency: ReadConsistency,
    ) -> Result<Reached<RedisRead>, Fallback> {
        let projector = state.projector();
        let sql_reached = projector
            .status(self.stands_in_for)
            .map_or(GlobalPosition::ZERO, |s| s.checkpoint);
        let floor = consistency
            .min_position()
            .map_or(sql_reached, |wanted| wanted.max(sql_reached));
        let mut read = self.read().await?;
        if read.checkpoint().position < floor {
            // A live cache trails the SQL read model by a batch or so: waiting for it a moment
            // answers a read of one's own write from the cache. On a standby this follows the
            // checkpoint the holder keeps in Redis.
            let patience = self.patience.min(consistency.wait());
            projector
                .wait_for(self.name, floor, patience)
                .await
                .map_err(|_| Fallback::Behind)?;
            // A rebuild may have swapped generations during the wait: read the one serving
            // now, and label the answer with its own checkpoint.
            read = self.read().await?;
        }
        let position = read.checkpoint().position;
        if position < floor {
            return Err(Fallback::Behind);
        }
        Ok(Reached {
            position,
            handle: read,
        })
    }
}

impl Cache<'_> {
    async fn read(&self) -> Result<RedisRead, Fallback> {
        self.target.read().await.map_err(|_| Fallback::Unavailable)
    }
}
