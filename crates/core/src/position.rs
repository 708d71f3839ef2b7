//! Positions in the global feed, versions of streams, and the version an append expects.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an event sits in the global feed, in commit order.
///
/// The first event ever appended is at position 1 and positions have no gaps, so
/// `GlobalPosition::ZERO` means "before the first event": the head of an empty store, or the
/// checkpoint of a projection that has applied nothing.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct GlobalPosition(u64);

impl GlobalPosition {
    /// Before the first event.
    pub const ZERO: Self = Self(0);

    /// Wraps a raw position.
    pub const fn new(position: u64) -> Self {
        Self(position)
    }

    /// The raw position.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The position right after this one.
    pub const fn next(self) -> Self {
        Self(self.0 + 1)
    }

    /// How many events lie after `self` up to and including `head` (0 when `self` is ahead).
    pub const fn distance_to(self, head: GlobalPosition) -> u64 {
        head.0.saturating_sub(self.0)
    }
}

impl fmt::Display for GlobalPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The version of a stream: how many events it holds.
///
/// The first event of a stream has version 1; a stream that does not exist has version 0, so the
/// version after an append is also the version a next append expects.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct StreamVersion(u64);

impl StreamVersion {
    /// The version of a stream that has no events.
    pub const NONE: Self = Self(0);
    /// The highest version: reading backwards from it starts at the end of the stream.
    pub const LATEST: Self = Self(u64::MAX);

    /// Wraps a raw version.
    pub const fn new(version: u64) -> Self {
        Self(version)
    }

    /// The raw version.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The version right after this one.
    pub const fn next(self) -> Self {
        Self(self.0 + 1)
    }

    /// Whether the stream has any events.
    pub const fn exists(self) -> bool {
        self.0 > 0
    }
}

impl fmt::Display for StreamVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What an append requires of its stream's current version; a mismatch writes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "version")]
pub enum ExpectedVersion {
    /// Append whatever the stream holds.
    Any,
    /// The stream must not exist yet (it has no events).
    NoStream,
    /// The stream must exist (it has at least one event).
    StreamExists,
    /// The stream must be at exactly this version; `Exact(StreamVersion::NONE)` means no stream.
    Exact(StreamVersion),
}

impl ExpectedVersion {
    /// Whether a stream at version `actual` satisfies this expectation.
    pub const fn accepts(self, actual: StreamVersion) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => !actual.exists(),
            ExpectedVersion::StreamExists => actual.exists(),
            ExpectedVersion::Exact(expected) => expected.0 == actual.0,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::StreamExists => f.write_str("an existing stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_version_accepts() {
        let none = StreamVersion::NONE;
        let three = StreamVersion::new(3);
        assert!(ExpectedVersion::Any.accepts(none));
        assert!(ExpectedVersion::Any.accepts(three));
        assert!(ExpectedVersion::NoStream.accepts(none));
        assert!(!ExpectedVersion::NoStream.accepts(three));
        assert!(!ExpectedVersion::StreamExists.accepts(none));
        assert!(ExpectedVersion::StreamExists.accepts(three));
        assert!(ExpectedVersion::Exact(three).accepts(three));
        assert!(!ExpectedVersion::Exact(three).accepts(StreamVersion::new(2)));
        assert!(ExpectedVersion::Exact(none).accepts(none));
    }

    #[test]
    fn distance() {
        assert_eq!(
            GlobalPosition::new(3).distance_to(GlobalPosition::new(10)),
            7
        );
        assert_eq!(
            GlobalPosition::new(10).distance_to(GlobalPosition::new(3)),
            0
        );
    }
}
