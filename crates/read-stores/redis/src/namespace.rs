//! Where a store's keys live: its [`Namespace`], and the layout of every projection's keys under
//! it.
//!
//! Every key of a projection starts with its hash tag `{<namespace>:<projection>}`, so all of
//! them hash to one Redis Cluster slot and every script touches that slot only:
//!
//! ```text
//! {ns:proj}:catalog                     hash: epoch, next, serving, serving_version, b:<n> = version
//! {ns:proj}:retired                     sorted set, by when retired: <epoch>:g<n> (a generation to
//!                                       remove), !<epoch> (all but that epoch's keys: leftovers)
//! {ns:proj}:<epoch>:g<n>:cp             hash: the generation's checkpoint (position, at)
//! {ns:proj}:<epoch>:g<n>:dead           set: positions of its dead letters
//! {ns:proj}:<epoch>:g<n>:dead:<pos>     hash: one dead letter
//! {ns:proj}:<epoch>:g<n>:k:<key>        the projection's data, under the names it gave
//! ```
//!
//! The epoch is a random name a catalog gets when it is created. Keys of a catalog that
//! vanished (a restart, a flush) and was created anew never share a name with the new one's,
//! even where generation numbers repeat, so leftovers of the old can never mix into the new.

use projector_core::{Generation, GlobalPosition, ProjectionName};

/// A store's key namespace: the start of every key it writes, so several deployments (or
/// tests) can share one Redis.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Namespace(String);

/// Why a namespace was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis namespace {namespace:?}: {reason}")]
pub struct NamespaceError {
    namespace: String,
    reason: &'static str,
}

impl Namespace {
    /// The longest namespace accepted, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Parses a namespace: 1 to 64 ASCII letters, digits and `_ - . :`, starting with a letter
    /// or digit. Braces and glob characters are refused: they would break the hash tag or the
    /// patterns that find a generation's keys.
    ///
    /// # Errors
    /// A [`NamespaceError`] saying which rule the value breaks.
    pub fn parse(value: impl Into<String>) -> Result<Self, NamespaceError> {
        let namespace = value.into();
        let refuse = |reason| {
            Err(NamespaceError {
                namespace: namespace.clone(),
                reason,
            })
        };
        if namespace.is_empty() || namespace.len() > Self::MAX_LEN {
            return refuse("it must be 1 to 64 bytes long");
        }
        if !namespace.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return refuse("it must start with an ASCII letter or digit");
        }
        if !namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        {
            return refuse("it may hold only ASCII letters, digits and _ - . :");
        }
        Ok(Self(namespace))
    }

    /// The namespace as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The keys of one projection's catalog, and the prefix of its generations' keys.
#[derive(Clone, Debug)]
pub(crate) struct ProjectionKeys {
    /// `{<namespace>:<projection>}:`, the start of every key of the projection.
    tag: String,
}

impl ProjectionKeys {
    pub(crate) fn new(namespace: &Namespace, projection: &ProjectionName) -> Self {
        Self {
            tag: format!("{{{namespace}:{projection}}}:"),
        }
    }

    /// The hash tag and its colon: the start of every key of the projection.
    pub(crate) fn tag(&self) -> &str {
        &self.tag
    }

    pub(crate) fn catalog(&self) -> String {
        format!("{}catalog", self.tag)
    }

    pub(crate) fn retired(&self) -> String {
        format!("{}retired", self.tag)
    }

    /// The keys of `generation` in the catalog of `epoch`.
    pub(crate) fn generation(&self, epoch: &str, generation: Generation) -> GenerationKeys {
        GenerationKeys {
            prefix: format!("{}{epoch}:g{}:", self.tag, generation.get()),
        }
    }

    /// The prefix of the keys a retired-set member names (`<epoch>:g<n>`).
    pub(crate) fn retired_prefix(&self, member: &str) -> String {
        format!("{}{member}:", self.tag)
    }
}

/// The keys of one generation.
#[derive(Clone, Debug)]
pub(crate) struct GenerationKeys {
    prefix: String,
}

impl GenerationKeys {
    pub(crate) fn checkpoint(&self) -> String {
        format!("{}cp", self.prefix)
    }

    pub(crate) fn dead_letters(&self) -> String {
        format!("{}dead", self.prefix)
    }

    pub(crate) fn dead_letter(&self, position: GlobalPosition) -> String {
        format!("{}dead:{}", self.prefix, position.get())
    }

    /// The full name of the projection's key `key`.
    pub(crate) fn data(&self, key: &str) -> String {
        format!("{}k:{key}", self.prefix)
    }

    /// The start of every data key, to give back the names the projection used.
    pub(crate) fn data_prefix(&self) -> String {
        format!("{}k:", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_checked() {
        assert!(Namespace::parse("app-1.cache:eu").is_ok());
        for bad in ["", "{x}", "a*", "a b", "-a", &"n".repeat(65)] {
            assert!(Namespace::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn every_key_of_a_projection_shares_its_hash_tag() {
        let keys = ProjectionKeys::new(
            &Namespace::parse("app").expect("namespace"),
            &ProjectionName::from_static("totals"),
        );
        let generation = keys.generation("e1", Generation::new(3));
        for key in [
            keys.catalog(),
            keys.retired(),
            generation.checkpoint(),
            generation.dead_letters(),
            generation.dead_letter(GlobalPosition::new(7)),
            generation.data("customer:1"),
        ] {
            assert!(key.starts_with("{app:totals}:"), "{key}");
        }
        assert_eq!(generation.data("c:1"), "{app:totals}:e1:g3:k:c:1");
        assert_eq!(keys.retired_prefix("e1:g3"), "{app:totals}:e1:g3:");
    }
}
