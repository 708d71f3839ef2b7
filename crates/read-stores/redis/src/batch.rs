//! [`RedisBatch`]: what a [`RedisProjection`](crate::RedisProjection) applies a batch through.
//! It reads the generation being written and buffers writes; the target then sends the writes
//! and the new checkpoint as one script, which applies them only if the checkpoint is still
//! where the batch started.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use projector_core::{ApplyError, ProjectionError, ReadStoreError};

use crate::reads::{Reader, score_arg};

/// The reads and buffered writes of one batch, against the generation it is applied to.
///
/// Reads see the generation as the batch found it, not the writes buffered before them in
/// the same batch: fold a batch's events in memory, then read each key once and write it once
/// (the crate's example does). Keys are the projection's own names; the store puts them under
/// the generation's prefix.
///
/// A failed read answers a transient [`ProjectionError`] (return it with `?`); the batch is
/// then refused with the store's error, whatever `apply` returns, and tried again.
#[derive(Debug)]
pub struct RedisBatch {
    reader: Reader,
    writes: Vec<Write>,
    /// The first read that failed for the store's sake, which decides the batch's outcome.
    failure: Mutex<Option<ReadStoreError>>,
}

/// A buffered write.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Write {
    Set {
        key: String,
        value: String,
    },
    Del {
        key: String,
    },
    HSet {
        key: String,
        field: String,
        value: String,
    },
    HDel {
        key: String,
        field: String,
    },
    ZAdd {
        key: String,
        member: String,
        score: f64,
    },
    ZRem {
        key: String,
        member: String,
    },
    SAdd {
        key: String,
        member: String,
    },
    SRem {
        key: String,
        member: String,
    },
}

impl Write {
    /// The script's name of the operation, its key, and its arguments.
    fn parts(&self) -> (&'static str, &str, Vec<String>) {
        match self {
            Write::Set { key, value } => ("set", key, vec![value.clone()]),
            Write::Del { key } => ("del", key, vec![]),
            Write::HSet { key, field, value } => ("hset", key, vec![field.clone(), value.clone()]),
            Write::HDel { key, field } => ("hdel", key, vec![field.clone()]),
            Write::ZAdd { key, member, score } => {
                ("zadd", key, vec![member.clone(), score_arg(*score)])
            }
            Write::ZRem { key, member } => ("zrem", key, vec![member.clone()]),
            Write::SAdd { key, member } => ("sadd", key, vec![member.clone()]),
            Write::SRem { key, member } => ("srem", key, vec![member.clone()]),
        }
    }
}

/// The writes of a batch as the apply script takes them: the full names of the keys written,
/// and per write its operation, the key's index in the script's keys, and its arguments.
#[derive(Debug, Default)]
pub(crate) struct EncodedWrites {
    pub(crate) keys: Vec<String>,
    pub(crate) args: Vec<String>,
}

impl RedisBatch {
    pub(crate) fn new(reader: Reader) -> Self {
        Self {
            reader,
            writes: Vec::new(),
            failure: Mutex::new(None),
        }
    }

    /// The outcome of the batch, given what the projection's `apply` returned: the store's
    /// failure during a read if there was one, else the projection's error, else the writes
    /// encoded for the apply script, whose first `first_key` keys are its own.
    pub(crate) fn finish(
        self,
        applied: Result<(), ProjectionError>,
        first_key: usize,
    ) -> Result<EncodedWrites, ApplyError> {
        let failure = self
            .failure
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(failure) = failure {
            return Err(ApplyError::Store(failure));
        }
        applied?;
        Ok(encode(&self.writes, &self.reader, first_key)?)
    }

    /// How many writes are buffered.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether no write is buffered.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Notes a failed read and turns it into the projection's error.
    fn failed(&self, error: ReadStoreError) -> ProjectionError {
        let transient = !matches!(
            error,
            ReadStoreError::Query {
                transient: false,
                ..
            }
        );
        let message = error.to_string();
        if transient {
            let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
            failure.get_or_insert(error);
        }
        ProjectionError {
            position: None,
            transient,
            message,
        }
    }

    /// The string at `key`.
    ///
    /// # Errors
    /// A transient error when Redis failed (the batch is tried again); a permanent one when
    /// `key` holds another type. The other reads fail the same ways.
    pub async fn get(&self, key: &str) -> Result<Option<String>, ProjectionError> {
        self.reader.get(key).await.map_err(|e| self.failed(e))
    }

