//! The Lua scripts (in `lua/`, beside this module) and how their answers are read.
//!
//! Every change to a catalog, a checkpoint or a generation's data is one script, so it is
//! atomic: Redis runs a script to its end before any other command. A script that refuses a
//! write answers with a status naming why (`moved`, `serving_changed`, `no_generation`, ...)
//! before it has changed anything; the status is read here, never an error's text.

use std::sync::LazyLock;

use projector_core::ReadStoreError;
use redis::{Script, Value};

/// Prepends the catalog functions every catalog script shares.
macro_rules! catalog_script {
    ($file:literal) => {
        LazyLock::new(|| {
            Script::new(concat!(
                include_str!("lua/catalog_lib.lua"),
                include_str!(concat!("lua/", $file))
            ))
        })
    };
}

pub(crate) static CATALOG: LazyLock<Script> = catalog_script!("catalog.lua");
pub(crate) static CREATE: LazyLock<Script> = catalog_script!("create.lua");
pub(crate) static ACTIVATE: LazyLock<Script> = catalog_script!("activate.lua");
pub(crate) static DROP: LazyLock<Script> = catalog_script!("drop.lua");
pub(crate) static CHECKPOINT: LazyLock<Script> = catalog_script!("checkpoint.lua");
/// Prepends the catalog functions and the functions of a batch's writes.
macro_rules! writing_script {
    ($file:literal) => {
        LazyLock::new(|| {
            Script::new(concat!(
                include_str!("lua/catalog_lib.lua"),
                include_str!("lua/writes_lib.lua"),
                include_str!(concat!("lua/", $file))
            ))
        })
    };
}

pub(crate) static APPLY: LazyLock<Script> = writing_script!("apply.lua");
pub(crate) static RETRY_DEAD_LETTER: LazyLock<Script> = writing_script!("retry_dead_letter.lua");
pub(crate) static DEAD_LETTER: LazyLock<Script> = catalog_script!("dead_letter.lua");
pub(crate) static DEAD_LETTERS: LazyLock<Script> = catalog_script!("dead_letters.lua");
pub(crate) static SWEEP_STALE: LazyLock<Script> = catalog_script!("sweep_stale.lua");
pub(crate) static READ: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/read.lua")));

/// A script's answer: its status, and what follows it.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Done; the rest of the answer.
    Ok(Vec<Value>),
    /// The checkpoint is not where the caller saw it; where it is.
    Moved(String),
    /// Another generation serves (the empty string: none).
    ServingChanged(String),
    /// The generation is not in the catalog, or the catalog is not the caller's.
    NoGeneration,
    /// The generation has no dead letter at the position.
    NoDeadLetter,
    /// A generation is building already: its number, version and the catalog's epoch.
    BuildInProgress {
        generation: String,
        version: String,
        epoch: String,
    },
    /// A write Redis would refuse for the type of its key: the key, its type, the write.
    WrongType {
        key: String,
        found: String,
        write: String,
    },
}

impl Reply {
    /// Reads a script's answer.
    pub(crate) fn parse(value: Value) -> Result<Self, ReadStoreError> {
        let mut items = array(value)?.into_iter();
        let status = text(items.next().unwrap_or(Value::Nil))?;
        let mut next = || text(items.next().unwrap_or(Value::Nil));
        Ok(match status.as_str() {
            "ok" => Reply::Ok(items.collect()),
            "moved" => Reply::Moved(next()?),
            "serving_changed" => Reply::ServingChanged(next()?),
            "no_generation" => Reply::NoGeneration,
            "no_dead_letter" => Reply::NoDeadLetter,
            "build_in_progress" => Reply::BuildInProgress {
                generation: next()?,
                version: next()?,
                epoch: next()?,
            },
            "wrong_type" => Reply::WrongType {
                key: next()?,
                found: next()?,
                write: next()?,
            },
            other => return Err(corrupt(format!("a script answered {other:?}"))),
        })
    }
}

/// An answer that is not what the scripts send: Redis holds keys they did not write.
pub(crate) fn corrupt(what: impl std::fmt::Display) -> ReadStoreError {
    ReadStoreError::Unavailable {
        message: format!("unexpected data in Redis: {what}"),
        source: None,
    }
}

/// A reply's elements.
pub(crate) fn array(value: Value) -> Result<Vec<Value>, ReadStoreError> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        other => Err(corrupt(format!("{other:?} where a list was expected"))),
    }
}

/// A reply as text.
pub(crate) fn text(value: Value) -> Result<String, ReadStoreError> {
    optional_text(value)?.ok_or_else(|| corrupt("nil where text was expected"))
}

/// A reply as text, `None` for nil.
pub(crate) fn optional_text(value: Value) -> Result<Option<String>, ReadStoreError> {
    match value {
        Value::Nil => Ok(None),
        Value::BulkString(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| corrupt(format!("a value that is not UTF-8 ({e})"))),
        Value::SimpleString(text) => Ok(Some(text)),
        Value::Okay => Ok(Some("OK".to_owned())),
        Value::Int(n) => Ok(Some(n.to_string())),
        other => Err(corrupt(format!("{other:?} where text was expected"))),
    }
}

/// A reply as an integer.
pub(crate) fn integer(value: Value) -> Result<i64, ReadStoreError> {
    match value {
        Value::Int(n) => Ok(n),
        other => text(other)?
            .parse()
            .map_err(|e| corrupt(format!("not an integer: {e}"))),
    }
}

/// A flat list of pairs (`HGETALL`, `ZRANGE ... WITHSCORES`), as pairs of text.
pub(crate) fn pairs(value: Value) -> Result<Vec<(String, String)>, ReadStoreError> {
    let items = array(value)?;
    if items.len() % 2 != 0 {
        return Err(corrupt("a list of pairs with an odd length"));
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut items = items.into_iter();
    while let (Some(a), Some(b)) = (items.next(), items.next()) {
        out.push((text(a)?, text(b)?));
    }
    Ok(out)
}
