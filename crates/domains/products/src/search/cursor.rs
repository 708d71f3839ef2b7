//! Cursors: where the next page of a product search starts, tied to the search it came from.
//!
//! A cursor is opaque to the caller: the offset of the next hit and a fingerprint of the
//! search (its text, filters and sort), so a cursor handed to a different search is refused
//! rather than paging through something else. Pages are taken from the index as it stands when
//! each is asked for: a product changed between two pages may move across the page boundary.

use crate::search::ProductSearch;

/// The deepest a search pages: hits past it are not served (narrow the search instead).
pub const DEPTH_MAX: usize = 10_000;

/// Why a cursor was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CursorError {
    /// Not a cursor this service wrote.
    #[error("is not a cursor of a product search")]
    Malformed,
    /// A cursor of a different search (other text, filters or sort).
    #[error("belongs to a different search: page with the same q, category, prices and sort")]
    OtherSearch,
}

/// Where the next page starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    offset: usize,
    fingerprint: u64,
}

impl Cursor {
    /// The cursor of the page of `search` that starts at hit `offset`.
    pub fn at(search: &ProductSearch, offset: usize) -> Self {
        Self {
            offset,
            fingerprint: fingerprint(search),
        }
    }

    /// The hit the page starts at.
    pub fn offset(self) -> usize {
        self.offset
    }

    /// The cursor as the API hands it out.
    pub fn encode(self) -> String {
        format!("{:x}.{:016x}", self.offset, self.fingerprint)
    }

    /// Reads a cursor written by [`Cursor::encode`] for `search`.
    ///
    /// # Errors
    /// [`CursorError::Malformed`] for text no cursor reads as (or an offset past
    /// [`DEPTH_MAX`]), [`CursorError::OtherSearch`] for a cursor of another search.
    pub fn decode(text: &str, search: &ProductSearch) -> Result<Self, CursorError> {
        let (offset, print) = text.split_once('.').ok_or(CursorError::Malformed)?;
        let hex =
            |s: &str| !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex(offset) || !hex(print) {
            return Err(CursorError::Malformed);
        }
        let offset = usize::from_str_radix(offset, 16).map_err(|_| CursorError::Malformed)?;
        let print = u64::from_str_radix(print, 16).map_err(|_| CursorError::Malformed)?;
        if offset == 0 || offset > DEPTH_MAX {
            return Err(CursorError::Malformed);
        }
        if print != fingerprint(search) {
            return Err(CursorError::OtherSearch);
        }
        Ok(Self {
            offset,
            fingerprint: print,
        })
    }
}

/// A stable hash (FNV-1a, 64 bits) of what decides a search's hits and their order; the page
/// size and the cursor are left out, so pages of any size follow each other.
fn fingerprint(search: &ProductSearch) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes.iter().chain(&[0xff]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    feed(search.text.as_deref().unwrap_or("").as_bytes());
    feed(search.category.as_deref().unwrap_or("").as_bytes());
    feed(&search.min_price_cents.unwrap_or(i64::MIN).to_le_bytes());
    feed(&search.max_price_cents.unwrap_or(i64::MAX).to_le_bytes());
    feed(search.sort.as_str().as_bytes());
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::ProductSort;

    fn search(text: &str) -> ProductSearch {
        ProductSearch {
            text: Some(text.to_owned()),
            ..ProductSearch::default()
        }
    }

    #[test]
    fn a_cursor_reads_back_for_its_own_search_only() {
        let cursor = Cursor::at(&search("lamp"), 40);
        let text = cursor.encode();
        assert_eq!(Cursor::decode(&text, &search("lamp")), Ok(cursor));
        let other_size = ProductSearch {
            limit: 5,
            ..search("lamp")
        };
        assert_eq!(
            Cursor::decode(&text, &other_size).map(Cursor::offset),
            Ok(40)
        );
        assert_eq!(
            Cursor::decode(&text, &search("desk")),
            Err(CursorError::OtherSearch)
        );
        let by_price = ProductSearch {
            sort: ProductSort::PriceAscending,
            ..search("lamp")
        };
        assert_eq!(
            Cursor::decode(&text, &by_price),
            Err(CursorError::OtherSearch)
        );
    }

    #[test]
    fn text_that_is_no_cursor_is_malformed() {
        let lamp = search("lamp");
        for text in [
            "",
            ".",
            "x.1",
            "10",
            "0.1",
            "g.1",
            "1.",
            &format!("{:x}.0", DEPTH_MAX + 1),
        ] {
            assert_eq!(
                Cursor::decode(text, &lamp),
                Err(CursorError::Malformed),
                "{text:?}"
            );
        }
    }
}
