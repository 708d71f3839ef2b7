//! Removing retired generations without blocking Redis.
//!
//! A swap or a drop retires a generation in the same script that changes the catalog: it
//! leaves the catalog and joins the projection's `retired` set with the time it retired. Once
//! the store's `retired_grace` has passed (reads that picked it just before the swap finish
//! meanwhile), the sweeper deletes its checkpoint (reads of it are refused from then on), then
//! `SCAN`s its prefix and `UNLINK`s what it finds, a step at a time, and takes it off the set.
//! A sweep cut short is done again by the next one: every step can be repeated.
//!
//! A catalog created anew (Redis lost the old one) retires everything under the projection's
//! tag that is not its own, in steps checked against its epoch, so a sweep never removes keys
//! of a catalog newer than the one it sweeps for.

use std::time::Duration;

use projector_core::ReadStoreError;
use redis::aio::ConnectionManager;

use crate::namespace::ProjectionKeys;
use crate::scripts::{SWEEP_STALE, integer};
use crate::store::{RedisStore, unavailable};

/// Removes the keys of the projection's generations retired longer than the grace ago;
/// returns how many keys it removed.
pub(crate) async fn sweep(
    store: &RedisStore,
    keys: &ProjectionKeys,
) -> Result<u64, ReadStoreError> {
    let mut conn = store.connection().await?;
    let (seconds, micros): (u64, u64) = redis::cmd("TIME")
        .query_async(&mut conn)
        .await
        .map_err(|e| unavailable("reading Redis's clock", e))?;
    let grace = u64::try_from(store.options().retired_grace.as_millis()).unwrap_or(u64::MAX);
    let cutoff = (seconds * 1000 + micros / 1000).saturating_sub(grace);
    let due: Vec<String> = redis::cmd("ZRANGE")
        .arg(keys.retired())
        .arg("-inf")
        .arg(cutoff)
        .arg("BYSCORE")
        .query_async(&mut conn)
        .await
        .map_err(|e| unavailable("reading the retired generations", e))?;
    let mut removed = 0;
    for member in due {
        removed += match member.strip_prefix('!') {
            Some(epoch) => sweep_stale(store, keys, epoch).await?,
            None => sweep_generation(store, keys, &member).await?,
        };
        redis::cmd("ZREM")
            .arg(keys.retired())
            .arg(&member)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| unavailable("forgetting a removed generation", e))?;
        tracing::debug!(member, "removed a retired generation's keys");
    }
    Ok(removed)
}

/// Sweeps after `delay`, in the background, if there is a runtime to run on.
pub(crate) fn spawn(store: RedisStore, keys: ProjectionKeys, delay: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        tokio::time::sleep(delay).await;
        if let Err(error) = sweep(&store, &keys).await {
            tracing::warn!(%error, "could not remove retired generations; the next sweep will");
        }
    });
}

/// Removes one retired generation's keys: its checkpoint first, then the rest.
async fn sweep_generation(
    store: &RedisStore,
    keys: &ProjectionKeys,
    member: &str,
) -> Result<u64, ReadStoreError> {
    let prefix = keys.retired_prefix(member);
    let mut conn = store.connection().await?;
    let mut removed: u64 = redis::cmd("UNLINK")
        .arg(format!("{prefix}cp"))
        .query_async(&mut conn)
        .await
        .map_err(|e| unavailable("removing a retired checkpoint", e))?;
    let mut cursor = 0;
    loop {
        let (next, found) = scan_step(&mut conn, store, &prefix, cursor).await?;
        if !found.is_empty() {
            removed += redis::cmd("UNLINK")
                .arg(&found)
                .query_async::<u64>(&mut conn)
                .await
                .map_err(|e| unavailable("removing a retired generation's keys", e))?;
        }
        if next == 0 {
            return Ok(removed);
        }
        cursor = next;
    }
}

/// Removes what a vanished catalog left under the tag, while the catalog is of `epoch`.
async fn sweep_stale(
    store: &RedisStore,
    keys: &ProjectionKeys,
    epoch: &str,
) -> Result<u64, ReadStoreError> {
    let mut conn = store.connection().await?;
    let mut removed = 0;
    let mut cursor = 0;
    loop {
        let (next, found) = scan_step(&mut conn, store, keys.tag(), cursor).await?;
        if !found.is_empty() {
            let mut invocation = SWEEP_STALE.key(keys.catalog());
            invocation.key(keys.retired());
            for key in &found {
                invocation.key(key);
            }
            invocation.arg(keys.tag()).arg(epoch);
            let count = integer(store.eval("removing leftover keys", &invocation).await?)?;
            match u64::try_from(count) {
                Ok(count) => removed += count,
                // The catalog moved on: its own sweep takes over.
                Err(_) => return Ok(removed),
            }
        }
        if next == 0 {
            return Ok(removed);
        }
        cursor = next;
    }
}

/// One `SCAN` step over the keys starting with `prefix`.
async fn scan_step(
    conn: &mut ConnectionManager,
    store: &RedisStore,
    prefix: &str,
    cursor: u64,
) -> Result<(u64, Vec<String>), ReadStoreError> {
    redis::cmd("SCAN")
        .arg(cursor)
        .arg("MATCH")
        .arg(format!("{prefix}*"))
        .arg("COUNT")
        .arg(store.options().sweep_step)
        .query_async(conn)
        .await
        .map_err(|e| unavailable("finding a retired generation's keys", e))
}
