//! [`RedisRead`]: reads of the generation that served a projection's reads when it was taken.

use std::collections::{BTreeMap, BTreeSet};

use projector_core::{Checkpoint, Generation, ReadStoreError};

use crate::namespace::GenerationKeys;
use crate::reads::Reader;
use crate::store::RedisStore;

/// Reads of one generation of a projection's read model: the one serving reads when the
/// handle was taken ([`RedisStore::read`], [`RedisTarget::read`](crate::RedisTarget::read)).
///
/// Every read through one handle answers from the same generation, so several reads agree
/// with each other even across a swap, and the handle names the generation and checkpoint it
/// reads, for the caller to report which read model answered and how far it had got.
///
/// A swapped-out generation stays readable for the store's `retired_grace`; a read after its
/// keys are being removed is refused with `ReadStoreError::NoGeneration` (take a new handle),
/// never answered from part of them. Keys are the names the projection wrote, without the
/// store's prefix.
#[derive(Clone, Debug)]
pub struct RedisRead {
    reader: Reader,
    generation: Generation,
    version: u32,
    checkpoint: Checkpoint,
}

impl RedisRead {
    pub(crate) fn new(
        store: RedisStore,
        projection: projector_core::ProjectionName,
        keys: GenerationKeys,
        generation: Generation,
        version: u32,
        checkpoint: Checkpoint,
    ) -> Self {
        Self {
            reader: Reader::new(store, projection, generation, keys),
            generation,
            version,
            checkpoint,
        }
    }

    /// The generation this handle reads.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The projection version that built it.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Its checkpoint when the handle was taken: every event up to it is in what this
    /// handle reads (later ones may be too).
    pub fn checkpoint(&self) -> Checkpoint {
        self.checkpoint
    }

    /// The string at `key`.
    ///
    /// # Errors
    /// `ReadStoreError::NoGeneration` once the generation is being removed,
    /// `ReadStoreError::Query` when `key` holds another type, `ReadStoreError::Unavailable`
    /// when Redis is away. The other reads fail the same ways.
    pub async fn get(&self, key: &str) -> Result<Option<String>, ReadStoreError> {
        self.reader.get(key).await
    }

    /// The strings at `keys`, in order.
    pub async fn mget(&self, keys: &[&str]) -> Result<Vec<Option<String>>, ReadStoreError> {
        self.reader.mget(keys).await
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool, ReadStoreError> {
        self.reader.exists(key).await
    }

    /// One field of the hash at `key`.
    pub async fn hget(&self, key: &str, field: &str) -> Result<Option<String>, ReadStoreError> {
        self.reader.hget(key, field).await
    }

    /// The hash at `key` (empty when there is none).
    pub async fn hgetall(&self, key: &str) -> Result<BTreeMap<String, String>, ReadStoreError> {
        self.reader.hgetall(key).await
    }

    /// The members of the set at `key`.
    pub async fn smembers(&self, key: &str) -> Result<BTreeSet<String>, ReadStoreError> {
        self.reader.smembers(key).await
    }

    /// Whether `member` is in the set at `key`.
    pub async fn sismember(&self, key: &str, member: &str) -> Result<bool, ReadStoreError> {
        self.reader.sismember(key, member).await
    }

    /// The score of `member` in the sorted set at `key`.
    pub async fn zscore(&self, key: &str, member: &str) -> Result<Option<f64>, ReadStoreError> {
        self.reader.zscore(key, member).await
    }

    /// How many members the sorted set at `key` has.
    pub async fn zcard(&self, key: &str) -> Result<u64, ReadStoreError> {
        self.reader.zcard(key).await
    }

    /// Members of the sorted set at `key` by rank, `start` to `stop` inclusive (negative
    /// counts from the end), with their scores; lowest first, or highest first when `reverse`.
    pub async fn zrange(
        &self,
        key: &str,
        start: i64,
        stop: i64,
        reverse: bool,
    ) -> Result<Vec<(String, f64)>, ReadStoreError> {
        self.reader.zrange(key, start, stop, reverse).await
    }

    /// Members of the sorted set at `key` scored within `min..=max`, lowest first, with their
    /// scores; with `limit = Some((offset, count))`, `count` of them after skipping `offset`.
    pub async fn zrange_by_score(
        &self,
        key: &str,
        min: f64,
        max: f64,
        limit: Option<(u64, u64)>,
    ) -> Result<Vec<(String, f64)>, ReadStoreError> {
        self.reader.zrange_by_score(key, min, max, limit).await
    }

    /// Members of the sorted set at `key`, all scored alike, in member order highest first:
    /// at most `count` of those below `below` (all, without it). Members that start with a
    /// sortable time (RFC 3339 in UTC, fixed width) page newest first this way.
    pub async fn zrange_by_lex_rev(
        &self,
        key: &str,
        below: Option<&str>,
        count: u64,
    ) -> Result<Vec<String>, ReadStoreError> {
        self.reader.zrange_by_lex_rev(key, below, count).await
    }
}
