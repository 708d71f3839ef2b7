//! Identifiers parsed and validated at the edge: stream ids, event types, projection names and
//! the ids carried in event metadata.
//!
//! Each is a newtype over `Cow<'static, str>`, so names known at compile time (event types,
//! projection names) cost no allocation and are checked when the constant is evaluated.

use std::borrow::Cow;
use std::fmt;

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The string was empty.
    #[error("{kind} must not be empty")]
    Empty {
        /// What the string was meant to be, e.g. "stream id".
        kind: &'static str,
    },
    /// The string was longer than the limit for its kind.
    #[error("{kind} is {len} bytes long; the limit is {max}")]
    TooLong {
        /// What the string was meant to be.
        kind: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The first character is not allowed to start this kind of identifier.
    #[error("{kind} must start with {expected}")]
    BadStart {
        /// What the string was meant to be.
        kind: &'static str,
        /// A description of the characters allowed first.
        expected: &'static str,
    },
    /// A character outside the allowed set.
    #[error("{kind} contains {found:?} at byte {index}; allowed: {allowed}")]
    BadChar {
        /// What the string was meant to be.
        kind: &'static str,
        /// The character found.
        found: char,
        /// Its byte offset.
        index: usize,
        /// A description of the allowed characters.
        allowed: &'static str,
    },
}

impl IdError {
    /// What kind of identifier was refused.
    pub fn kind(&self) -> &'static str {
        match self {
            IdError::Empty { kind }
            | IdError::TooLong { kind, .. }
            | IdError::BadStart { kind, .. }
            | IdError::BadChar { kind, .. } => kind,
        }
    }
}

/// The character rules of one kind of identifier, usable in `const` context.
#[derive(Clone, Copy)]
struct Rule {
    kind: &'static str,
    max: usize,
    class: Class,
}

#[derive(Clone, Copy)]
enum Class {
    /// Letters, digits and `-_.:@+=`, starting with a letter or digit.
    Stream,
    /// Letters, digits and `_.-`, starting with a letter.
    EventType,
    /// Lowercase letters, digits and `_`, starting with a lowercase letter.
    ProjectionName,
    /// Any visible ASCII character (no spaces or control characters).
    Token,
}

impl Class {
    const fn allows_start(self, b: u8) -> bool {
        match self {
            Class::Stream => b.is_ascii_alphanumeric(),
            Class::EventType => b.is_ascii_alphabetic(),
            Class::ProjectionName => b.is_ascii_lowercase(),
            Class::Token => b.is_ascii_graphic(),
        }
    }

    const fn allows(self, b: u8) -> bool {
        match self {
            Class::Stream => {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'-' | b'_' | b'.' | b':' | b'@' | b'+' | b'=')
            }
            Class::EventType => b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'),
            Class::ProjectionName => b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_',
            Class::Token => b.is_ascii_graphic(),
        }
    }

    const fn describe_start(self) -> &'static str {
        match self {
            Class::Stream => "an ASCII letter or digit",
            Class::EventType => "an ASCII letter",
            Class::ProjectionName => "a lowercase ASCII letter",
            Class::Token => "a visible ASCII character",
        }
    }

    const fn describe(self) -> &'static str {
        match self {
            Class::Stream => "ASCII letters, digits and - _ . : @ + =",
            Class::EventType => "ASCII letters, digits and _ . -",
            Class::ProjectionName => "lowercase ASCII letters, digits and _",
            Class::Token => "visible ASCII characters (no spaces)",
        }
    }
}

/// Where a candidate breaks its rule, found without allocating so it also runs in `const` context.
#[derive(Clone, Copy)]
enum Violation {
    Empty,
    TooLong,
    BadStart,
    BadChar(usize),
}

impl Rule {
    const fn violation(self, s: &str) -> Option<Violation> {
        let bytes = s.as_bytes();
        if bytes.is_empty() {
            return Some(Violation::Empty);
        }
        if bytes.len() > self.max {
            return Some(Violation::TooLong);
        }
        if !self.class.allows_start(bytes[0]) {
            return Some(Violation::BadStart);
        }
        let mut i = 1;
        while i < bytes.len() {
            if !self.class.allows(bytes[i]) {
                return Some(Violation::BadChar(i));
            }
            i += 1;
        }
        None
    }

    fn check(self, s: &str) -> Result<(), IdError> {
        let Some(violation) = self.violation(s) else {
            return Ok(());
        };
        Err(match violation {
            Violation::Empty => IdError::Empty { kind: self.kind },
            Violation::TooLong => IdError::TooLong {
                kind: self.kind,
                len: s.len(),
                max: self.max,
            },
            Violation::BadStart => IdError::BadStart {
                kind: self.kind,
                expected: self.class.describe_start(),
            },
            Violation::BadChar(index) => IdError::BadChar {
                kind: self.kind,
                found: s[index..].chars().next().unwrap_or('?'),
                index,
                allowed: self.class.describe(),
            },
        })
    }
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $rule:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Cow<'static, str>);

        impl $name {
            const RULE: Rule = $rule;
            /// The longest accepted value, in bytes.
            pub const MAX_LEN: usize = Self::RULE.max;

            /// Parses and validates an identifier.
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                Self::RULE.check(&value)?;
                Ok(Self(Cow::Owned(value)))
            }

            /// An identifier known when the program is written.
            ///
            /// # Panics
            /// If `value` breaks the rule; in a `const` this is a compile error.
            pub const fn from_static(value: &'static str) -> Self {
                if Self::RULE.violation(value).is_some() {
                    panic!(concat!("invalid ", stringify!($name), " literal"));
                }
                Self(Cow::Borrowed(value))
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The identifier as an owned string.
            pub fn into_string(self) -> String {
                self.0.into_owned()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                Self::parse(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

identifier!(
    /// The id of an event stream, such as `order-1001`: 1 to 128 bytes of ASCII letters, digits
    /// and `- _ . : @ + =`, starting with a letter or digit, so it is safe in URLs and file names.
    StreamId,
    Rule { kind: "stream id", max: 128, class: Class::Stream }
);

identifier!(
    /// The type name of an event, such as `OrderCreated`: 1 to 128 bytes of ASCII letters,
    /// digits and `_ . -`, starting with a letter.
    EventType,
    Rule { kind: "event type", max: 128, class: Class::EventType }
);

identifier!(
    /// The name of a projection, such as `order_summary`: 1 to 48 bytes of lowercase ASCII
    /// letters, digits and `_`, starting with a letter; short and plain because backends use it in
    /// file, table and schema names.
    ProjectionName,
    Rule { kind: "projection name", max: 48, class: Class::ProjectionName }
);

identifier!(
    /// The id that ties together everything one request caused, across logs and events.
    CorrelationId,
    Rule { kind: "correlation id", max: 128, class: Class::Token }
);

identifier!(
    /// The id of the command or event that caused an event.
    CausationId,
    Rule { kind: "causation id", max: 128, class: Class::Token }
);

identifier!(
    /// The id of the user on whose behalf an event was recorded.
    UserId,
    Rule { kind: "user id", max: 128, class: Class::Token }
);

impl StreamId {
    /// The stream's category: the part before its first `-` (`order` for `order-1001`), or
    /// the whole id when it has none. Filters and event sets use it to keep domains apart.
    pub fn category(&self) -> &str {
        self.0
            .split_once('-')
            .map_or(&self.0, |(category, _)| category)
    }
}

#[cfg(test)]
mod tests;
