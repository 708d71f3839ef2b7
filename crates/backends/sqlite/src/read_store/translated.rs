//! SQLite's text of long portable statements, translated once per thread and then reused.
//!
//! A projection's multi-row upsert is about 10 KB of SQL run at every batch; writing its `$N`
//! placeholders as `?N` again each time cost more than hashing and binding it. Short statements
//! translate in less time than a lookup takes, so only long ones are kept.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::rc::Rc;

use projector_sql::SqlError;
use projector_sql::placeholders::numbered;

/// Statements shorter than this are translated at every call.
const SHORTEST_KEPT: usize = 1024;

/// Translations kept per thread; past it the thread starts over (statements built anew at each
/// call, not a projection's fixed few, are what would fill it).
const MOST_KEPT: usize = 256;

/// Bytes of each end of a statement that its fingerprint reads.
const FINGERPRINT_ENDS: usize = 64;

/// A portable statement and its SQLite text.
type Translation = (Box<str>, Rc<str>);

thread_local! {
    /// The translations kept, by fingerprint.
    static TRANSLATED: RefCell<HashMap<u64, Vec<Translation>>> = RefCell::default();
}

/// `sql` with its `$N` placeholders written as SQLite's `?N` (see `projector_sql::placeholders`).
///
/// # Errors
/// When `sql` holds SQLite's own `?` placeholders.
pub(crate) fn translated(sql: &str) -> Result<Rc<str>, SqlError> {
    if sql.len() < SHORTEST_KEPT {
        return Ok(numbered(sql)?.into());
    }
    let key = fingerprint(sql);
    TRANSLATED.with_borrow_mut(|kept| {
        if let Some((_, sqlite)) = kept
            .get(&key)
            .and_then(|same| same.iter().find(|(portable, _)| **portable == *sql))
        {
            return Ok(Rc::clone(sqlite));
        }
        if kept.values().map(Vec::len).sum::<usize>() >= MOST_KEPT {
            kept.clear();
        }
        let sqlite: Rc<str> = numbered(sql)?.into();
        kept.entry(key)
            .or_default()
            .push((sql.into(), Rc::clone(&sqlite)));
        Ok(sqlite)
    })
}

/// A hash of the length and both ends: statements that share all three are told apart by
/// comparing their whole text.
fn fingerprint(sql: &str) -> u64 {
    let bytes = sql.as_bytes();
    let ends = FINGERPRINT_ENDS.min(bytes.len());
    let mut hasher = DefaultHasher::new();
    bytes.len().hash(&mut hasher);
    bytes[..ends].hash(&mut hasher);
    bytes[bytes.len() - ends..].hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement long enough to be kept, with `marker` in its middle.
    fn long(marker: &str) -> String {
        let values: Vec<String> = (1..=400).map(|n| format!("${n}")).collect();
        format!(
            "INSERT INTO t VALUES ({}) -- {marker} {}\n",
            values.join(", "),
            "x".repeat(64)
        )
    }

    #[test]
    fn a_kept_translation_is_reused_and_statements_alike_at_both_ends_are_told_apart() {
        let first = long("one");
        let again = translated(&first).expect("portable");
        assert!(again.starts_with("INSERT INTO t VALUES (?1, ?2, ?3"));
        assert!(Rc::ptr_eq(&again, &translated(&first).expect("kept")));

        let second = long("two");
        assert_eq!(fingerprint(&first), fingerprint(&second));
        let other = translated(&second).expect("portable");
        assert!(other.contains("-- two"), "{other}");
        assert!(translated(&first).expect("kept").contains("-- one"));
    }

    #[test]
    fn short_statements_and_refusals_are_not_kept() {
        assert_eq!(&*translated("SELECT $1").expect("portable"), "SELECT ?1");
        let refused = format!("{} ?", long("refused"));
        assert!(translated(&refused).is_err());
        assert!(translated(&refused).is_err());
        TRANSLATED.with_borrow(|kept| {
            assert!(
                kept.values()
                    .flatten()
                    .all(|(sql, _)| sql.len() >= SHORTEST_KEPT)
            );
            assert!(
                !kept
                    .values()
                    .flatten()
                    .any(|(sql, _)| sql.contains("refused"))
            );
        });
    }
}
