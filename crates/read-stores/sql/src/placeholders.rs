//! The portable `$N` placeholders as SQLite's numbered `?N`.
//!
//! SQLite reads `$1` as a parameter *named* "$1", and finding a named parameter's number is a
//! linear search, so binding a statement with many of them costs the square of their count (a
//! 128-row upsert spent most of its time there). `?N` is bound by number directly. Quoted
//! strings, quoted identifiers and comments are copied as they are, and a `$` inside an
//! identifier (`a$1`, which SQLite allows) is not a placeholder.

use crate::error::{SqlError, SqlErrorKind};

/// `sql` with every `$N` placeholder written `?N`.
///
/// # Errors
/// A bare `?` placeholder, which is not of the portable form.
pub fn numbered(sql: &str) -> Result<String, SqlError> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => i = closing(bytes, i + 1, quote),
            b'[' => i = closing(bytes, i + 1, b']'),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |n| i + n + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
            }
            b'$' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                && !(i > 0 && is_identifier_byte(bytes[i - 1])) =>
            {
                out.push_str(&sql[copied..i]);
                out.push('?');
                copied = i + 1;
                i += 1;
            }
            b'?' => {
                return Err(SqlError::new(
                    SqlErrorKind::Statement,
                    "placeholders take the portable form $1, $2, ..., not ?",
                ));
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    Ok(out)
}

/// The index just past the `quote` that closes a quoted run starting at `from` (a doubled
/// quote is an escaped one and does not close it), or the end.
fn closing(bytes: &[u8], from: usize, quote: u8) -> usize {
    let mut i = from;
    while i < bytes.len() {
        if bytes[i] == quote {
            if quote != b']' && bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

fn is_identifier_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::numbered as checked;

    fn numbered(sql: &str) -> String {
        checked(sql).expect("portable placeholders")
    }

    #[test]
    fn placeholders_become_numbered_question_marks() {
        assert_eq!(
            numbered("INSERT INTO t VALUES ($1, $2), ($3,$10) -- $4\n"),
            "INSERT INTO t VALUES (?1, ?2), (?3,?10) -- $4\n"
        );
        assert_eq!(numbered("SELECT $2 + $1"), "SELECT ?2 + ?1");
    }

    #[test]
    fn strings_identifiers_and_comments_are_left_alone() {
        let sql =
            "SELECT '$1', 'it''s $2', \"col$3\", [x$4], `y$5`, a$6 /* $7 */ FROM t WHERE b = $8";
        assert_eq!(
            numbered(sql),
            "SELECT '$1', 'it''s $2', \"col$3\", [x$4], `y$5`, a$6 /* $7 */ FROM t WHERE b = ?8"
        );
    }

    #[test]
    fn unterminated_quotes_and_comments_end_the_text_without_panicking() {
        assert_eq!(numbered("SELECT 'open $1"), "SELECT 'open $1");
        assert_eq!(numbered("SELECT /* $1"), "SELECT /* $1");
        assert_eq!(numbered("SELECT $"), "SELECT $");
        assert_eq!(numbered("é$1 $1"), "é$1 ?1");
    }

    #[test]
    fn a_bare_question_mark_is_refused_but_one_in_a_string_is_not() {
        assert!(checked("SELECT * FROM t WHERE a = ?").is_err());
        assert_eq!(numbered("SELECT '?' || $1"), "SELECT '?' || ?1");
    }
}
