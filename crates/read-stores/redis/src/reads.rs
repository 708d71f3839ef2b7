//! Reads of one generation's data, shared by a batch (reading the generation it writes) and a
//! [`RedisRead`](crate::RedisRead) (reading the serving generation).
//!
//! Each read is one script that first checks the generation's checkpoint key is there: a
//! generation's keys are removed checkpoint first, so a read answers from the whole generation
//! or is refused with `ReadStoreError::NoGeneration`, never from half of it.

use std::collections::{BTreeMap, BTreeSet};

use projector_core::{Generation, ProjectionName, ReadStoreError};
use redis::Value;

use crate::namespace::GenerationKeys;
use crate::scripts::{self, READ, Reply, integer, optional_text, pairs};
use crate::store::RedisStore;

/// The most keys one `MGET` names, under Lua's limit on a call's arguments.
const MGET_CHUNK: usize = 1_000;

/// Reads the data of one generation.
#[derive(Clone, Debug)]
pub(crate) struct Reader {
    store: RedisStore,
    projection: ProjectionName,
    generation: Generation,
    keys: GenerationKeys,
}

impl Reader {
    pub(crate) fn new(
        store: RedisStore,
        projection: ProjectionName,
        generation: Generation,
        keys: GenerationKeys,
    ) -> Self {
        Self {
            store,
            projection,
            generation,
            keys,
        }
    }

    pub(crate) fn keys(&self) -> &GenerationKeys {
        &self.keys
    }

    /// Runs the read `command` on `keys` (names the projection gave) with `args`.
    async fn read(
        &self,
        command: &'static str,
        keys: &[&str],
        args: &[String],
    ) -> Result<Value, ReadStoreError> {
        let mut invocation = READ.key(self.keys.checkpoint());
        for key in keys {
            invocation.key(self.keys.data(key));
        }
        invocation.arg(command);
        for arg in args {
            invocation.arg(arg);
        }
        match self.store.run("reading a key", &invocation).await? {
            Reply::Ok(mut rest) => Ok(rest.pop().unwrap_or(Value::Nil)),
            Reply::NoGeneration => Err(ReadStoreError::NoGeneration {
                projection: self.projection.clone(),
                generation: self.generation.to_string(),
            }),
            other => Err(scripts::corrupt(format!("{other:?} to a read"))),
        }
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<String>, ReadStoreError> {
        optional_text(self.read("GET", &[key], &[]).await?)
    }

    pub(crate) async fn mget(&self, keys: &[&str]) -> Result<Vec<Option<String>>, ReadStoreError> {
        let mut values = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MGET_CHUNK) {
            for value in scripts::array(self.read("MGET", chunk, &[]).await?)? {
                values.push(optional_text(value)?);
            }
        }
        Ok(values)
    }

    pub(crate) async fn exists(&self, key: &str) -> Result<bool, ReadStoreError> {
        Ok(integer(self.read("EXISTS", &[key], &[]).await?)? > 0)
    }

    pub(crate) async fn hget(
        &self,
        key: &str,
        field: &str,
    ) -> Result<Option<String>, ReadStoreError> {
        optional_text(self.read("HGET", &[key], &[field.to_owned()]).await?)
    }

    pub(crate) async fn hgetall(
        &self,
        key: &str,
    ) -> Result<BTreeMap<String, String>, ReadStoreError> {
        Ok(pairs(self.read("HGETALL", &[key], &[]).await?)?
            .into_iter()
            .collect())
    }

    pub(crate) async fn smembers(&self, key: &str) -> Result<BTreeSet<String>, ReadStoreError> {
        scripts::array(self.read("SMEMBERS", &[key], &[]).await?)?
            .into_iter()
            .map(scripts::text)
            .collect()
    }

    pub(crate) async fn sismember(&self, key: &str, member: &str) -> Result<bool, ReadStoreError> {
        Ok(integer(self.read("SISMEMBER", &[key], &[member.to_owned()]).await?)? == 1)
    }

    pub(crate) async fn zscore(
        &self,
        key: &str,
        member: &str,
    ) -> Result<Option<f64>, ReadStoreError> {
        optional_text(self.read("ZSCORE", &[key], &[member.to_owned()]).await?)?
            .map(|score| parse_score(&score))
            .transpose()
    }

    pub(crate) async fn zcard(&self, key: &str) -> Result<u64, ReadStoreError> {
        let count = integer(self.read("ZCARD", &[key], &[]).await?)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Members by rank, `start` to `stop` inclusive (negative counts from the end), with
    /// their scores; lowest score first, or highest first when `reverse`.
    pub(crate) async fn zrange(
        &self,
        key: &str,
        start: i64,
        stop: i64,
        reverse: bool,
    ) -> Result<Vec<(String, f64)>, ReadStoreError> {
        let mut args = vec![start.to_string(), stop.to_string()];
        if reverse {
            args.push("REV".into());
        }
        args.push("WITHSCORES".into());
        scored(self.read("ZRANGE", &[key], &args).await?)
    }

    /// Members whose score is within `min..=max`, lowest first, with their scores; at most
    /// `limit.1` of them after skipping `limit.0`.
    pub(crate) async fn zrange_by_score(
        &self,
        key: &str,
        min: f64,
        max: f64,
        limit: Option<(u64, u64)>,
    ) -> Result<Vec<(String, f64)>, ReadStoreError> {
        let mut args = vec![score_arg(min), score_arg(max), "BYSCORE".into()];
        if let Some((offset, count)) = limit {
            args.extend(["LIMIT".into(), offset.to_string(), count.to_string()]);
        }
        args.push("WITHSCORES".into());
        scored(self.read("ZRANGE", &[key], &args).await?)
    }
}

impl Reader {
    /// Members of a sorted set whose members all share one score, in member order (bytewise),
    /// highest first: at most `count` of those below `below` (all, without it). The way to
    /// page newest first through members that start with a sortable time.
    pub(crate) async fn zrange_by_lex_rev(
        &self,
        key: &str,
        below: Option<&str>,
        count: u64,
    ) -> Result<Vec<String>, ReadStoreError> {
        let max = below.map_or_else(|| "+".to_owned(), |below| format!("({below}"));
        let args = [
            max,
            "-".to_owned(),
            "BYLEX".to_owned(),
            "REV".to_owned(),
            "LIMIT".to_owned(),
            "0".to_owned(),
            count.to_string(),
        ];
        scripts::array(self.read("ZRANGE", &[key], &args).await?)?
            .into_iter()
            .map(scripts::text)
            .collect()
    }
}

/// A score as Redis takes it: `inf` and `-inf` for the infinities.
pub(crate) fn score_arg(score: f64) -> String {
    if score == f64::INFINITY {
        "+inf".into()
    } else if score == f64::NEG_INFINITY {
        "-inf".into()
    } else {
        score.to_string()
    }
}

fn parse_score(text: &str) -> Result<f64, ReadStoreError> {
    match text {
        "inf" | "+inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        _ => text
            .parse()
            .map_err(|_| scripts::corrupt(format!("{text:?} where a score was expected"))),
    }
}

fn scored(value: Value) -> Result<Vec<(String, f64)>, ReadStoreError> {
    pairs(value)?
        .into_iter()
        .map(|(member, score)| Ok((member, parse_score(&score)?)))
        .collect()
}
