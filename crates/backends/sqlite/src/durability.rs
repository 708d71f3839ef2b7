//! How hard a database file works to keep a commit: the `synchronous` setting, made explicit.
//!
//! Both modes run in WAL mode. What each promises:
//!
//! | mode | process crash | power loss / OS crash |
//! |---|---|---|
//! | [`Durability::Full`] | every acknowledged commit kept | every acknowledged commit kept |
//! | [`Durability::Normal`] | every acknowledged commit kept | the last commits may be lost; the file stays consistent |
//!
//! The event store defaults to `Full`: an acknowledged append is the system's record and must
//! survive power loss. Read stores default to `Normal`: a read model commits its checkpoint in
//! the same transaction as its rows, so whatever a power loss takes is simply projected again.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The durability of commits to one SQLite database file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// `synchronous=FULL`: the WAL is synced to disk at every commit.
    #[default]
    Full,
    /// `synchronous=NORMAL`: the WAL is synced only at checkpoints.
    Normal,
}

impl Durability {
    /// The `PRAGMA synchronous` value.
    pub fn pragma(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }

    /// The name used in configuration and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Full => "full",
            Durability::Normal => "normal",
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Durability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            other => Err(format!(
                "unknown durability {other:?}; expected full or normal"
            )),
        }
    }
}