    /// The strings at `keys`, in order.
    pub async fn mget(&self, keys: &[&str]) -> Result<Vec<Option<String>>, ProjectionError> {
        self.reader.mget(keys).await.map_err(|e| self.failed(e))
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool, ProjectionError> {
        self.reader.exists(key).await.map_err(|e| self.failed(e))
    }

    /// One field of the hash at `key`.
    pub async fn hget(&self, key: &str, field: &str) -> Result<Option<String>, ProjectionError> {
        self.reader
            .hget(key, field)
            .await
            .map_err(|e| self.failed(e))
    }

    /// The hash at `key` (empty when there is none).
    pub async fn hgetall(&self, key: &str) -> Result<BTreeMap<String, String>, ProjectionError> {
        self.reader.hgetall(key).await.map_err(|e| self.failed(e))
    }

    /// The members of the set at `key`.
    pub async fn smembers(&self, key: &str) -> Result<BTreeSet<String>, ProjectionError> {
        self.reader.smembers(key).await.map_err(|e| self.failed(e))
    }

    /// Whether `member` is in the set at `key`.
    pub async fn sismember(&self, key: &str, member: &str) -> Result<bool, ProjectionError> {
        self.reader
            .sismember(key, member)
            .await
            .map_err(|e| self.failed(e))
    }

    /// The score of `member` in the sorted set at `key`.
    pub async fn zscore(&self, key: &str, member: &str) -> Result<Option<f64>, ProjectionError> {
        self.reader
            .zscore(key, member)
            .await
            .map_err(|e| self.failed(e))
    }

    /// How many members the sorted set at `key` has.
    pub async fn zcard(&self, key: &str) -> Result<u64, ProjectionError> {
        self.reader.zcard(key).await.map_err(|e| self.failed(e))
    }

    /// Members of the sorted set at `key` by rank, with their scores (see
    /// [`RedisRead::zrange`](crate::RedisRead::zrange)).
    pub async fn zrange(
        &self,
        key: &str,
        start: i64,
        stop: i64,
        reverse: bool,
    ) -> Result<Vec<(String, f64)>, ProjectionError> {
        self.reader
            .zrange(key, start, stop, reverse)
            .await
            .map_err(|e| self.failed(e))
    }

    /// Members of the sorted set at `key` scored within `min..=max` (see
    /// [`RedisRead::zrange_by_score`](crate::RedisRead::zrange_by_score)).
    pub async fn zrange_by_score(
        &self,
        key: &str,
        min: f64,
        max: f64,
        limit: Option<(u64, u64)>,
    ) -> Result<Vec<(String, f64)>, ProjectionError> {
        self.reader
            .zrange_by_score(key, min, max, limit)
            .await
            .map_err(|e| self.failed(e))
    }

    /// Sets the string at `key`, whatever it held.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.writes.push(Write::Set {
            key: key.into(),
            value: value.into(),
        });
    }

    /// Removes `key`.
    pub fn del(&mut self, key: impl Into<String>) {
        self.writes.push(Write::Del { key: key.into() });
    }

    /// Sets one field of the hash at `key`.
    pub fn hset(
        &mut self,
        key: impl Into<String>,
        field: impl Into<String>,
        value: impl Into<String>,
    ) {
        self.writes.push(Write::HSet {
            key: key.into(),
            field: field.into(),
            value: value.into(),
        });
    }

    /// Removes one field of the hash at `key`.
    pub fn hdel(&mut self, key: impl Into<String>, field: impl Into<String>) {
        self.writes.push(Write::HDel {
            key: key.into(),
            field: field.into(),
        });
    }

    /// Adds `member` to the sorted set at `key` with `score`, or moves it there. A NaN score
    /// fails the batch as the projection's error.
    pub fn zadd(&mut self, key: impl Into<String>, member: impl Into<String>, score: f64) {
        self.writes.push(Write::ZAdd {
            key: key.into(),
            member: member.into(),
            score,
        });
    }

    /// Removes `member` from the sorted set at `key`.
    pub fn zrem(&mut self, key: impl Into<String>, member: impl Into<String>) {
        self.writes.push(Write::ZRem {
            key: key.into(),
            member: member.into(),
        });
    }

    /// Adds `member` to the set at `key`.
    pub fn sadd(&mut self, key: impl Into<String>, member: impl Into<String>) {
        self.writes.push(Write::SAdd {
            key: key.into(),
            member: member.into(),
        });
    }

    /// Removes `member` from the set at `key`.
    pub fn srem(&mut self, key: impl Into<String>, member: impl Into<String>) {
        self.writes.push(Write::SRem {
            key: key.into(),
            member: member.into(),
        });
    }
}

/// Encodes `writes` for the apply script, whose first `first_key` keys are its own.
///
/// # Errors
/// The projection's error for a write Redis cannot take (a NaN score).
fn encode(
    writes: &[Write],
    reader: &Reader,
    first_key: usize,
) -> Result<EncodedWrites, ProjectionError> {
    let mut encoded = EncodedWrites::default();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for write in writes {
        if let Write::ZAdd { key, member, score } = write
            && score.is_nan()
        {
            return Err(ProjectionError {
                position: None,
                transient: false,
                message: format!("a NaN score for {member:?} in {key:?}"),
            });
        }
        let (op, key, args) = write.parts();
        let at = *index.entry(key).or_insert_with(|| {
            encoded.keys.push(reader.keys().data(key));
            first_key + encoded.keys.len()
        });
        encoded.args.push(op.to_owned());
        encoded.args.push(at.to_string());
        encoded.args.extend(args);
    }
    Ok(encoded)
}
